"""What reading and checking share: the limits, the error type, message helpers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

FORMATS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
COLUMNS = ("id", "prediction", "task")  # the columns that are read; others are skipped
MAX_EXAMPLES = 5
EXAMPLE_CHARS = 40  # a value quoted in a message is cut to this: a cell may be megabytes
# A decimal number as text: what a regression prediction may be in a CSV cell.
NUMBER_PATTERN = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"
# CSV is parsed in blocks (on several threads); a row may not be longer than one.
CSV_BLOCK_BYTES = 4 << 20
CHUNK_BYTES = 1 << 20  # pieces in which files are inflated, scanned and validated
# The first line of a CSV file names a handful of columns.
MAX_HEADER_BYTES = 64 << 10
# A line of a JSON lines file holds one row: an id and a prediction (a text of at most
# Limits.max_text_chars, a tag list with a tag per input token).
MAX_JSON_LINE_BYTES = 1 << 20
# pyarrow's JSON parser recurses once per level of nesting, and a deep enough line crashes the
# process instead of raising. A line with more opening brackets than this (a bound on its depth,
# strings included) is parsed by Python's json instead, which raises RecursionError.
MAX_PYARROW_JSON_BRACKETS = 256
# A JSON array is one document, parsed whole by Python's json into objects that take up to
# twenty times its text: it may be at most this fraction of the decoded-size cap (JSON lines,
# read by pyarrow a line at a time, have no such limit).
JSON_ARRAY_FRACTION = 10
# The Parquet footer has an entry per row group and column: a few kilobytes for real files.
MAX_PARQUET_FOOTER_BYTES = 1 << 20
# A token-classification tag is a label name; without label names, at most this long.
MAX_TAG_CHARS = 100


@dataclass(frozen=True)
class Limits:
    """What one prediction file may hold (docs/formats.md, "Prediction files").

    `max_bytes` caps the decoded size (after gzip or unzipping); `max_rows` the rows (None: no
    cap); `max_columns` the columns; `max_text_chars` one text prediction (question answering,
    generation) and `max_mean_text_chars` the text predictions of a file, per id on average."""

    max_bytes: int = 200 << 20
    max_rows: int | None = None
    max_columns: int = 8
    max_text_chars: int = 20_000
    max_mean_text_chars: int = 2_000


DEFAULT_LIMITS = Limits()


class PredictionFileError(ValueError):
    """A prediction file that cannot be scored; `messages` are participant-safe sentences."""

    def __init__(self, messages: str | Sequence[str]):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


def quote(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def some_of(values: Sequence[Any], limit: int = MAX_EXAMPLES) -> str:
    text = ", ".join(quote(v) for v in values[:limit])
    return text + (", …" if len(values) > limit else "")


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def megabytes(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 10 * 2**20 else f"{n / 2**20:.1f} MB"


def as_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array. (ChunkedArray.combine_chunks copies even a single chunk, which for
    a million texts is tens of milliseconds.)"""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column
