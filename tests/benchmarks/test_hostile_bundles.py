"""Hostile bundles: each is refused with a message that names the file or key and the limit, and
opening and loading it never holds more than about four times the decoded-size cap
(docs/formats.md, "Benchmark bundles"); through the admin's import page it is a form error and
through `import_benchmark` an exit status of 1, never a 500 or a traceback.

The bundles are built here, small on disk, and loaded in a fresh interpreter whose peak memory
(VmHWM) is compared with its resident size just before the load."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import stat
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from benchmarks.bundles import BundleError, BundleLimits, bundle_load, bundle_open
from benchmarks.models import Benchmark, Split, Task
from tests.benchmarks.test_bundle_import import bundle_spec, default_files, write_bundle
from tests.test_admin import AdminTestCase

REPO = Path(__file__).resolve().parents[2]
MB = 1 << 20
# Small caps, so that each bundle is many times over them and the tests take seconds.
LIMITS = BundleLimits(max_decoded_bytes=32 * MB, max_rows=100_000, max_columns=20, max_files=1000)
# What loading may hold on top of what the interpreter held before (docs/formats.md).
BOUND = 4 * LIMITS.max_decoded_bytes
TRAIN = "tasks[0].data.splits.train.path: 'data/train"


def measured(source: Path, limits: BundleLimits = LIMITS) -> tuple[str, int]:
    """(outcome, peak growth in bytes) of opening and loading the bundle `source` in a fresh
    interpreter, from what it holds after loading a small valid bundle; the outcome is the
    error messages, one a line, or "accepted". (VmHWM: ru_maxrss would count the pytest process
    the interpreter was started from.)"""
    warm_up = zip_bundle(source.parent / "warm-up.zip", write_bundle(source.parent / "warm-up"))
    code = textwrap.dedent(
        f"""
        import json
        from pathlib import Path
        from benchmarks.bundles import BundleError, BundleLimits, bundle_load, bundle_open

        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

        limits = BundleLimits(**{asdict(limits)!r})

        def load(path):
            with bundle_open(Path(path), limits=limits) as root:
                bundle_load(root, limits=limits)

        load({str(warm_up)!r})  # imports, pools, threads
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak starts again from what is resident now
        resident = status("VmRSS")
        try:
            load({str(source)!r})
            outcome = "accepted"
        except BundleError as exc:
            outcome = "\\n".join(exc.messages)
        print(json.dumps({{"outcome": outcome, "growth": status("VmHWM") - resident}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["outcome"], result["growth"]


def assert_refused(source: Path, *fragments: str, limits: BundleLimits = LIMITS) -> str:
    """The bundle is refused with every fragment in the messages, within the bound."""
    outcome, growth = measured(source, limits)
    for fragment in fragments:
        assert fragment in outcome, outcome
    assert growth <= 4 * limits.max_decoded_bytes, f"{growth / MB:.0f} MB for {outcome!r}"
    print(f"{source.name}: {growth / MB:.1f} MB, {outcome!r}")  # shown with pytest -s
    return outcome


# --- builders -------------------------------------------------------------------------------


def zip_bundle(out: Path, folder: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out


def spec_text(**split_paths: str) -> str:
    spec = bundle_spec()
    for split, path in split_paths.items():
        spec["tasks"][0]["data"]["splits"][split]["path"] = path
    return yaml.safe_dump(spec, sort_keys=False)


def with_train(tmp_path: Path, name: str, data: bytes) -> Path:
    """The default bundle (a folder) with its train split in `name`."""
    files = {k: v for k, v in default_files().items() if k != "data/train.jsonl"}
    return write_bundle(tmp_path / "bundle", spec_text(train=name), {**files, name: data})


def gzip_repeated(head: bytes, body: bytes, times: int) -> bytes:
    """gzip of head + body * times, in the time it takes to compress `body` once: after a full
    flush deflate starts afresh, so every further copy compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(body) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(body, crc)
    size = len(head) + len(body) * times
    return first + segment * times + end[:-8] + struct.pack("<LL", crc, size & 0xFFFFFFFF)


def declaring(archive: bytes, sizes: dict[str, int]) -> bytes:
    """The zip `archive` with the sizes its directory declares for some entries replaced (what
    zipfile trusts, and a hostile zip may claim)."""
    data = bytearray(archive)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        length = struct.unpack("<H", data[at + 28 : at + 30])[0]
        name = data[at + 46 : at + 46 + length].decode()
        if name in sizes:
            data[at + 24 : at + 28] = struct.pack("<L", sizes[name])
        at = data.find(b"PK\x01\x02", at + 46)
    return bytes(data)


# --- zips -----------------------------------------------------------------------------------


def test_a_zip_entry_declaring_a_gigabyte_is_refused_from_the_directory(tmp_path):
    folder = write_bundle(tmp_path / "bundle")
    plain = zip_bundle(tmp_path / "plain.zip", folder).read_bytes()
    source = tmp_path / "declares.zip"
    source.write_bytes(declaring(plain, {"data/train.jsonl": 1 << 30}))

    assert_refused(
        source,
        "declares.zip: entry 'data/train.jsonl' unpacks to 1,024 MB, more than the 32 MB a "
        "bundle may hold in all (MAX_BUNDLE_DECODED_MB)",
    )


def test_a_zip_bomb_of_many_entries_is_refused_before_the_zip_is_opened(tmp_path):
    source = zip_bundle(
        tmp_path / "entries.zip",
        write_bundle(tmp_path / "bundle"),
        {f"pad/{i}.txt": b"" for i in range(20_000)},
    )

    assert_refused(source, "entries.zip: holds more than 1,000 entries, the most a bundle may hold")


def test_a_zip_bomb_of_entries_that_add_up_is_refused_from_the_directory(tmp_path):
    source = zip_bundle(
        tmp_path / "sum.zip",
        write_bundle(tmp_path / "bundle"),
        {f"pad/{i}.bin": bytes(MB) for i in range(100)},
    )

    assert_refused(
        source, "sum.zip: its entries unpack to 100 MB in all, more than the 32 MB a bundle"
    )


@pytest.mark.parametrize("name", ["../x", "data/../../x", "..\\x"])
def test_a_zip_entry_that_climbs_out_is_refused(tmp_path, name):
    source = zip_bundle(tmp_path / "climb.zip", write_bundle(tmp_path / "bundle"), {name: b"x"})

    assert_refused(source, f"climb.zip: entry '{name}' would be written outside the bundle")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["/tmp/x", "\\tmp\\x", "C:/x", "C:\\x"])
def test_a_zip_entry_with_an_absolute_path_is_refused(tmp_path, name):
    source = zip_bundle(tmp_path / "abs.zip", write_bundle(tmp_path / "bundle"), {name: b"x"})

    assert_refused(source, f"abs.zip: entry '{name}' would be written outside the bundle")


def test_a_symbolic_link_entry_is_refused(tmp_path):
    source = zip_bundle(tmp_path / "link.zip", write_bundle(tmp_path / "bundle"))
    with zipfile.ZipFile(source, "a") as archive:
        link = zipfile.ZipInfo("data/dev.jsonl.link")
        link.create_system = 3  # Unix: the mode is in the high bits
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")

    assert_refused(
        source,
        "link.zip: entry 'data/dev.jsonl.link' is a symbolic link; a bundle holds plain files",
    )


def test_an_entry_compressed_with_bzip2_is_refused(tmp_path):
    # zipfile inflates bzip2 and LZMA with no bound on what one piece expands to.
    source = zip_bundle(tmp_path / "bz.zip", write_bundle(tmp_path / "bundle"))
    with zipfile.ZipFile(source, "a", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("pad.bin", bytes(MB))

    assert_refused(source, "bz.zip: entry 'pad.bin' is compressed with bzip2")


# --- data files -----------------------------------------------------------------------------


def test_a_gzip_bomb_data_file_stops_at_the_cap(tmp_path):
    line = json.dumps({"id": "x", "text": "a" * 100, "label": "positive", "topic": "f"}) + "\n"
    bomb = gzip_repeated(b"", line.encode() * 10_000, 500)  # 800 MB of rows

    source = with_train(tmp_path, "data/train.jsonl.gz", bomb)

    assert len(bomb) < 10 * MB
    assert_refused(
        source,
        f"{TRAIN}.jsonl.gz' decodes to more than the 32 MB a bundle's data may hold in all "
        "(MAX_BUNDLE_DECODED_MB)",
    )


def test_data_files_add_up_to_the_cap(tmp_path):
    text = "".join(
        json.dumps({"id": f"tr-{i}", "text": "a" * 1000, "label": "positive", "topic": "f"}) + "\n"
        for i in range(12_000)
    )  # 12 MB, three times
    files = {f"data/{s}.jsonl.gz": gzip.compress(text.replace("tr-", s).encode()) for s in "abc"}
    spec = spec_text(train="data/a.jsonl.gz", dev="data/b.jsonl.gz", test="data/c.jsonl.gz")

    source = write_bundle(tmp_path / "bundle", spec, files)

    assert_refused(
        source,
        "tasks[0].data.splits.test.path: 'data/c.jsonl.gz' decodes to more than the ",
        " MB left of the 32 MB a bundle's data may hold in all (MAX_BUNDLE_DECODED_MB)",
    )


def test_a_parquet_file_declaring_100_million_rows_is_refused_from_its_footer(tmp_path):
    table = pa.table({name: pa.nulls(100_000_000) for name in ("id", "text", "label", "topic")})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=100_000_000)

    source = with_train(tmp_path, "data/train.parquet", sink.getvalue())

    assert len(sink.getvalue()) < MB
    assert_refused(
        source,
        f"{TRAIN}.parquet' has more than 100,000 rows, the most a split may have (MAX_SPLIT_ROWS)",
    )


def test_a_parquet_dictionary_that_expands_past_the_cap_is_refused_before_it_expands(tmp_path):
    # One 100 KB text repeated in 100,000 rows: a dictionary page and a run of zeros on disk,
    # 10 GB expanded.
    text = pa.DictionaryArray.from_arrays(pa.array([0] * 100_000, pa.int32()), ["a" * 100_000])
    ids = pa.array([f"tr-{i}" for i in range(100_000)])
    table = pa.table({"id": ids, "text": text, "label": ["positive"] * 100_000, "topic": ids})
    sink = io.BytesIO()
    pq.write_table(table, sink)

    source = with_train(tmp_path, "data/train.parquet", sink.getvalue())

    assert len(sink.getvalue()) < 2 * MB
    assert_refused(source, f"{TRAIN}.parquet' decodes to more than the 32 MB")


def test_a_csv_file_of_10_million_rows_stops_past_the_row_cap(tmp_path):
    # Ten million one-character rows: 20 MB, within the decoded-size cap.
    data = b"id\n" + b"1\n" * 10_000_000

    source = with_train(tmp_path, "data/train.csv.gz", gzip.compress(data, 1))

    assert_refused(
        source,
        f"{TRAIN}.csv.gz' has more than 100,000 rows, the most a split may have (MAX_SPLIT_ROWS)",
    )


def test_a_jsonl_file_of_many_rows_stops_past_the_row_cap(tmp_path):
    data = b'{"id":"1"}\n' * 1_000_000

    source = with_train(tmp_path, "data/train.jsonl.gz", gzip.compress(data, 1))

    assert_refused(source, f"{TRAIN}.jsonl.gz' has more than 100,000 rows")


def test_a_csv_header_of_10000_columns_is_refused_before_parsing(tmp_path):
    header = ",".join(f"c{i}" for i in range(10_000))
    data = (header + "\n" + ",".join(["1"] * 10_000) + "\n") * 1

    source = with_train(tmp_path, "data/train.csv", data.encode())

    assert_refused(
        source,
        f"{TRAIN}.csv' has 10,000 columns; a split's file may have at most 20 (MAX_SPLIT_COLUMNS)",
    )


def test_jsonl_lines_with_distinct_keys_are_refused_before_pyarrow_builds_a_column_of_each(
    tmp_path,
):
    # pyarrow would build 200,000 columns of 200,000 rows each.
    data = "".join(json.dumps({"id": str(i), f"k{i}": 1}) + "\n" for i in range(200_000))

    source = with_train(tmp_path, "data/train.jsonl", data.encode())

    assert_refused(source, f"{TRAIN}.jsonl' has 21 columns; a split's file may have at most 20")


def test_a_json_line_of_empty_lists_stays_within_the_bound(tmp_path):
    # Checking a line builds its values in Python: a million empty lists take 60 MB for 3 MB
    # of text, so a line may take at most a 32nd of the decoded-size cap (1 MB here).
    n = (MB - 100) // 3
    line = b'{"id":"1","text":[' + b"[]," * n + b'[]],"label":"positive","topic":"f"}\n'

    assert_refused(
        with_train(tmp_path, "data/train.jsonl", line),
        "tasks[0].data.splits.train: input column 'text' must hold text, got list<item: list",
    )


def test_a_json_line_over_the_line_cap_is_refused_unparsed(tmp_path):
    line = b'{"id":"1","text":[' + b"[]," * MB + b'[]],"label":"positive","topic":"f"}\n'

    assert_refused(
        with_train(tmp_path, "data/train.jsonl", line),
        f"{TRAIN}.jsonl' line 1 is 3.0 MB long; a line holds one row and may be at most 1.0 MB",
    )


def test_a_deeply_nested_json_line_is_refused_without_crashing_pyarrow(tmp_path):
    # pyarrow's parser recurses per level and crashes the process past some 20,000 levels.
    deep = b'{"id":"1","text":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"

    source = with_train(tmp_path, "data/train.jsonl", deep)

    assert_refused(source, f"{TRAIN}.jsonl' line 1 is nested too deeply")


def test_json_values_nested_past_the_depth_cap_are_refused(tmp_path):
    nested = b'{"id":"1","text":"a","label":"positive","topic":' + b"[" * 100 + b"]" * 100
    source = with_train(tmp_path, "data/train.jsonl", nested + b"}\n")

    assert_refused(source, f"{TRAIN}.jsonl' nests its values more than 32 levels deep")


def test_image_paths_that_repeat_a_large_file_are_refused_before_reading_it(tmp_path):
    spec = bundle_spec()
    task = spec["tasks"][0]
    task.update(type="image-classification", slices=[])
    task["columns"].update(inputs=["image"])
    image_rows = [
        {"id": f"tr-{i}", "image": "images/big.png", "label": "positive", "topic": "f"}
        for i in range(1000)
    ]
    files = {
        **{k: [{**r, "image": "images/big.png"} for r in v] for k, v in default_files().items()},
        "data/train.jsonl": image_rows,
        "images/big.png": bytes(MB),
    }

    source = write_bundle(tmp_path / "bundle", spec, files)

    assert_refused(
        source,
        "tasks[0].data.splits.train: image column 'image' names 1,000 MB of files, more than",
    )


def test_image_paths_that_cannot_be_files_are_reported_as_missing(tmp_path):
    spec = bundle_spec()
    spec["tasks"][0].update(type="image-classification", slices=[])
    spec["tasks"][0]["columns"].update(inputs=["image"])
    files = {k: [{**r, "image": "a\x00b.png"} for r in v] for k, v in default_files().items()}
    files["data/dev.jsonl"] = [
        {**r, "image": "x" * 5000} for r in default_files()["data/dev.jsonl"]
    ]

    folder = write_bundle(tmp_path / "bundle", spec, files)
    with bundle_open(folder) as root, pytest.raises(BundleError) as caught:
        bundle_load(root, limits=LIMITS)

    messages = "\n".join(caught.value.messages)
    assert "tasks[0].data.splits.train: 20 image paths in column 'image' are not files" in messages
    assert "tasks[0].data.splits.dev: 10 image paths in column 'image' are not files" in messages


# --- benchmark.yaml -------------------------------------------------------------------------


def test_a_benchmark_yaml_that_links_outside_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(yaml.safe_dump(bundle_spec()))
    folder = write_bundle(tmp_path / "bundle")
    (folder / "benchmark.yaml").unlink()
    (folder / "benchmark.yaml").symlink_to(outside)

    refused = pytest.raises(BundleError, match="benchmark.yaml links outside the bundle folder")
    with refused, bundle_open(folder):
        pass


def test_a_billion_laughs_benchmark_yaml_is_refused(tmp_path):
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    spec = "\n".join(lines) + "\nslug: lol\ntitle: *i\ntasks: []\n"

    source = write_bundle(tmp_path / "bundle", spec, files={})

    assert_refused(
        source,
        "benchmark.yaml line 6, column 8: more than 100,000 values once its aliases (*name) are "
        "expanded",
    )


def test_a_benchmark_yaml_alias_inside_its_own_node_is_refused(tmp_path):
    source = write_bundle(tmp_path / "bundle", "slug: x\ntitle: &t [*t]\ntasks: []\n", files={})

    assert_refused(source, "benchmark.yaml line 2, column 12: alias *t is inside the node")


def test_a_deeply_nested_benchmark_yaml_is_refused(tmp_path):
    spec = "slug: x\ntitle: " + "[" * 100_000 + "]" * 100_000 + "\n"

    source = write_bundle(tmp_path / "bundle", spec, files={})

    assert_refused(source, "benchmark.yaml line 2, column 39: nested more than 32 levels deep")


def test_a_100_mb_benchmark_yaml_is_refused_unread(tmp_path):
    source = write_bundle(tmp_path / "bundle", "", files={})
    with open(source / "benchmark.yaml", "wb") as f:
        f.truncate(100 * MB)  # sparse: nothing written

    assert_refused(source, "benchmark.yaml: larger than 1.0 MB")


def test_a_large_yaml_list_is_checked_in_linear_time(tmp_path):
    # Label names are checked for duplicates; a hundred thousand must not take their square.
    spec = bundle_spec()
    spec["tasks"][0]["columns"]["labels"] = [f"l{i}" for i in range(60_000)] + ["l0"]
    source = write_bundle(tmp_path / "bundle", spec)

    outcome = assert_refused(source, "tasks[0].columns.labels: label names listed twice: l0")
    assert len(outcome) < 10_000


def test_a_huge_benchmark_yaml_value_in_the_zip_is_refused(tmp_path):
    # Within every zip limit, over the spec's.
    folder = write_bundle(tmp_path / "bundle")
    text = (folder / "benchmark.yaml").read_text() + "# " + "x" * (4 * MB) + "\n"
    (folder / "benchmark.yaml").write_text(text)

    assert_refused(zip_bundle(tmp_path / "yaml.zip", folder), "benchmark.yaml: larger than")


# --- how they reach the platform ----------------------------------------------------------


@override_settings(MAX_BUNDLE_DECODED_MB=32)
class HostileBundleAdminTests(AdminTestCase):
    url_name = "admin:benchmarks_benchmark_import"

    def post(self, data: bytes, name: str = "hostile.zip"):
        self.client.force_login(self.author)
        return self.client.post(reverse(self.url_name), {"bundle": SimpleUploadedFile(name, data)})

    def hostile_zip(self) -> bytes:
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            archive.writestr("benchmark.yaml", spec_text())
            for name, content in default_files().items():
                archive.writestr(name, "".join(json.dumps(r) + "\n" for r in content))
        return declaring(sink.getvalue(), {"data/train.jsonl": 1 << 30})

    def test_a_hostile_zip_is_a_form_error_and_creates_nothing(self):
        before = (Benchmark.objects.count(), Task.objects.count(), Split.objects.count())

        response = self.post(self.hostile_zip())

        self.assertContains(response, "The bundle has 1 problem")
        self.assertContains(
            response, "hostile.zip: entry &#x27;data/train.jsonl&#x27; unpacks to 1,024 MB"
        )
        self.assertEqual(
            (Benchmark.objects.count(), Task.objects.count(), Split.objects.count()), before
        )

    def test_a_billion_laughs_update_is_a_form_error(self):
        # With update, the slug is read before the import: that read has the same limits.
        laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        )
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            archive.writestr("benchmark.yaml", laughs)
        self.client.force_login(self.author)

        response = self.client.post(
            reverse(self.url_name),
            {"bundle": SimpleUploadedFile("lol.zip", sink.getvalue()), "update": "on"},
        )

        self.assertContains(response, "once its aliases (*name) are expanded")

    @override_settings(MAX_BUNDLE_MB=1)
    def test_an_upload_over_the_size_cap_is_a_form_error(self):
        response = self.post(bytes(2 * MB))

        self.assertContains(response, "an uploaded bundle may be at most 1 MB (MAX_BUNDLE_MB)")
        self.assertFalse(Benchmark.objects.filter(slug="mini").exists())


@pytest.mark.django_db
def test_import_benchmark_prints_the_problems_and_exits_with_1(tmp_path, settings):
    settings.MAX_BUNDLE_FILES = 100
    source = zip_bundle(
        tmp_path / "many.zip",
        write_bundle(tmp_path / "bundle"),
        {f"pad/{i}": b"" for i in range(200)},
    )
    err = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("import_benchmark", str(source), stdout=io.StringIO(), stderr=err)

    assert caught.value.returncode == 1
    assert "many.zip: holds more than 100 entries" in err.getvalue()


def test_bundle_load_and_open_take_the_caps_from_the_settings(tmp_path, settings):
    settings.MAX_SPLIT_ROWS = 5
    folder = write_bundle(tmp_path / "bundle")
    with bundle_open(folder) as root, pytest.raises(BundleError) as caught:
        bundle_load(root)
    assert any("has more than 5 rows" in m for m in caught.value.messages)


def test_a_csv_bundle_within_the_caps_loads(tmp_path):
    rows_ = [{"id": f"tr-{i}", "text": "t", "label": "positive", "topic": "f"} for i in range(9)]
    sink = io.StringIO()
    writer = csv.DictWriter(sink, fieldnames=list(rows_[0]))
    writer.writeheader()
    writer.writerows(rows_)

    outcome, _ = measured(with_train(tmp_path, "data/train.csv", sink.getvalue().encode()))

    assert outcome == "accepted"
