"""Fuzzing the prediction-file reader and checks: whatever the bytes, the outcome is a table or
a PredictionFileError with sentences, within a deadline, for every format and task type."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scoring.predictions import (
    Limits,
    PredictionFileError,
    check_predictions,
    read_prediction_file,
)

LIMITS = Limits(max_bytes=1 << 20, max_rows=50, max_columns=8)
NAMES = ["p.csv", "p.jsonl", "p.json", "p.parquet", "p.csv.gz", "p.jsonl.gz", "p.parquet.gz"]
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=10),  # generous: CI machines are shared
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def spec(type_: str, labels=("neg", "pos")) -> dict:
    return {
        "slug": "t",
        "type": type_,
        "columns": {"id": "id", "inputs": ["text"], "label": "label", "labels": list(labels)},
    }


SPECS = [
    spec("text-classification"),
    spec("token-classification", ("O", "B-PER")),
    spec("question-answering", ()),
    spec("text-generation", ()),
    spec("regression", ()),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["\ud800", "pos", "neg", "O", "1", "  2 ", "", '["O"]', "1e999"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)
keys = st.sampled_from(["id", "prediction", "task", " id", "prediction ", "x"]) | st.text(
    max_size=4
)
rows = st.lists(st.dictionaries(keys, values, max_size=5), max_size=8)


def as_csv(table_rows: list[dict]) -> bytes:
    names = sorted({key for row in table_rows for key in row})
    sink = io.StringIO()
    writer = csv.writer(sink)
    writer.writerow(names)
    for row in table_rows:
        writer.writerow(
            [
                json.dumps(row.get(n)) if not isinstance(row.get(n), str) else row.get(n)
                for n in names
            ]
        )
    return sink.getvalue().encode("utf-8", "surrogatepass")


def as_parquet(table_rows: list[dict]) -> bytes:
    try:
        table = pa.Table.from_pylist(table_rows)
        sink = io.BytesIO()
        pq.write_table(table, sink)
    except (pa.ArrowException, TypeError, ValueError, OverflowError, UnicodeEncodeError):
        assume(False)
    return sink.getvalue()


def encoded(table_rows: list[dict], name: str) -> bytes:
    if ".csv" in name:
        return as_csv(table_rows)
    if ".parquet" in name:
        return as_parquet(table_rows)
    if ".jsonl" in name:
        return "".join(json.dumps(row) + "\n" for row in table_rows).encode()
    return json.dumps(table_rows).encode()


def damaged(data: bytes, edits: list[tuple[float, int]], cut: float | None) -> bytes:
    out = bytearray(data)
    for where, value in edits:
        if out:
            out[min(int(where * len(out)), len(out) - 1)] = value
    return bytes(out if cut is None else out[: int(cut * len(out))])


def read_and_check(data: bytes, name: str) -> None:
    """The property: a table or a PredictionFileError (with sentences), for every task type."""
    try:
        table = read_prediction_file(data, name, LIMITS)
    except PredictionFileError as exc:
        assert exc.messages and all(isinstance(m, str) and m.strip() for m in exc.messages)
        return
    assert {"id", "prediction"} <= set(table.column_names)
    gold = pa.array(sorted(set(table["id"].to_pylist()) | {"extra"}), pa.string())
    for task_spec in SPECS:
        try:
            checked = check_predictions(task_spec, gold, table, LIMITS)
        except PredictionFileError as exc:
            assert exc.messages and all(m.strip() for m in exc.messages)
        else:
            assert checked.num_rows == len(gold)


@FUZZ
@given(
    table_rows=rows,
    name=st.sampled_from(NAMES),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
    cut=st.none() | st.floats(0, 1),
    gzip_cut=st.none() | st.floats(0, 1),
)
def test_structured_files_read_or_refuse_with_sentences(table_rows, name, edits, cut, gzip_cut):
    data = damaged(encoded(table_rows, name), edits, cut)
    if name.endswith(".gz"):
        data = damaged(gzip.compress(data), [], gzip_cut)
    read_and_check(data, name)


@FUZZ
@given(data=st.binary(max_size=2000), name=st.sampled_from(NAMES))
def test_arbitrary_bytes_read_or_refuse_with_sentences(data, name):
    read_and_check(data, name)


@FUZZ
@given(
    prefix=st.sampled_from([b"id,prediction\n", b'{"id": "1", "prediction": ', b"[", b""]),
    body=st.lists(
        st.sampled_from(
            [b"[", b"]", b"{", b"}", b'"', b"\\", b",", b"\n", b"\r", b"1", b"a", b":"]
        ),
        max_size=200,
    ),
    name=st.sampled_from(["p.csv", "p.jsonl", "p.json"]),
)
def test_bracket_and_quote_soup_reads_or_refuses(prefix, body, name):
    read_and_check(prefix + b"".join(body), name)
