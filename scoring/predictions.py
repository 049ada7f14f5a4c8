"""Reading and checking prediction files (docs/formats.md).

A prediction file is CSV, JSON lines (or a JSON array) or Parquet, optionally gzip-compressed,
with an `id` and a `prediction` column (and optionally `task`). Reading is done by pyarrow; every
problem becomes a `PredictionFileError` whose messages a participant can act on. Messages quote
ids and the participant's own predictions, never a gold value: they may be about a hidden split.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import zlib
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from scoring import tasktypes

FORMATS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
MAX_EXAMPLES = 5
# A decimal number as text: what a regression prediction may be in a CSV cell.
NUMBER_PATTERN = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"
# Decompressed size cap, so that a small .gz cannot expand into a memory bomb.
MAX_BYTES = 2 * 1024**3
CSV_BLOCK_BYTES = 64 << 20


class PredictionFileError(ValueError):
    """A prediction file that cannot be scored; `messages` are participant-safe sentences."""

    def __init__(self, messages: str | Sequence[str]):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


def _examples(values: Sequence[Any], limit: int = MAX_EXAMPLES) -> str:
    shown = ", ".join(repr(v) if not isinstance(v, str) else json.dumps(v) for v in values[:limit])
    return shown + (", …" if len(values) > limit else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


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
        f"Unsupported file type for {filename!r}: prediction files must end in {allowed}."
    )


def _read_bytes(source: str | bytes | BinaryIO, gzipped: bool) -> bytes:
    if isinstance(source, bytes):
        raw = source
    elif hasattr(source, "read"):
        raw = source.read()
    else:
        with open(source, "rb") as fh:
            raw = fh.read()
    if not gzipped:
        return raw
    try:
        # max_length bounds the output: a compression bomb stops at MAX_BYTES + 1.
        out = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        data = out.decompress(raw, MAX_BYTES + 1)
    except (zlib.error, gzip.BadGzipFile, EOFError):
        raise PredictionFileError("The file ends in .gz but is not valid gzip data.") from None
    if len(data) > MAX_BYTES:
        raise PredictionFileError("The decompressed file is larger than the 2 GiB limit.")
    return data


def _check_utf8(data: bytes) -> bytes:
    if data.isascii():
        return data  # ASCII is UTF-8; the check is a scan with no copy
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PredictionFileError(
            f"The file is not UTF-8 text (invalid byte at line {line}); save it as UTF-8."
        ) from None
    # Spreadsheet programs write a byte-order mark; it would otherwise end up in the first name.
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def _read_csv(data: bytes) -> pa.Table:
    # Every column is read as text: inference would turn id "007" into 7 and label "1" into 1.
    # The header is parsed here only to name the columns for ConvertOptions.
    end = data.find(b"\n")
    first_line = data[: end if end >= 0 else len(data)].decode("utf-8").rstrip("\r")
    names = next(csv.reader([first_line]), [])
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names}, strings_can_be_null=False
    )
    # One block (so one chunk per column, nothing to combine after) up to a size where parsing
    # blocks on several threads pays for itself.
    read = pa_csv.ReadOptions(block_size=max(1 << 20, min(len(data) + 1, CSV_BLOCK_BYTES)))
    try:
        return pa_csv.read_csv(pa.BufferReader(data), read_options=read, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise PredictionFileError(_csv_message(exc)) from None


def _csv_message(exc: Exception) -> str:
    text = str(exc)
    if "Empty CSV file" in text:
        return "The file is empty."
    if "Expected" in text and "columns" in text:
        # pyarrow says e.g. "CSV parse error: Expected 2 columns, got 3: a,b,c" — drop the row
        # text, which could be long, keep the counts.
        detail = text.split(":", 2)[1].strip() if text.count(":") >= 2 else text
        return f"The CSV file could not be parsed: a row has the wrong number of fields ({detail})."
    return "The CSV file could not be parsed; check the quoting and the number of fields per row."


def _read_json(data: bytes) -> pa.Table:
    stripped = data.lstrip()
    if not stripped:
        raise PredictionFileError("The file is empty.")
    if stripped.startswith(b"["):
        try:
            rows = json.loads(data)
        except ValueError:
            raise PredictionFileError("The JSON file could not be parsed.") from None
        return _table_from_rows(rows)
    try:
        return pa_json.read_json(io.BytesIO(data))
    except pa.ArrowInvalid:
        pass
    # pyarrow refuses columns whose type changes between rows (ids 1 and "a"); such files are
    # valid for us, so parse them line by line.
    rows = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            raise PredictionFileError(
                f"Line {number} is not valid JSON: each line must be one JSON object."
            ) from None
    return _table_from_rows(rows)


def _table_from_rows(rows: Any) -> pa.Table:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise PredictionFileError("The JSON file must hold one object per row.")
    columns: dict[str, list] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, [])
    for key in columns:
        values = [row.get(key) for row in rows]
        if key in ("id", "task"):
            values = [None if v is None else _id_text(v) for v in values]
        columns[key] = values
    try:
        return pa.table({k: pa.array(v) for k, v in columns.items()}) if rows else pa.table({})
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed prediction types (a number in one row, a list in another): keep them as JSON
        # text, the type checks will report the rows that are wrong.
        return pa.table(
            {
                k: pa.array(v)
                if k != "prediction"
                else pa.array([x if isinstance(x, str) else json.dumps(x) for x in v])
                for k, v in columns.items()
            }
        )


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_parquet(data: bytes) -> pa.Table:
    try:
        return pq.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError):
        raise PredictionFileError("The Parquet file could not be read.") from None


def read_prediction_file(source: str | bytes | BinaryIO, filename: str) -> pa.Table:
    """Read a prediction file into a table with a string `id` column and a `prediction` column
    (and `task` when present). The file name's extension decides the format."""
    fmt, gzipped = detect_format(filename)
    data = _read_bytes(source, gzipped)
    if not data or data.isspace():  # (data.strip() would copy the whole file)
        raise PredictionFileError("The file is empty.")
    if fmt == "parquet":
        table = _read_parquet(data)
    else:
        data = _check_utf8(data)
        table = _read_csv(data) if fmt == "csv" else _read_json(data)
    return _normalise_columns(table)


def _normalise_columns(table: pa.Table) -> pa.Table:
    names = [name.strip() for name in table.column_names]
    table = table.rename_columns(names)
    missing = [name for name in ("id", "prediction") if name not in names]
    if missing:
        found = ", ".join(names) if names else "none"
        raise PredictionFileError(
            f"The file has no {' or '.join(repr(m) for m in missing)} column "
            f"(columns found: {found}); it needs 'id' and 'prediction'."
        )
    if table.num_rows == 0:
        raise PredictionFileError("The file has no rows.")
    keep = [name for name in ("id", "prediction", "task") if name in names]
    # CSV reading yields a chunk per block; the checks want whole columns.
    table = table.select(keep).combine_chunks()
    ids = as_array(table.column("id"))
    if pa.types.is_floating(ids.type):
        ids = pc.cast(pc.cast(ids, pa.int64(), safe=False), pa.string())  # 1.0 → "1"
    elif not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        try:
            ids = pc.cast(ids, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise PredictionFileError("The 'id' column must hold strings or integers.") from None
    ids = _strip(pc.cast(ids, pa.string()))
    table = table.set_column(0, "id", ids)
    if "task" in keep:
        table = table.set_column(keep.index("task"), "task", pc.cast(table["task"], pa.string()))
    empty = pc.sum(pc.or_kleene(pc.is_null(ids), pc.equal(ids, ""))).as_py() or 0
    if empty:
        raise PredictionFileError(
            f"{_plural(empty, 'row')} of the file {'has' if empty == 1 else 'have'} an empty id."
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


def as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array. (ChunkedArray.combine_chunks copies even a single chunk, which for
    a million texts is tens of milliseconds.)"""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def same_ids(ids: pa.Array, gold_ids: pa.Array) -> bool:
    """Whether `ids` are exactly `gold_ids`, in the same order (no nulls)."""
    if len(ids) != len(gold_ids) or ids.null_count or gold_ids.null_count:
        return False
    return bool(pc.all(pc.equal(ids, gold_ids)).as_py())


def check_predictions(
    task_spec: dict, gold_ids: pa.Array | pa.ChunkedArray, predictions: pa.Table
) -> pa.Table:
    """Check that the file covers every gold id exactly once and that each prediction has the
    type the task needs. Returns an `id`/`prediction` table in the order of `gold_ids`, with
    normalised types (label names for classification, dictionary-encoded; list<string> for token
    classification, strings for QA and generation, float64 for regression). Rows of other tasks
    (a `task` column naming another slug) are ignored. Raises PredictionFileError listing every
    problem found. Gold ids are unique (the bundle import checks it)."""
    if "task" in predictions.column_names and task_spec.get("slug"):
        task = predictions["task"]
        other = pc.fill_null(pc.not_equal(task, task_spec["slug"]), False)
        other = pc.and_(other, pc.not_equal(pc.fill_null(task, ""), ""))
        predictions = predictions.filter(pc.invert(other))
    ids = as_array(predictions["id"]) if predictions.num_rows else pa.array([], pa.string())
    ids = pc.cast(ids, pa.string())
    gold_ids = pc.cast(as_array(gold_ids), pa.string())
    prediction, messages = normalise_predictions(
        task_spec, ids, as_array(predictions["prediction"])
    )
    if same_ids(ids, gold_ids):
        # Files usually list the ids in the order they were handed out: one comparison shows
        # that each is there exactly once, and the rows need no reordering.
        if messages:
            raise PredictionFileError(messages)
        return pa.table({"id": gold_ids, "prediction": prediction})
    # One hash lookup answers everything: which gold row each file row is (null = unknown id),
    # and, counted per gold row, which ids are missing (0) or duplicated (>1).
    positions = np.asarray(pc.fill_null(pc.index_in(ids, value_set=gold_ids), -1), np.int64)
    messages = coverage_messages(gold_ids, ids, positions) + messages
    if messages:
        raise PredictionFileError(messages)
    order = np.empty(len(gold_ids), dtype=np.int64)
    order[positions] = np.arange(len(positions))
    return pa.table({"id": gold_ids, "prediction": pc.take(prediction, order)})


def coverage_messages(gold_ids: pa.Array, ids: pa.Array, positions: np.ndarray) -> list[str]:
    """Missing, duplicated and unknown ids, a few of each shown (ids are not labels).
    `positions` holds each file row's index among the gold ids, -1 for unknown ids."""
    messages = []
    known = positions >= 0
    counts = np.bincount(positions[known], minlength=len(gold_ids))
    missing = gold_ids.filter(pa.array(counts == 0))
    if len(missing):
        messages.append(
            f"{_plural(len(missing), 'id')} of the task {'is' if len(missing) == 1 else 'are'} "
            f"missing from the file, e.g. {_examples(missing.to_pylist())}."
        )
    dup = gold_ids.filter(pa.array(counts > 1))
    if len(dup):
        messages.append(
            f"{_plural(len(dup), 'id')} {'appears' if len(dup) == 1 else 'appear'} more than "
            "once in the file, "
            f"e.g. {_examples(dup.to_pylist())}."
        )
    unknown = ids.filter(pa.array(~known)).unique()
    if len(unknown):
        messages.append(
            f"{_plural(len(unknown), 'id')} in the file {'is' if len(unknown) == 1 else 'are'} "
            f"not ids of this task, e.g. {_examples(unknown.to_pylist())}."
        )
    return messages


def normalise_predictions(
    task_spec: dict, ids: pa.Array, prediction: pa.Array
) -> tuple[pa.Array, list[str]]:
    """The prediction column converted to the task type's form, and messages for bad rows."""
    task_type = task_spec["type"]
    if task_type in tasktypes.CLASSIFICATION_TYPES:
        return _classification(task_spec["columns"]["labels"], ids, prediction)
    if task_type == tasktypes.TOKEN_CLASSIFICATION:
        return _tag_lists(ids, prediction)
    if task_type in (tasktypes.QUESTION_ANSWERING, tasktypes.TEXT_GENERATION):
        return _texts(ids, prediction)
    if task_type == tasktypes.REGRESSION:
        return _numbers(ids, prediction)
    raise ValueError(f"unknown task type {task_type!r}")


def _bad_rows_message(
    what: str, ids: pa.Array, mask: np.ndarray, values: list | None = None
) -> str:
    bad_ids = ids.filter(pa.array(mask)).to_pylist()
    text = f"{_plural(len(bad_ids), 'prediction')} {what}, e.g. at id {_examples(bad_ids)}"
    if values:
        text += f" (values {_examples(values)})"
    return text + "."


def _classification(labels: Sequence[str], ids: pa.Array, prediction: pa.Array):
    labels = [str(label) for label in labels]
    label_array = pa.array(labels, pa.string())
    dictionary = pa.types.is_dictionary(prediction.type)
    value_type = prediction.type.value_type if dictionary else prediction.type
    if not (
        pa.types.is_integer(value_type)
        or pa.types.is_floating(value_type)
        or pa.types.is_string(value_type)
        or pa.types.is_large_string(value_type)
    ):
        return prediction, [
            f"The prediction column must hold label names or indices, not {prediction.type}."
        ]
    # A million predictions hold a handful of distinct values: each is read once. The result
    # keeps the rows' dictionary indices and swaps the dictionary for the label names.
    encoded = prediction if dictionary else pc.dictionary_encode(prediction)
    codes = _value_codes(encoded.dictionary, label_array)
    valid = pc.and_kleene(pc.greater_equal(codes, 0), pc.less(codes, len(labels)))
    valid = pc.fill_null(valid, False)
    if encoded.indices.null_count or not np.asarray(valid).all():
        bad = np.asarray(pc.invert(pc.fill_null(pc.take(valid, encoded.indices), False)))
        values = pc.unique(pc.cast(prediction, value_type).filter(pa.array(bad))).to_pylist()
        return prediction, [
            f"{_plural(int(bad.sum()), 'prediction')} {'is' if bad.sum() == 1 else 'are'} not a "
            f"label name or index: {_examples(values)}; allowed are {_examples(labels, 20)} "
            f"or an index from 0 to {len(labels) - 1}."
        ]
    names = pc.take(label_array, codes)
    return pa.DictionaryArray.from_arrays(encoded.indices, names), []


def _value_codes(values: pa.Array, label_array: pa.Array) -> pa.Array:
    """Label index (int64; null if none) of each distinct prediction value."""
    if pa.types.is_integer(values.type):
        return pc.cast(values, pa.int64())
    if pa.types.is_floating(values.type):
        whole = pc.equal(pc.floor(values), values)
        return pc.if_else(whole, pc.cast(values, pa.int64(), safe=False), None)
    text = pc.utf8_trim_whitespace(values)
    codes = pc.index_in(text, value_set=label_array)
    # Not a label name: maybe an index ("0", "1"); names win where both would match.
    if codes.null_count:
        as_int = pc.if_else(
            pc.match_substring_regex(text, r"^-?\d{1,9}$"), text, pa.scalar(None, pa.string())
        )
        codes = pc.coalesce(codes, pc.cast(as_int, pa.int64()))
    return pc.cast(codes, pa.int64())


def _tag_lists(ids: pa.Array, prediction: pa.Array):
    type_ = prediction.type
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        if pa.types.is_null(type_.value_type) or pa.types.is_string(type_.value_type):
            out = pc.cast(prediction, pa.list_(pa.string()))
            return _no_null_lists(ids, out)
        return prediction, ["The prediction column must hold lists of tag strings."]
    if not pa.types.is_string(type_) and not pa.types.is_large_string(type_):
        return prediction, ["The prediction column must hold lists of tags."]
    parsed: list[list[str] | None] = []
    bad = np.zeros(len(prediction), dtype=bool)
    for i, text in enumerate(prediction.to_pylist()):
        value = None
        if text is not None:
            try:
                value = json.loads(text)
            except ValueError:
                value = None
        if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
            parsed.append(value)
        else:
            parsed.append(None)
            bad[i] = True
    if bad.any():
        return prediction, [_bad_rows_message("are not a JSON list of tag strings", ids, bad)]
    return pa.array(parsed, pa.list_(pa.string())), []


def _no_null_lists(ids: pa.Array, out: pa.Array):
    null_rows = np.asarray(pc.is_null(out))
    flat_null = pc.is_null(pc.list_flatten(out))
    if null_rows.any():
        return out, [_bad_rows_message("are empty instead of a list of tags", ids, null_rows)]
    if pc.any(flat_null).as_py():
        parents = np.asarray(pc.list_parent_indices(out))[np.asarray(flat_null)]
        mask = np.zeros(len(out), dtype=bool)
        mask[parents] = True
        return out, [_bad_rows_message("contain a null tag", ids, mask)]
    return out, []


def _texts(ids: pa.Array, prediction: pa.Array):
    type_ = prediction.type
    if pa.types.is_null(type_):
        return pa.array([""] * len(prediction), pa.string()), []
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        # A missing answer (null) means "no answer", the same as "".
        return pc.fill_null(pc.cast(prediction, pa.string()), ""), []
    if pa.types.is_integer(type_) or pa.types.is_floating(type_):
        return pc.fill_null(pc.cast(prediction, pa.string()), ""), []
    return prediction, [f"The prediction column must hold text, not {type_}."]


def _numbers(ids: pa.Array, prediction: pa.Array):
    type_ = prediction.type
    if pa.types.is_integer(type_) or pa.types.is_floating(type_):
        values = pc.cast(prediction, pa.float64())
        shown = None
    elif pa.types.is_string(type_) or pa.types.is_large_string(type_):
        # CSV cells arrive as text: parse them in pyarrow, no Python float per row.
        text = pc.utf8_trim_whitespace(prediction)
        numeric = pc.fill_null(pc.match_substring_regex(text, NUMBER_PATTERN), False)
        values = pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.float64())
        shown = prediction
    else:
        return prediction, [f"The prediction column must hold numbers, not {type_}."]
    array = np.asarray(pc.fill_null(values, math.nan), dtype=np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        examples = None
        if shown is not None:
            examples = shown.filter(pa.array(bad)).slice(0, MAX_EXAMPLES).to_pylist()
        return prediction, [_bad_rows_message("are not finite numbers", ids, bad, examples)]
    return pa.array(array, pa.float64()), []


def raise_row_errors(problems: Sequence[str], total: int) -> None:
    """Raise a PredictionFileError for per-row mismatches found while scoring (e.g. tag list
    lengths), showing the first few; `total` is how many rows are affected."""
    if total:
        shown = "; ".join(problems[:MAX_EXAMPLES])
        more = f" (and {total - MAX_EXAMPLES} more)" if total > MAX_EXAMPLES else ""
        raise PredictionFileError(
            f"{_plural(total, 'prediction')} do not fit the task: {shown}{more}."
        )
