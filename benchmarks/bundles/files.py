"""Reading a bundle's data files (CSV, JSON lines or Parquet, optionally gzipped) into tables,
within the limits (docs/formats.md, "Benchmark bundles").

Each file is read into memory once, decoded: gzip a megabyte at a time, stopping at what is left
of the bundle's decoded-size budget. What decides the cost of parsing is checked before pyarrow
parses: a CSV header's columns and the file's line breaks; a JSON line's length, nesting and keys
(pyarrow makes a column of every key it meets, each as long as the file, so lines with distinct
keys would cost the square of the file); a Parquet footer's rows, columns, nesting and declared
sizes, with text read as dictionaries and measured before it is expanded.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from benchmarks.bundles.limits import (
    MAX_CSV_HEADER_BYTES,
    MAX_DEPTH,
    MAX_JSON_LINE_BYTES,
    MAX_PARQUET_FOOTER_BYTES,
    MB,
    NESTED_FIELDS_PER_COLUMN,
    BundleLimits,
    DecodedBudget,
    megabytes,
)
from scoring.streams import GzipInvalid, GzipTooLarge, GzipTruncated, gunzip_bounded

CHUNK_BYTES = MB  # pieces in which files are read, inflated and scanned
# Wide enough for a line of MAX_JSON_LINE_BYTES; pyarrow needs each line within one block.
JSON_BLOCK_BYTES = 64 * MB
# Bytes of a Parquet value of each fixed-width physical type (text is measured as read).
PARQUET_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}


class TableReadError(Exception):
    """A file that cannot be read; the message says why (it may quote the file's content)."""


class TableLimitError(TableReadError):
    """A file over one of the limits; the message names the limit and quotes no content."""


def table_read(
    path: Path,
    *,
    string_columns: tuple[str, ...] = (),
    limits: BundleLimits | None = None,
    budget: DecodedBudget | None = None,
) -> pa.Table:
    """A CSV, JSONL or Parquet file (optionally .gz) as a table, within `limits`; the decoded
    bytes are taken from `budget`. `string_columns` are read as text from CSV, where every type
    is a guess (ids like 007 must not become 7). Raises TableReadError."""
    limits = limits or BundleLimits()
    budget = budget or DecodedBudget(limits.max_decoded_bytes)
    lower = path.name.lower()
    name = lower.removesuffix(".gz")
    data = _read_bytes(path, lower.endswith(".gz"), budget)
    try:
        if name.endswith(".csv"):
            budget.take(len(data))
            table = _read_csv(data, string_columns, limits)
        elif name.endswith(".jsonl"):
            budget.take(len(data))
            table = _read_jsonl(data, limits)
        else:
            table = _read_parquet(data, limits, budget)
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise TableReadError(_first_line(exc)) from None
    _check_shape(table.schema, table.num_rows, limits)
    return table


def table_check(table: pa.Table, limits: BundleLimits, budget: DecodedBudget) -> None:
    """The limits, for a table that comes from elsewhere (a Hub dataset, memory-mapped)."""
    _check_shape(table.schema, table.num_rows, limits)
    if table.nbytes > budget.left:
        raise TableLimitError(budget.exceeded())
    budget.take(table.nbytes)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _too_many_rows(limits: BundleLimits) -> TableLimitError:
    return TableLimitError(
        f"has more than {limits.max_rows:,} rows, the most a split may have (MAX_SPLIT_ROWS)"
    )


def _too_many_columns(count: int, limits: BundleLimits) -> TableLimitError:
    return TableLimitError(
        f"has {count:,} columns; a split's file may have at most {limits.max_columns:,} "
        "(MAX_SPLIT_COLUMNS)"
    )


def _check_shape(schema: pa.Schema, rows: int, limits: BundleLimits) -> None:
    if len(schema) > limits.max_columns:
        raise _too_many_columns(len(schema), limits)
    if rows > limits.max_rows:
        raise _too_many_rows(limits)
    nested, depth = _nesting(schema)
    if depth > MAX_DEPTH:
        raise TableLimitError(f"nests its values more than {MAX_DEPTH} levels deep")
    if nested > NESTED_FIELDS_PER_COLUMN * limits.max_columns:
        raise TableLimitError(
            f"has {nested:,} nested fields; a split's file may have at most "
            f"{NESTED_FIELDS_PER_COLUMN * limits.max_columns:,}"
        )


def _nesting(schema: pa.Schema) -> tuple[int, int]:
    """(nested fields, deepest nesting) of a schema, walked without recursion."""
    fields, deepest = 0, 0
    stack = [(field.type, 1) for field in schema]
    while stack:
        t, depth = stack.pop()
        deepest = max(deepest, depth)
        if pa.types.is_dictionary(t):
            stack.append((t.value_type, depth))
        elif t.num_fields:
            fields += t.num_fields
            stack += [(t.field(i).type, depth + 1) for i in range(t.num_fields)]
    return fields, deepest


# --- bytes ----------------------------------------------------------------------------------


def _read_bytes(path: Path, gzipped: bool, budget: DecodedBudget) -> bytes | bytearray:
    try:
        with open(path, "rb") as fh:
            if gzipped:
                return _gunzip(fh, budget)
            data = fh.read(budget.left + 1)
    except OSError as exc:
        raise TableReadError(exc.strerror or type(exc).__name__) from None
    if len(data) > budget.left:
        raise TableLimitError(budget.exceeded())
    return data


def _gunzip(fh, budget: DecodedBudget) -> bytearray:
    """Inflate within what is left of the budget: a bomb costs the cap, not what it expands
    to."""
    try:
        return gunzip_bounded(iter(lambda: fh.read(CHUNK_BYTES), b""), budget.left)
    except GzipTooLarge:
        raise TableLimitError(budget.exceeded()) from None
    except GzipInvalid:
        raise TableReadError("the file ends in .gz but is not valid gzip data") from None
    except GzipTruncated:
        raise TableReadError("the gzip data is cut short (the file is incomplete)") from None


# --- CSV --------------------------------------------------------------------------------------


def _read_csv(
    data: bytes | bytearray, string_columns: tuple[str, ...], limits: BundleLimits
) -> pa.Table:
    header = _csv_header(data)
    if len(header) > limits.max_columns:
        raise _too_many_columns(len(header), limits)
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in string_columns})
    source = pa.BufferReader(data)
    # A row ends at a line break, so a file with no more line breaks than the row cap is within
    # it and is read at once; a file with more is read in blocks that stop once the rows pass
    # the cap.
    if max(data.count(b"\n"), data.count(b"\r")) <= limits.max_rows:
        return pacsv.read_csv(source, convert_options=convert)
    reader = pacsv.open_csv(
        source, read_options=pacsv.ReadOptions(use_threads=False), convert_options=convert
    )
    batches, rows = [], 0
    for batch in reader:
        rows += batch.num_rows
        if rows > limits.max_rows:
            raise _too_many_rows(limits)
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=reader.schema)


def _csv_header(data: bytes | bytearray) -> list[str]:
    """The column names on the first line, which must end within MAX_CSV_HEADER_BYTES."""
    within = MAX_CSV_HEADER_BYTES + 1
    ends = [at for at in (data.find(b"\n", 0, within), data.find(b"\r", 0, within)) if at >= 0]
    if not ends and len(data) > MAX_CSV_HEADER_BYTES:
        raise TableLimitError(
            f"has a first line (the header naming the columns) longer than "
            f"{MAX_CSV_HEADER_BYTES // 1024} KB"
        )
    line = bytes(data[: min(ends) if ends else len(data)]).decode("utf-8", errors="replace")
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error:
        raise TableReadError(
            "the first line (the header naming the columns) is not valid CSV on one line "
            "(check its quotes)"
        ) from None


# --- JSON lines -------------------------------------------------------------------------------


def _read_jsonl(data: bytes | bytearray, limits: BundleLimits) -> pa.Table:
    _jsonl_check(data, limits)
    return pajson.read_json(
        pa.BufferReader(data), read_options=pajson.ReadOptions(block_size=JSON_BLOCK_BYTES)
    )


class _Object:
    """What an object becomes while a line is checked: only its keys are kept."""

    __slots__ = ()


_OBJECT = _Object()


def _jsonl_check(data: bytes | bytearray, limits: BundleLimits) -> None:
    """Every line one JSON object of at most MAX_JSON_LINE_BYTES, not nested past Python's
    recursion limit (pyarrow's parser crashes the process on deep enough lines; the schema's
    depth is checked after it has parsed), the rows within the cap, and the distinct keys
    within the column cap (top level) and its multiple (nested objects)."""
    columns: set[str] = set()
    nested: set[str] = set()
    keys: list[list[str]] = []

    def record(pairs: list) -> _Object:
        keys.append([key for key, _ in pairs])
        return _OBJECT

    decoder = json.JSONDecoder(object_pairs_hook=record)
    max_nested = NESTED_FIELDS_PER_COLUMN * limits.max_columns
    # Checking a line builds its values in Python, up to some 25 bytes per byte of the line:
    # a line may take a 32nd of the decoded-size cap, so that this stays within it.
    max_line = min(MAX_JSON_LINE_BYTES, limits.max_decoded_bytes // 32)
    for rows, (number, line) in enumerate(_lines(data, max_line), start=1):
        keys.clear()
        try:
            value = decoder.decode(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise TableReadError(f"line {number:,} is not UTF-8 text") from None
        except RecursionError:
            raise TableLimitError(f"line {number:,} is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise TableReadError(
                f"line {number:,} is not valid JSON ({exc.msg} at character {exc.pos + 1})"
            ) from None
        except ValueError:  # an integer of more than 4,300 digits
            raise TableReadError(f"line {number:,} holds a number too long to read") from None
        if value is not _OBJECT:
            raise TableReadError(f"line {number:,} is not a JSON object (one row per line)")
        if rows > limits.max_rows:
            raise _too_many_rows(limits)
        columns.update(keys[-1])
        for inner in keys[:-1]:
            nested.update(inner)
        if len(columns) > limits.max_columns:
            raise _too_many_columns(len(columns), limits)
        if len(nested) > max_nested:
            raise TableLimitError(
                f"has more than {max_nested:,} distinct keys in nested objects "
                f"(by line {number:,}); a split's file may have at most {max_nested:,} "
                "nested fields"
            )


def _lines(data: bytes | bytearray, max_line: int) -> Iterator[tuple[int, bytes]]:
    """(number, text) of each line with more than white space, each checked for length first;
    line breaks are found a megabyte at a time with numpy."""
    view = memoryview(data)
    number, start = 0, 0
    for base in range(0, len(data), CHUNK_BYTES):
        piece = np.frombuffer(data, np.uint8, count=min(CHUNK_BYTES, len(data) - base), offset=base)
        ends = (np.flatnonzero(piece == 0x0A) + base).tolist()
        if base + CHUNK_BYTES >= len(data) and start < len(data) and data[-1:] != b"\n":
            ends.append(len(data))  # the last line, without a line break
        for end in ends:
            number += 1
            if end - start > max_line:
                raise TableLimitError(
                    f"line {number:,} is {megabytes(end - start)} long; a line holds one row "
                    f"and may be at most {megabytes(max_line)}"
                )
            line = bytes(view[start:end])
            start = end + 1
            if line and not line.isspace():
                yield number, line


# --- Parquet ----------------------------------------------------------------------------------


def _read_parquet(data: bytes | bytearray, limits: BundleLimits, budget: DecodedBudget) -> pa.Table:
    """Everything that decides the cost is checked in the footer first: rows, columns, nesting,
    declared sizes and value counts. Text is read as dictionaries and its decoded size counted
    before it is expanded: a dictionary of one long string referenced a million times is a small
    file."""
    if len(data) < 12 or data[-4:] != b"PAR1":
        raise TableReadError("not a Parquet file")
    footer = int.from_bytes(data[-8:-4], "little")
    if footer > MAX_PARQUET_FOOTER_BYTES:
        raise TableLimitError(
            f"has {megabytes(footer)} of Parquet metadata, more than the "
            f"{megabytes(MAX_PARQUET_FOOTER_BYTES)} a split's file may have (too many row "
            "groups or columns)"
        )
    parquet = pq.ParquetFile(pa.BufferReader(data))
    meta, schema = parquet.metadata, parquet.schema_arrow
    _check_shape(schema, meta.num_rows, limits)
    leaves = [meta.schema.column(j) for j in range(meta.num_columns)]
    declared = values = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for j, leaf in enumerate(leaves):
            chunk = group.column(j)
            declared += chunk.total_uncompressed_size
            width = PARQUET_WIDTHS.get(leaf.physical_type, 4)
            if leaf.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = max(leaf.length, 1)
            values += chunk.num_values * width
    if max(declared, values, len(data)) > budget.left:
        raise TableLimitError(budget.exceeded())
    text = [leaf.path for leaf in leaves if leaf.physical_type == "BYTE_ARRAY"]
    table = pq.read_table(pa.BufferReader(data), read_dictionary=text)
    decoded = sum(_decoded_bytes(chunk) for column in table.columns for chunk in column.chunks)
    if max(decoded, len(data)) > budget.left:
        raise TableLimitError(budget.exceeded())
    budget.take(max(decoded, len(data)))
    for i, field in enumerate(schema):
        if table.schema.field(i).type != field.type:  # expand what was read as a dictionary
            table = table.set_column(i, field, table.column(i).cast(field.type))
    return table


def _decoded_bytes(array: pa.Array) -> int:
    """What `array` takes once its dictionaries are expanded (walked without recursion)."""
    total, stack = 0, [array]
    while stack:
        array = stack.pop()
        t = array.type
        if pa.types.is_dictionary(t):
            values = array.dictionary
            if values.type.num_fields or not (
                pa.types.is_string(values.type)
                or pa.types.is_binary(values.type)
                or pa.types.is_large_string(values.type)
                or pa.types.is_large_binary(values.type)
            ):
                total += array.cast(t.value_type).nbytes
                continue
            lengths = np.asarray(pc.fill_null(pc.binary_length(values), 0), dtype=np.int64)
            indices = np.asarray(pc.fill_null(array.indices, 0), dtype=np.int64)
            total += (int(lengths[indices].sum()) if len(lengths) else 0) + 4 * len(array)
        elif pa.types.is_list(t) or pa.types.is_large_list(t):
            total += 4 * len(array)
            stack.append(array.flatten())
        elif pa.types.is_struct(t):
            stack += array.flatten()
        else:
            total += array.nbytes
    return total
