"""Fuzzing what reads a bundle before anything is imported: the YAML parser and the spec
checks, and the zip opener. Whatever the input, the outcome is a value or a BundleError with
messages, within a deadline: never another exception (a 500 on the admin's import page)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import stat
import tempfile
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bundles import BundleError, BundleLimits, bundle_open, spec_read, spec_validate
from benchmarks.bundles.yamltext import yaml_parse
from tests.benchmarks.test_bundle_import import bundle_spec, default_files, write_bundle

LIMITS = BundleLimits(max_decoded_bytes=1 << 20, max_rows=50, max_columns=8, max_files=20)
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=10),  # generous: CI machines are shared
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def outcome(check, *args, **kwargs):
    """What `check` gives, or the BundleError's messages: any other exception fails the test."""
    try:
        return check(*args, **kwargs)
    except BundleError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)
        return exc.messages


# --- benchmark.yaml -------------------------------------------------------------------------

YAML_PIECES = [
    "slug", "title", "tasks", "type", "data", "splits", "path", "role", "columns", "labels",
    "metrics", "slices", "name", "bins", "pattern", "hub", "repo_id", ":", ": ", " ", "  ", "\n",
    "- ", "-", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b", "<<: ", "!!set ", "!!binary ",
    "!!str ", "!!int ", "!!float ", "!!timestamp ", "!!python/name:os.system ", "!!omap ",
    "!!pairs ", "? ", "|", ">", "'", '"', "#", "~", "null", "yes", "no", "on", ".inf", ".nan",
    "0x1F", "0o17", "1_000", "1:20:30", "1e999", "-0", "2024-13-45", "2024-02-30T25:61:00Z",
    "9999-12-31", "0000-01-01", "1" * 5000, "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n",
    "...\n", "\t", "\x00", "\x85", "\ufeff", "é", "\\", "\\u", "data/train.jsonl", "../x",
    "/etc/passwd", "text-classification", "hidden", "accuracy",
]  # fmt: skip

yaml_texts = st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join) | st.text(
    max_size=200
)


@FUZZ
@given(yaml_texts)
def test_any_yaml_text_parses_and_validates_or_is_a_bundle_error(text):
    parsed = outcome(yaml_parse, text)
    if not isinstance(parsed, list) or not all(isinstance(m, str) for m in parsed):
        with tempfile.TemporaryDirectory() as tmp:
            outcome(spec_validate, parsed, root=Path(tmp))


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.binary(max_size=4)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b.csv",
            "x" * 5000 + ".csv",
            "../x.csv",
            "/etc/passwd",
            "C:\\x.csv",
            "data/train.jsonl",
            "data",
            ".",
            "train",
            "hidden",
            "accuracy",
            "f1",
            "macro",
            "binary",
            "text-classification",
            "regression",
            "token-classification",
            "label",
            "text",
            "topic",
            "positive",
            "(",
            "words",
            "value",
        ]
    )
)
keys = scalars.filter(lambda k: not isinstance(k, float) or k == k)  # YAML keys are hashable
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(keys, inner, max_size=4)
        | st.sets(st.text(max_size=3), max_size=3)
    ),
    max_leaves=12,
)


def paths_of(value, prefix=()):
    """Every path (keys and indices) into a nested spec."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths_of(item, (*prefix, i))


SPEC_PATHS = list(paths_of(bundle_spec()))[1:]


@st.composite
def mutated_specs(draw):
    """The valid test spec with a few of its values (or new keys) replaced by anything."""
    spec = copy.deepcopy(bundle_spec())
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(SPEC_PATHS))
        parent = spec
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent[draw(keys)] = draw(values)
            else:
                parent[path[-1]] = draw(values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement took this path away
    return spec


@FUZZ
@given(mutated_specs())
def test_any_spec_validates_or_is_a_bundle_error(spec):
    with tempfile.TemporaryDirectory() as tmp:
        root = write_bundle(Path(tmp) / "b")
        outcome(spec_validate, spec, root=root)
        outcome(spec_validate, spec)


split_paths = st.text(max_size=20) | st.builds(
    "".join,
    st.lists(
        st.sampled_from(["data/", "../", "/", "\\", "a" * 300, "x", ".", "\x00", ".csv", ".gz"]),
        max_size=20,
    ),
)


@FUZZ
@given(split_paths, st.sampled_from(["train", "dev", "test"]))
def test_any_split_path_validates_or_is_a_bundle_error(path, split):
    spec = bundle_spec()
    spec["tasks"][0]["data"]["splits"][split]["path"] = path
    with tempfile.TemporaryDirectory() as tmp:
        outcome(spec_validate, spec, root=write_bundle(Path(tmp) / "b"))


@FUZZ
@given(st.recursive(values, lambda inner: st.lists(inner, max_size=3), max_leaves=20))
def test_any_value_as_the_whole_spec_is_a_bundle_error(raw):
    outcome(spec_validate, raw)


@FUZZ
@given(mutated_specs())
def test_a_spec_dumped_as_yaml_reads_back_or_is_a_bundle_error(spec):
    try:
        text = yaml.safe_dump(spec, allow_unicode=True)
    except yaml.YAMLError:
        return  # frozensets and the like have no safe YAML form
    with tempfile.TemporaryDirectory() as tmp:
        root = write_bundle(Path(tmp) / "b", text)
        parsed = outcome(spec_read, root)
        outcome(spec_validate, parsed, root=root)


# --- zips -----------------------------------------------------------------------------------


def valid_zip() -> bytes:
    sink = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_bundle(Path(tmp) / "b")
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
    return sink.getvalue()


VALID_ZIP = valid_zip()


def open_zip(data: bytes) -> None:
    """Open (unpack) the zip and read its benchmark.yaml, as an import would."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "fuzz.zip"
        source.write_bytes(data)
        with bundle_open(source, limits=LIMITS) as root:
            outcome(spec_read, root)


@st.composite
def damaged_zips(draw):
    data = bytearray(VALID_ZIP)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert"]))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
            if not data:
                data = bytearray(b"PK")
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@FUZZ
@given(damaged_zips())
def test_a_damaged_zip_opens_or_is_a_bundle_error(data):
    outcome(open_zip, data)


entry_names = st.sampled_from(
    [
        "benchmark.yaml",
        "b/benchmark.yaml",
        "data/train.jsonl",
        "data/",
        "data",
        "../x",
        "a/../../x",
        "/abs",
        "\\abs",
        "C:x",
        "..\\x",
        "./benchmark.yaml",
        "a//b",
        "a/./b",
        ".",
        "./",
        "__MACOSX/x",
        ".DS_Store",
        "x" * 300,
        "a/" * 200 + "x",
        "é/ü",
    ]
) | st.text(min_size=1, max_size=12)
entries = st.lists(
    st.tuples(
        entry_names,
        st.binary(max_size=64) | st.sampled_from([b"slug: x\ntitle: y\ntasks: []\n", b""]),
        st.sampled_from(
            [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
        ),
        st.sampled_from(
            [0, stat.S_IFREG | 0o644, stat.S_IFDIR | 0o755, stat.S_IFLNK | 0o777, stat.S_IFIFO]
        )
        | st.integers(0, 0xFFFF),
        st.integers(0, 1 << 40) | st.none(),
    ),
    max_size=8,
)


def built_zip(members) -> bytes:
    """A zip of `members` (name, data, method, mode, declared size or None)."""
    sink = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(sink, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of the fuzzing
        for name, data, method, mode, _ in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            info.create_system = 3
            info.external_attr = mode << 16
            archive.writestr(info, data)
    out = bytearray(sink.getvalue())
    at, i = out.find(b"PK\x01\x02"), 0
    while at >= 0 and i < len(members):
        declared = members[i][4]
        if declared is not None:
            out[at + 24 : at + 28] = (declared & 0xFFFFFFFF).to_bytes(4, "little")
        at, i = out.find(b"PK\x01\x02", at + 4), i + 1
    return bytes(out)


@FUZZ
@given(entries)
def test_a_zip_of_any_entries_opens_or_is_a_bundle_error(members):
    outcome(open_zip, built_zip(members))


@FUZZ
@given(st.binary(max_size=512))
def test_any_bytes_as_a_zip_open_or_are_a_bundle_error(data):
    outcome(open_zip, b"PK\x03\x04" + data)
    outcome(open_zip, data + VALID_ZIP[-22:])


def test_the_fuzzed_valid_zip_opens():
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "ok.zip"
        source.write_bytes(VALID_ZIP)
        with bundle_open(source, limits=LIMITS) as root:
            assert spec_read(root)["slug"] == "mini"
            assert sorted(p.name for p in (root / "data").iterdir()) == sorted(
                Path(n).name for n in default_files()
            )
