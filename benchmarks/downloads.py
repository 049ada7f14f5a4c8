"""A split as a downloadable file. Train and public splits come with their labels (participants
train and validate on them); hidden splits with ids and inputs only. Metadata columns are in no
download: they are for slicing only.

Hidden splits are safe by construction: their label column is never read from storage."""

from __future__ import annotations

import base64
import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.models import Split
from scoring.tasktypes import CLASSIFICATION_TYPES, TOKEN_CLASSIFICATION

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}

LABELLED_ROLES = frozenset({Split.Role.TRAIN, Split.Role.PUBLIC})


def carries_labels(split: Split) -> bool:
    """Whether the split's download holds its labels: train and public splits, never hidden."""
    return split.role in LABELLED_ROLES


def download_columns(split: Split) -> list[str]:
    """The columns a download of the split holds, in order: id, inputs and, where the role
    allows, the label."""
    task = split.task
    columns = [task.id_column, *task.input_columns]
    if carries_labels(split):
        columns.append(task.label_column)
    return columns


def split_download_table(split: Split) -> pa.Table:
    table = _read(split, download_columns(split))
    if carries_labels(split):
        table = _labels_as_names(table, split)
    return table


def _read(split: Split, columns: list[str]) -> pa.Table:
    with split.data.open("rb") as f:
        return pq.read_table(f, columns=columns)


def _labels_as_names(table: pa.Table, split: Split) -> pa.Table:
    """Classification labels (and token tags) as names. Imported bundles already store names;
    a split uploaded in the admin may hold integer indices into the task's label names."""
    task = split.task
    names = [str(name) for name in task.label_names]
    if task.type not in (*CLASSIFICATION_TYPES, TOKEN_CLASSIFICATION) or not names:
        return table
    # Star ratings name their labels "1".."5": integers then are names, not indices.
    if all(name.lstrip("-").isdigit() for name in names):
        return table
    index = table.schema.get_field_index(task.label_column)
    field = table.schema.field(index)
    is_list = pa.types.is_list(field.type) or pa.types.is_large_list(field.type)
    value_type = field.type.value_type if is_list else field.type
    if not pa.types.is_integer(value_type):
        return table

    def name(value):
        if value is None or not 0 <= value < len(names):
            return None if value is None else str(value)
        return names[value]

    values = table.column(index).to_pylist()
    if is_list:
        column = pa.array(
            [None if v is None else [name(x) for x in v] for v in values], pa.list_(pa.string())
        )
    else:
        column = pa.array([name(v) for v in values], pa.string())
    return table.set_column(index, field.name, column)


def _as_text(table: pa.Table, *, nested_as_json: bool) -> pa.Table:
    """Text formats cannot hold bytes (images) or, in CSV, lists (tokens, tags, answers): bytes
    become base64 strings and, for CSV, nested values become JSON strings."""
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


def split_download_file(split: Split, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, filename) of the split's download in `fmt` (csv, jsonl,
    parquet)."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use csv, jsonl or parquet.")
    table = split_download_table(split)
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "csv":
        pacsv.write_csv(_as_text(table, nested_as_json=True), sink)
    else:
        # pyarrow writes no JSON; the rows are small dicts of ids, inputs and labels.
        for row in _as_text(table, nested_as_json=False).to_pylist():
            sink.write(json.dumps(row, ensure_ascii=False, default=str).encode() + b"\n")
    held = "inputs-and-labels" if carries_labels(split) else "inputs"
    filename = f"{split.task.benchmark.slug}-{split.task.slug}-{split.name}-{held}.{fmt}"
    return sink.getvalue(), FORMATS[fmt], filename
