"""A split's ids and inputs as a downloadable file: never the label, never metadata columns
(DESIGN §7: metadata is for slicing only)."""

from __future__ import annotations

import base64
import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.models import Split

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


def split_inputs_table(split: Split) -> pa.Table:
    task = split.task
    columns = [task.id_column, *task.input_columns]
    with split.data.open("rb") as f:
        return pq.read_table(f, columns=columns)


def _as_text(table: pa.Table, *, nested_as_json: bool) -> pa.Table:
    """Text formats cannot hold bytes (images) or, in CSV, lists (tokens): bytes become base64
    strings and, for CSV, nested values become JSON strings."""
    for index, field in enumerate(table.schema):
        values = None
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            values = [
                None if v is None else base64.b64encode(v).decode("ascii")
                for v in table.column(index).to_pylist()
            ]
        elif nested_as_json and pa.types.is_nested(field.type):
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False)
                for v in table.column(index).to_pylist()
            ]
        if values is not None:
            table = table.set_column(index, field.name, pa.array(values, pa.string()))
    return table


def split_inputs_file(split: Split, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, filename) of the split's inputs in `fmt` (csv, jsonl, parquet)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use csv, jsonl or parquet.")
    table = split_inputs_table(split)
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "csv":
        pacsv.write_csv(_as_text(table, nested_as_json=True), sink)
    else:
        # pyarrow writes no JSON; the rows are small dicts of ids and input values.
        for row in _as_text(table, nested_as_json=False).to_pylist():
            sink.write(json.dumps(row, ensure_ascii=False, default=str).encode() + b"\n")
    filename = f"{split.task.benchmark.slug}-{split.task.slug}-{split.name}-inputs.{fmt}"
    return sink.getvalue(), FORMATS[fmt], filename
