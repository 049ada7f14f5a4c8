"""Hostile prediction files: each is refused with a message that names the problem, and reading
it never holds more than three times the decoded-size cap (docs/formats.md, "Prediction files").

The files are built here, small on disk, and read in a fresh interpreter whose peak memory
(VmHWM) is compared with its resident size just before the read."""

from __future__ import annotations

import gzip
import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.predictions import (
    Limits,
    PredictionFileError,
    check_predictions,
    read_prediction_file,
)

REPO = Path(__file__).resolve().parents[2]
MB = 1 << 20
# Small caps, so that each file is many times over them and the tests take seconds.
LIMITS = Limits(max_bytes=32 * MB, max_rows=1_100, max_columns=8)
GOLD = pa.array([str(i) for i in range(1_000)])
GENERATION = {
    "slug": "gen",
    "type": "text-generation",
    "columns": {"id": "id", "inputs": ["text"], "label": "ref", "labels": []},
}


def gzip_repeated(head: bytes, body: bytes, times: int, tail: bytes = b"") -> bytes:
    """gzip of head + body * times + tail, in the time it takes to compress `body` once: after
    a full flush deflate starts afresh, so every further copy compresses to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(body) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(body, crc)
    size = len(head) + len(body) * times + len(tail)
    trailer = struct.pack("<LL", zlib.crc32(tail, crc), size & 0xFFFFFFFF)
    return first + segment * times + end[:-8] + trailer


def measured(
    path: Path, name: str, limits: Limits = LIMITS, spec: dict | None = None, ids: int = 1_000
):
    """(outcome, peak growth in bytes) of reading `path` (and checking it against `spec` with
    `ids` gold ids "0", "1", …) in a fresh interpreter, from what it holds after a first small
    read; the outcome is the error text, or "accepted". (VmHWM: ru_maxrss would count the
    pytest process the interpreter was started from.)"""
    code = textwrap.dedent(
        f"""
        import json
        import pyarrow as pa
        from scoring.predictions import (
            Limits, PredictionFileError, check_predictions, read_prediction_file
        )

        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

        limits = Limits(**{asdict(limits)!r})
        gold = pa.array([str(i) for i in range({ids})])
        read_prediction_file(b"id,prediction\\n0,a\\n", "warm-up.csv")  # pools, threads
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the peak starts again from what is resident now
        resident = status("VmRSS")
        try:
            table = read_prediction_file({str(path)!r}, {name!r}, limits)
            if {spec!r} is not None:
                check_predictions({spec!r}, gold, table, limits)
            outcome = "accepted"
        except PredictionFileError as exc:
            outcome = str(exc)
        peak = status("VmHWM")
        print(json.dumps({{"outcome": outcome, "growth": peak - resident}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["outcome"], result["growth"]


def assert_refused(
    path: Path, name: str, *words: str, limits: Limits = LIMITS, spec=None, ids: int = 1_000
):
    """The file is refused with every word in the message, within the documented bound: three
    times the decoded-size cap, plus 300 bytes per id."""
    outcome, growth = measured(path, name, limits, spec, ids)
    for word in words:
        assert word in outcome, outcome
    bound = 3 * limits.max_bytes + 300 * ids
    assert growth <= bound, f"{growth / MB:.0f} MB for {outcome!r}"
    return outcome, growth


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class TestCompressionBombs:
    def test_a_gzip_bomb_stops_at_the_decoded_size_cap(self, tmp_path):
        # 2 MB on disk, 2 GiB of zeros inflated.
        path = write(tmp_path, "p.csv.gz", gzip_repeated(b"id,prediction\n", bytes(MB), 2048))
        assert path.stat().st_size < 3 * MB
        assert_refused(path, "p.csv.gz", "larger than 32 MB once decompressed")

    def test_a_gzip_bomb_stops_at_the_default_cap_too(self, tmp_path):
        path = write(tmp_path, "p.csv.gz", gzip_repeated(b"id,prediction\n", bytes(MB), 2048))
        assert_refused(path, "p.csv.gz", "larger than 200 MB", limits=Limits())

    def test_a_gzipped_gigabyte_json_array_stops_at_the_cap(self, tmp_path):
        rows = b'{"id": "1", "prediction": 0},' * 4096
        data = gzip_repeated(b"[", rows, (1 << 30) // len(rows), b'{"id": "2", "prediction": 0}]')
        path = write(tmp_path, "p.json.gz", data)
        assert_refused(path, "p.json.gz", "larger than 32 MB once decompressed")

    def test_a_json_array_under_the_cap_is_still_read_within_its_own_limit(self, tmp_path):
        # Python's json holds an array as objects many times its size: arrays have a lower cap.
        rows = b'{"id": "1", "prediction": 0},' * 4096
        path = write(tmp_path, "p.json.gz", gzip_repeated(b"[", rows, 200, b"{}]"))
        assert_refused(path, "p.json.gz", "A JSON array file may be at most 3.2 MB", ".jsonl")

    def test_gzip_that_is_cut_short_is_refused(self):
        data = gzip.compress(b"id,prediction\n1,a\n")[:-6]
        with pytest.raises(PredictionFileError, match="cut short"):
            read_prediction_file(data, "p.csv.gz")

    def test_concatenated_gzip_members_are_one_file(self):
        data = gzip.compress(b"id,prediction\n1,a\n") + gzip.compress(b"2,b\n") + bytes(8)
        assert read_prediction_file(data, "p.csv.gz")["id"].to_pylist() == ["1", "2"]


class TestParquet:
    def test_a_hundred_million_rows_of_dictionary_zeros_are_refused_from_the_footer(self, tmp_path):
        column = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(10_000_000, np.int32)), pa.array(["0"])
        )
        path = tmp_path / "p.parquet"
        schema = pa.schema([("id", column.type), ("prediction", column.type)])
        with pq.ParquetWriter(path, schema, store_schema=False, write_statistics=False) as out:
            for _ in range(10):
                out.write_table(pa.table({"id": column, "prediction": column}), 10_000_000)
        assert path.stat().st_size < 2 * MB
        assert_refused(path, "p.parquet", "more than 1,100 rows")

    def test_one_long_text_referenced_by_every_row_is_counted_before_it_is_expanded(self, tmp_path):
        # 1,000 rows of one 1 MB dictionary entry: a 40 KB file that expands to 1 GB.
        text = pa.array(["x" * MB])
        table = pa.table(
            {
                "id": GOLD,
                "prediction": pa.DictionaryArray.from_arrays(
                    pa.array(np.zeros(1_000, np.int32)), text
                ),
            }
        )
        path = tmp_path / "p.parquet"
        pq.write_table(table, path, store_schema=False, compression="zstd")
        assert path.stat().st_size < MB
        assert_refused(path, "p.parquet", "larger than 32 MB once decompressed")

    def test_too_many_columns_are_refused_from_the_footer(self, tmp_path):
        path = tmp_path / "p.parquet"
        pq.write_table(pa.table({f"c{i}": [1] for i in range(5_000)}), path)
        assert_refused(path, "p.parquet", "5,000 columns", "at most 8")

    def test_a_schema_nested_past_parquets_limit_is_refused(self, tmp_path):
        type_ = pa.string()
        for _ in range(150):
            type_ = pa.list_(type_)
        path = tmp_path / "p.parquet"
        pq.write_table(pa.table({"id": ["1"], "prediction": pa.array([None], type_)}), path)
        assert_refused(path, "p.parquet", "could not be read")


class TestText:
    def test_many_one_character_rows_stop_at_the_row_cap(self, tmp_path):
        path = write(tmp_path, "p.csv", b"id,prediction\n" + b"1,\n" * (10 * MB))
        assert_refused(path, "p.csv", "more than 1,100 rows")

    def test_cr_only_rows_count_too(self, tmp_path):
        path = write(tmp_path, "p.csv", b"id,prediction\r" + b"1,a\r" * (5 * MB))
        assert_refused(path, "p.csv", "more than 1,100 rows")

    def test_json_lines_with_a_new_key_on_every_line_build_no_columns_for_them(self, tmp_path):
        # Inferred, each key would be a column as long as the file: quadratic.
        lines = b"".join(b'{"id": "%d", "prediction": 1, "k%d": 1}\n' % (i, i) for i in range(1000))
        outcome, growth = measured(write(tmp_path, "p.jsonl", lines), "p.jsonl")
        assert outcome == "accepted"
        assert growth < 3 * LIMITS.max_bytes

    def test_json_lines_nested_a_hundred_thousand_deep_are_refused_not_a_crash(self, tmp_path):
        line = b'{"id": "1", "prediction": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
        path = write(tmp_path, "p.jsonl", line)
        assert_refused(path, "p.jsonl", "Line 1 is nested too deeply")

    def test_a_long_text_prediction_is_refused_at_the_check(self, tmp_path):
        rows = "".join(f"{i},short\n" for i in range(1, 1_000))
        data = f"id,prediction\n0,{'x' * (3 * MB)}\n{rows}".encode()
        path = write(tmp_path, "p.csv", data)
        assert_refused(
            path, "p.csv", "1 prediction is longer than 20,000 characters", spec=GENERATION
        )

    def test_a_row_longer_than_a_parsing_block_is_named(self, tmp_path):
        path = write(tmp_path, "p.csv", b"id,prediction\n0," + b"x" * (20 * MB) + b"\n")
        assert_refused(path, "p.csv", "a row is longer than 4.0 MB", "or a quote is not closed")

    def test_a_wide_header_is_refused_before_parsing(self, tmp_path):
        path = write(tmp_path, "p.csv", b",".join(b"c%d" % i for i in range(100_000)) + b"\n")
        assert_refused(path, "p.csv", "longer than 65,536 bytes")


class TestIdChecks:
    def test_a_file_of_unknown_ids_up_to_the_row_cap_costs_a_bounded_amount_per_id(self, tmp_path):
        ids = 100_000
        limits = Limits(max_bytes=32 * MB, max_rows=ids + ids // 10 + 1_000)
        data = b"id,prediction\n" + b"".join(b"u%d,a\n" % i for i in range(limits.max_rows))
        path = write(tmp_path, "p.csv", data)
        spec = {
            "slug": "t",
            "type": "text-classification",
            "columns": {"id": "id", "inputs": [], "label": "l", "labels": ["a"]},
        }
        assert_refused(
            path,
            "p.csv",
            "100,000 ids of the task are missing",
            "111,000 ids in the file are not",
            limits=limits,
            spec=spec,
            ids=ids,
        )


class TestMessagesAreShort:
    def test_a_three_megabyte_bad_label_is_shown_cut(self):
        spec = {
            "slug": "t",
            "type": "text-classification",
            "columns": {"id": "id", "inputs": [], "label": "l", "labels": ["a", "b"]},
        }
        data = b"id,prediction\n1," + b"z" * (3 * MB) + b"\n"
        with pytest.raises(PredictionFileError) as caught:
            check_predictions(spec, pa.array(["1"]), read_prediction_file(data, "p.csv"))
        assert len(str(caught.value)) < 300
        assert '"zzzz' in str(caught.value)

    def test_a_million_unknown_ids_are_counted_and_a_few_shown(self):
        data = b"id,prediction\n" + b"".join(b"u%d,a\n" % i for i in range(1_000_000))
        table = read_prediction_file(io.BytesIO(data), "p.csv")
        spec = {
            "slug": "t",
            "type": "text-classification",
            "columns": {"id": "id", "inputs": [], "label": "l", "labels": ["a"]},
        }
        with pytest.raises(PredictionFileError) as caught:
            check_predictions(spec, pa.array(["1"]), table)
        assert "1,000,000 ids in the file are not ids of this task" in str(caught.value)
        assert len(str(caught.value)) < 400


def test_every_reported_shape_gets_a_message_not_an_exception():
    """The 500s of the adversarial pass, each now a PredictionFileError saying what is wrong."""
    cases = {
        ("p.csv", b"c" * 140_000 + b"\n"): "first line of the file is longer",
        ("p.csv", b"id,prediction,id\n1,a,2\n"): 'column "id" more than once',
        ("p.json", b"[" * 200_000): "nested too deeply",
        ("p.jsonl", b'{"id": "1", "prediction": "\\ud800"}\n'): "lone surrogate",
        ("p.jsonl", b'{"id": "1", "prediction": "a"}\n' * 2 + b"x" * (2 * MB)): "Line 3 is",
        ("p.jsonl", b'{"id": [1], "prediction": "a"}\n'): "strings or integers",
        ("p.jsonl", b'{"id": "1", " id": "2", "prediction": "a"}\n'): "more than once",
    }
    for (name, data), expected in cases.items():
        with pytest.raises(PredictionFileError) as caught:
            read_prediction_file(data, name)
        assert expected in str(caught.value), (name, str(caught.value))


def test_cr_only_line_endings_are_read():
    table = read_prediction_file(b"id,prediction\r1,a\r2,b\r", "p.csv")
    assert table["id"].to_pylist() == ["1", "2"]


def test_a_generation_file_longer_than_the_per_id_average_is_refused():
    rows = "".join(f"{i},{'word ' * 900}\n" for i in range(1_000))
    table = read_prediction_file(f"id,prediction\n{rows}".encode(), "p.csv")
    with pytest.raises(PredictionFileError) as caught:
        check_predictions(GENERATION, GOLD, table)
    assert "4,500,000 characters in all" in str(caught.value)
    assert "2,000 per id on average (2,000,000 for the task's 1,000 ids)" in str(caught.value)
