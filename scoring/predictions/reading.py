"""Reading a prediction file into a table of `id`, `prediction` (and `task`), within `Limits`."""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from scoring.predictions.common import (
    CHUNK_BYTES,
    COLUMNS,
    CSV_BLOCK_BYTES,
    DEFAULT_LIMITS,
    FORMATS,
    JSON_ARRAY_FRACTION,
    MAX_HEADER_BYTES,
    MAX_JSON_LINE_BYTES,
    MAX_PARQUET_FOOTER_BYTES,
    MAX_PYARROW_JSON_BRACKETS,
    Limits,
    PredictionFileError,
    as_array,
    megabytes,
    plural,
    quote,
    some_of,
)
from scoring.streams import GzipInvalid, GzipTooLarge, GzipTruncated, gunzip_bounded


def detect_format(filename: str) -> tuple[str, bool]:
    """(format, gzipped) from the file name; raises PredictionFileError for other extensions."""
    name = filename.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name[:-3]
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt, gzipped
    allowed = ", ".join(f"{ext}[.gz]" for ext in FORMATS)
    raise PredictionFileError(
        f"Unsupported file type for {quote(filename)}: prediction files must end in {allowed}."
    )


# --- bytes ----------------------------------------------------------------------------------


def _too_large(max_bytes: int) -> PredictionFileError:
    return PredictionFileError(
        f"The file is larger than {megabytes(max_bytes)} once decompressed, the limit for a "
        "prediction file."
    )


def _chunks(source: str | bytes | bytearray | BinaryIO) -> Iterator[bytes | memoryview]:
    if isinstance(source, bytes | bytearray):
        view = memoryview(source)
        for start in range(0, len(view), CHUNK_BYTES):
            yield view[start : start + CHUNK_BYTES]
    elif hasattr(source, "read"):
        while piece := source.read(CHUNK_BYTES):
            yield piece
    else:
        with open(source, "rb") as fh:
            yield from _chunks(fh)


def _read_bytes(
    source: str | bytes | bytearray | BinaryIO, gzipped: bool, max_bytes: int
) -> bytes | bytearray:
    if gzipped:
        return _gunzip(_chunks(source), max_bytes)
    if isinstance(source, bytes | bytearray):
        data = source
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
    else:
        with open(source, "rb") as fh:
            data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _gunzip(chunks: Iterable[bytes | memoryview], max_bytes: int) -> bytearray:
    try:
        out = gunzip_bounded(chunks, max_bytes)
    except GzipTooLarge:
        raise _too_large(max_bytes) from None
    except GzipInvalid:
        raise PredictionFileError("The file ends in .gz but is not valid gzip data.") from None
    except GzipTruncated:
        raise PredictionFileError("The gzip data is cut short: the file is incomplete.") from None
    if not out:
        raise PredictionFileError("The file is empty.")
    return out


def _check_utf8(data: bytes | bytearray) -> bytes | bytearray:
    if data.isascii():
        return data  # ASCII is UTF-8; the check is a scan with no copy
    # Validated a piece at a time: decoding a whole file at once would hold a str of up to four
    # times its size.
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_BYTES):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(
                view[start : start + CHUNK_BYTES], final=start + CHUNK_BYTES >= len(view)
            )
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, max(0, start - pending + exc.start)) + 1
            raise PredictionFileError(
                f"The file is not UTF-8 text (invalid byte at line {line:,}); save it as UTF-8."
            ) from None
    # Spreadsheet programs write a byte-order mark; it would otherwise end up in the first name.
    if data.startswith(b"\xef\xbb\xbf"):
        if isinstance(data, bytearray):
            del data[:3]  # moves the start, copies nothing
        else:
            data = data[3:]
    return data


def _too_many_rows(max_rows: int) -> PredictionFileError:
    return PredictionFileError(
        f"The file has more than {max_rows:,} rows: a prediction file has one row per id of "
        "the benchmark's scored splits."
    )


def _check_columns(names: Sequence[str], limits: Limits) -> list[str]:
    """The names of the columns to read, after checking the header: not too many columns,
    none twice, `id` and `prediction` there."""
    if len(names) > limits.max_columns:
        raise PredictionFileError(
            f"The file has {len(names):,} columns; a prediction file has 'id', 'prediction' "
            f"and optionally 'task' (at most {limits.max_columns} columns in all)."
        )
    stripped = [name.strip() for name in names]
    twice = sorted({name for name in stripped if stripped.count(name) > 1})
    if twice:
        raise PredictionFileError(
            f"The file has the column {some_of(twice)} more than once; each column may appear once."
        )
    missing = [name for name in ("id", "prediction") if name not in stripped]
    if missing:
        found = ", ".join(quote(n) for n in stripped[:20]) if stripped else "none"
        raise PredictionFileError(
            f"The file has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns found: {found}); it needs 'id' and 'prediction'."
        )
    return [name for name in names if name.strip() in COLUMNS]


# --- CSV --------------------------------------------------------------------------------------


def _csv_header(data: bytes | bytearray) -> list[str]:
    ends = [
        at
        for at in (data.find(b"\n", 0, MAX_HEADER_BYTES), data.find(b"\r", 0, MAX_HEADER_BYTES))
        if at >= 0
    ]
    if not ends and len(data) > MAX_HEADER_BYTES:
        raise PredictionFileError(
            f"The first line of the file is longer than {MAX_HEADER_BYTES:,} bytes; it should "
            "be the header naming the columns (id,prediction)."
        )
    line = bytes(data[: min(ends) if ends else len(data)]).decode("utf-8")
    try:
        return next(csv.reader([line]), [])
    except csv.Error:
        raise PredictionFileError(
            "The first line of the file (the header) could not be read as CSV."
        ) from None


def _read_csv(data: bytes | bytearray, limits: Limits) -> pa.Table:
    # Only the needed columns are built, and each as text: inference would turn id "007" into 7
    # and label "1" into 1.
    keep = _check_columns(_csv_header(data), limits)
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in keep},
        strings_can_be_null=False,
        include_columns=keep,
    )
    # A row ends at a line break (values may not span lines), so there are at most twice as many
    # rows as the commoner of "\n" and "\r" (mixed endings). Within that bound the file is read
    # at once; beyond it, it is read in blocks until the rows pass the cap.
    max_rows = limits.max_rows
    streamed = (
        max_rows is not None
        and max(data.count(b"\n"), data.count(b"\r") if b"\r" in data else 0) > max_rows
    )
    # Past the bound, small blocks on one thread, which stop as soon as the rows pass the cap
    # (several threads read ahead).
    block = CHUNK_BYTES if streamed else CSV_BLOCK_BYTES
    read = pa_csv.ReadOptions(block_size=block, use_threads=not streamed)
    try:
        if not streamed:
            table = pa_csv.read_csv(
                pa.BufferReader(data), read_options=read, convert_options=convert
            )
        else:
            reader = pa_csv.open_csv(
                pa.BufferReader(data), read_options=read, convert_options=convert
            )
            batches, rows = [], 0
            for batch in reader:
                rows += batch.num_rows
                if rows > max_rows:
                    raise _too_many_rows(max_rows)
                batches.append(batch)
            table = pa.Table.from_batches(batches, schema=reader.schema)
    except pa.ArrowException as exc:
        raise PredictionFileError(_csv_message(exc, block)) from None
    if max_rows is not None and table.num_rows > max_rows:
        raise _too_many_rows(max_rows)
    return table


def _csv_message(exc: Exception, block: int) -> str:
    text = str(exc)
    if "Empty CSV file" in text:
        return "The file is empty."
    if "Expected" in text and "columns" in text:
        # pyarrow says e.g. "CSV parse error: Expected 2 columns, got 3: a,b,c" — drop the row
        # text, which could be long, keep the counts.
        detail = text.split(":", 2)[1].strip() if text.count(":") >= 2 else text
        return f"The CSV file could not be parsed: a row has the wrong number of fields ({detail})."
    if "straddl" in text:
        return (
            "The CSV file could not be parsed: a row is longer than "
            f"{megabytes(block)} (a row holds an id and a prediction), or a quote is not closed."
        )
    return "The CSV file could not be parsed; check the quoting and the number of fields per row."


# --- JSON -------------------------------------------------------------------------------------


def _read_json(data: bytes | bytearray, limits: Limits) -> pa.Table:
    first = re.search(rb"\S", data)
    if first is None:
        raise PredictionFileError("The file is empty.")
    if data[first.start()] == ord("["):
        return _read_json_array(data, limits)
    longest, longest_at, brackets = _line_shape(data)
    if longest > MAX_JSON_LINE_BYTES:
        raise PredictionFileError(
            f"Line {longest_at:,} is {megabytes(longest)} long; a line holds one row (an id and a "
            f"prediction) and may be at most {megabytes(MAX_JSON_LINE_BYTES)}."
        )
    schema = _json_schema(data) if brackets <= MAX_PYARROW_JSON_BRACKETS else None
    if schema is not None:
        # The columns are named, and every other key is skipped: inferring them would build a
        # column per key ever seen, each as long as the file (lines with distinct keys make
        # that quadratic).
        options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        read = pa_json.ReadOptions(block_size=2 * MAX_JSON_LINE_BYTES)
        try:
            table = pa_json.read_json(pa.BufferReader(data), read, options)
        except pa.ArrowException:
            table = None  # e.g. ids that are numbers on some lines and strings on others
        if table is not None:
            if table["task"].null_count == table.num_rows:
                table = table.drop_columns(["task"])
            if limits.max_rows is not None and table.num_rows > limits.max_rows:
                raise _too_many_rows(limits.max_rows)
            return table
    # pyarrow refuses columns whose type changes between rows (ids 1 and "a"); such files are
    # valid for us, so parse them line by line.
    return _table_from_rows(_json_lines(data), limits)


def _line_shape(data: bytes | bytearray) -> tuple[int, int, int]:
    """(length of the longest line, its number, most `[` and `{` on one line), scanned in
    pieces with numpy. The bracket count bounds how deep a line can nest."""
    longest, longest_at, most = 0, 1, 0
    line_start, opened, lines = 0, 0, 0
    for start in range(0, len(data), CHUNK_BYTES):
        raw = np.frombuffer(data, np.uint8, count=min(CHUNK_BYTES, len(data) - start), offset=start)
        opens = np.cumsum((raw == 0x5B) | (raw == 0x7B), dtype=np.int64)
        ends = np.flatnonzero(raw == 0x0A)
        if not len(ends):
            opened += int(opens[-1])
            continue
        at = opens[ends]
        per_line = np.diff(at, prepend=0)
        per_line[0] += opened
        starts = np.concatenate(([line_start], ends[:-1] + start + 1))
        lengths = ends + start - starts
        i = int(lengths.argmax())
        if lengths[i] > longest:
            longest, longest_at = int(lengths[i]), lines + i + 1
        most = max(most, int(per_line.max()))
        lines += len(ends)
        line_start, opened = start + int(ends[-1]) + 1, int(opens[-1] - at[-1])
    if len(data) - line_start > longest:
        longest, longest_at = len(data) - line_start, lines + 1
    return longest, longest_at, max(most, opened)


def _json_lines(data: bytes | bytearray) -> Iterator[tuple[int, Any, int]]:
    """(line number, parsed value, length) of each non-blank line (at most a megabyte each)."""
    start, number = 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        number += 1
        line = data[start:end]
        start = end + 1
        if line.isspace() or not line:
            continue
        try:
            value = json.loads(line)
        except RecursionError:
            raise PredictionFileError(
                f"Line {number:,} is nested too deeply to be a row of predictions."
            ) from None
        except ValueError:
            raise PredictionFileError(
                f"Line {number:,} is not valid JSON: each line must be one JSON object."
            ) from None
        yield number, value, len(line)


def _json_schema(data: bytes | bytearray) -> pa.Schema | None:
    """The types of `id`, `prediction` and `task`, as the first lines have them (None when they
    cannot say: no such lines, nulls only, mixed types, lines that do not parse)."""
    values: dict[str, list] = {name: [] for name in COLUMNS}
    sample = data[: data.rfind(b"\n", 0, CHUNK_BYTES) + 1] if len(data) > CHUNK_BYTES else data
    try:
        for number, row, _ in _json_lines(sample):
            if not isinstance(row, dict) or any(k != k.strip() for k in row):
                return None
            for name in COLUMNS:
                if name in row:
                    values[name].append(row[name])
            if number >= 1000:
                break
    except PredictionFileError:
        return None  # perhaps a line cut at the sample's end; the full parse will tell
    if not values["id"] or not values["prediction"]:
        return None
    try:
        types = {name: pa.array(v).type for name, v in values.items() if v}
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    task = types.get("task", pa.string())
    if pa.types.is_null(task):
        task = pa.string()
    if not pa.types.is_string(task) or any(_has_null_type(t) for t in types.values()):
        return None
    return pa.schema([("id", types["id"]), ("prediction", types["prediction"]), ("task", task)])


def _has_null_type(type_: pa.DataType) -> bool:
    if pa.types.is_null(type_):
        return True
    return any(_has_null_type(type_.field(i).type) for i in range(type_.num_fields))


def _read_json_array(data: bytes | bytearray, limits: Limits) -> pa.Table:
    limit = limits.max_bytes // JSON_ARRAY_FRACTION
    if len(data) > limit:
        raise PredictionFileError(
            f"A JSON array file may be at most {megabytes(limit)}; write larger files as JSON "
            "lines (.jsonl, one object per line)."
        )
    try:
        rows = json.loads(data)
    except RecursionError:
        raise PredictionFileError("The JSON file is nested too deeply to be predictions.") from None
    except ValueError:
        raise PredictionFileError("The JSON file could not be parsed.") from None
    if not isinstance(rows, list):
        raise PredictionFileError("The JSON file must hold one object per row.")
    numbered = ((i, row, 0) for i, row in enumerate(rows, start=1))
    return _table_from_rows(numbered, limits, array=True)


def _table_from_rows(
    rows: Iterable[tuple[int, Any, int]], limits: Limits, array: bool = False
) -> pa.Table:
    """A table of the `id`, `prediction` and `task` values of parsed JSON rows (number, value,
    length of its text), converted a batch at a time: Python objects, which take up to twenty
    times their JSON text, never stand for more than a batch."""
    columns: dict[str, list] = {name: [] for name in COLUMNS}
    chunks: dict[str, list[pa.Array]] = {name: [] for name in COLUMNS}
    present: set[str] = set()
    count = batch_bytes = 0
    for number, row, size in rows:
        if not isinstance(row, dict):
            where = f"Row {number:,}" if array else f"Line {number:,}"
            raise PredictionFileError(f"{where} is not a JSON object: each row must be one.")
        picked = {}
        for key, value in row.items():
            name = key.strip()
            if name in COLUMNS:
                if name in picked:
                    raise PredictionFileError(
                        f"The file has the column {quote(name)} more than once; each column "
                        "may appear once."
                    )
                picked[name] = value
        present.update(picked)
        for name in COLUMNS:
            columns[name].append(picked.get(name))
        count += 1
        if limits.max_rows is not None and count > limits.max_rows:
            raise _too_many_rows(limits.max_rows)
        batch_bytes += size
        if len(columns["id"]) >= 1 << 16 or batch_bytes > 2 * CHUNK_BYTES:
            _flush(columns, chunks)
            batch_bytes = 0
    _flush(columns, chunks)
    if not count:
        return pa.table({})
    return pa.table({name: _concat(chunks[name], name) for name in COLUMNS if name in present})


def _flush(columns: dict[str, list], chunks: dict[str, list[pa.Array]]) -> None:
    if not columns["id"]:
        return
    for name, values in columns.items():
        if name != "prediction":
            values = [None if v is None else _id_text(v) for v in values]
        try:
            chunks[name].append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # Mixed prediction types (a number in one row, a list in another): keep them as
            # JSON text, the type checks will report the rows that are wrong.
            chunks[name].append(_json_text(values))
        except UnicodeEncodeError:
            raise PredictionFileError(
                "The file holds a \\u escape that is not a character (a lone surrogate such as "
                "\\ud800); write text as UTF-8."
            ) from None
    for values in columns.values():
        values.clear()


def _json_text(values: list) -> pa.Array:
    try:
        return pa.array([v if isinstance(v, str) or v is None else json.dumps(v) for v in values])
    except RecursionError:
        raise PredictionFileError("The file is nested too deeply to be predictions.") from None
    except UnicodeEncodeError:
        raise PredictionFileError(
            "The file holds a \\u escape that is not a character (a lone surrogate such as "
            "\\ud800); write text as UTF-8."
        ) from None


def _concat(chunks: list[pa.Array], name: str) -> pa.Array:
    types = {chunk.type for chunk in chunks}
    if len(types) == 1:
        return pa.concat_arrays(chunks)
    try:
        unified = (
            pa.unify_schemas([pa.schema([(name, t)]) for t in types], promote_options="permissive")
            .field(name)
            .type
        )
        return pa.concat_arrays([chunk.cast(unified) for chunk in chunks])
    except (pa.ArrowException, TypeError):
        # Batches of different kinds (numbers, then lists): JSON text, as for mixed rows.
        return pa.concat_arrays([_json_text(chunk.to_pylist()) for chunk in chunks])


def _id_text(value: Any) -> str:
    if isinstance(value, list | dict):
        raise PredictionFileError("The 'id' and 'task' columns must hold strings or integers.")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- Parquet ----------------------------------------------------------------------------------


def _read_parquet(data: bytes | bytearray, limits: Limits) -> pa.Table:
    """Everything that decides the cost is checked in the footer first: rows, columns, the
    declared sizes and value counts of the columns read. Text columns are read as dictionaries
    and their decoded size counted before they are expanded: a dictionary of one long string
    referenced a million times is a small file."""
    unreadable = PredictionFileError("The Parquet file could not be read.")
    if len(data) < 12 or data[-4:] != b"PAR1":
        raise unreadable
    footer = int.from_bytes(data[-8:-4], "little")
    if footer > MAX_PARQUET_FOOTER_BYTES:
        raise PredictionFileError(
            f"The Parquet file's metadata is {megabytes(footer)}, more than a prediction file "
            "needs (it has too many row groups or columns)."
        )
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        meta, schema = parquet.metadata, parquet.schema_arrow
    except (pa.ArrowException, OSError):
        raise unreadable from None
    if meta.num_columns > limits.max_columns:
        raise PredictionFileError(
            f"The file has {meta.num_columns:,} columns; a prediction file has 'id', "
            f"'prediction' and optionally 'task' (at most {limits.max_columns} columns in all)."
        )
    keep = _check_columns(schema.names, limits)
    if limits.max_rows is not None and meta.num_rows > limits.max_rows:
        raise _too_many_rows(limits.max_rows)
    leaves = [
        j for j in range(meta.num_columns) if meta.schema.column(j).path.split(".")[0] in keep
    ]
    declared = values = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for j in leaves:
            declared += group.column(j).total_uncompressed_size
            values += group.column(j).num_values
    if declared > limits.max_bytes or values > limits.max_bytes // 4:
        raise _too_large(limits.max_bytes)
    text_leaves = [
        meta.schema.column(j).path
        for j in leaves
        if meta.schema.column(j).physical_type == "BYTE_ARRAY"
    ]
    try:
        table = pq.read_table(pa.BufferReader(data), columns=keep, read_dictionary=text_leaves)
    except (pa.ArrowException, OSError):
        raise unreadable from None
    if (
        sum(_decoded_bytes(chunk) for column in table.columns for chunk in column.chunks)
        > limits.max_bytes
    ):
        raise _too_large(limits.max_bytes)
    stored = {field.name: field.type for field in schema}
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if column.type != stored[name]:  # expand what was read as a dictionary
            try:
                table = table.set_column(i, name, column.cast(stored[name]))
            except pa.ArrowException:
                raise unreadable from None
    if limits.max_rows is not None and table.num_rows > limits.max_rows:
        raise _too_many_rows(limits.max_rows)  # the footer said otherwise
    return table


def _decoded_bytes(array: pa.Array) -> int:
    """What `array` takes once its dictionaries are expanded."""
    if pa.types.is_dictionary(array.type):
        dictionary = array.dictionary
        if (
            pa.types.is_binary(dictionary.type)
            or pa.types.is_string(dictionary.type)
            or pa.types.is_large_string(dictionary.type)
            or pa.types.is_large_binary(dictionary.type)
        ):
            lengths = np.asarray(pc.fill_null(pc.binary_length(dictionary), 0), dtype=np.int64)
        else:
            lengths = np.full(len(dictionary), 8, dtype=np.int64)
        if not len(lengths):
            return 4 * len(array)
        indices = np.asarray(pc.fill_null(array.indices, 0), dtype=np.int64)
        return int(lengths[indices].sum()) + 4 * len(array)
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        return _decoded_bytes(array.flatten()) + 4 * len(array)
    return array.nbytes


# --- the file -----------------------------------------------------------------------------


def read_prediction_file(
    source: str | bytes | bytearray | BinaryIO, filename: str, limits: Limits = DEFAULT_LIMITS
) -> pa.Table:
    """Read a prediction file into a table with a string `id` column and a `prediction` column
    (and `task` when present). The file name's extension decides the format."""
    fmt, gzipped = detect_format(filename)
    data = _read_bytes(source, gzipped, limits.max_bytes)
    if not data or data.isspace():  # (data.strip() would copy the whole file)
        raise PredictionFileError("The file is empty.")
    if fmt == "parquet":
        table = _read_parquet(data, limits)
    else:
        data = _check_utf8(data)
        table = _read_csv(data, limits) if fmt == "csv" else _read_json(data, limits)
    del data  # the table has its own copy: free the bytes before its columns are combined
    return _normalise_columns(table, limits)


def _normalise_columns(table: pa.Table, limits: Limits) -> pa.Table:
    keep = _check_columns(table.column_names, limits)
    table = table.select(keep).rename_columns([name.strip() for name in keep])
    keep = table.column_names
    if table.num_rows == 0:
        raise PredictionFileError("The file has no rows.")
    # CSV reading yields a chunk per block; the checks want whole columns. (Combining copies
    # even single chunks: only when needed.)
    if any(column.num_chunks > 1 for column in table.columns):
        table = table.combine_chunks()
    ids = as_array(table.column("id"))
    if pa.types.is_floating(ids.type):
        ids = pc.cast(pc.cast(ids, pa.int64(), safe=False), pa.string())  # 1.0 → "1"
    elif not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        try:
            ids = pc.cast(ids, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise PredictionFileError("The 'id' column must hold strings or integers.") from None
    ids = _strip(pc.cast(ids, pa.string()))
    table = table.set_column(keep.index("id"), "id", ids)
    if "task" in keep:
        try:
            task = pc.cast(table["task"], pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise PredictionFileError("The 'task' column must hold task names.") from None
        table = table.set_column(keep.index("task"), "task", task)
    empty = pc.sum(pc.or_kleene(pc.is_null(ids), pc.equal(ids, ""))).as_py() or 0
    if empty:
        raise PredictionFileError(
            f"{plural(empty, 'row')} of the file {'has' if empty == 1 else 'have'} an empty id."
        )
    return table


def _strip(text: pa.Array) -> pa.Array:
    """`text` without surrounding whitespace, copied only when some value has any: a look at
    each value's first and last byte is much cheaper than rewriting a million strings."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=text.offset * 4)
    data = text.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    nonempty = offsets[:-1] < offsets[1:]
    edges = np.concatenate([raw[offsets[:-1][nonempty]], raw[offsets[1:][nonempty] - 1]])
    # As int8, bytes up to 32 are ASCII spaces and controls, and the negative ones are non-ASCII
    # (perhaps part of a Unicode space): either may need trimming.
    if (edges.view(np.int8) <= 32).any():
        return pc.utf8_trim_whitespace(text)
    return text


# --- checks against a task ------------------------------------------------------------------
