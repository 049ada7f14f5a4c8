"""A split's ids and inputs as a downloadable file: never the label, never metadata columns
(DESIGN §7: metadata is for slicing only)."""

from __future__ import annotations

import io

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


def split_inputs_file(split: Split, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, filename) of the split's inputs in `fmt` (csv, jsonl, parquet)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use csv, jsonl or parquet.")
    table = split_inputs_table(split)
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "csv":
        pacsv.write_csv(table, sink)
    else:
        # pyarrow writes no JSON; the rows are small dicts of ids and input values.
        import json

        for row in table.to_pylist():
            sink.write(json.dumps(row, ensure_ascii=False, default=str).encode() + b"\n")
    filename = f"{task_name(split)}-{split.name}-inputs.{fmt}"
    return sink.getvalue(), FORMATS[fmt], filename


def task_name(split: Split) -> str:
    return f"{split.task.benchmark.slug}-{split.task.slug}"
