"""Reading what per-example views show: the public split's rows and the per-example artifact.

The split's side (`split_rows`) is its ids, displayable inputs, searchable texts and gold values
as people read them (label names, QA answer texts), read only for PUBLIC splits and kept per
split fingerprint; `image_bytes` serves one row's image input, sniffed to a known type. The
evaluation's side (`examples_for`) is the artifact (`Evaluation.examples`, Parquet, one row per
gold row: `id`, `prediction`, `score`, `correct`, `cell:<slice>`), read with pyarrow, only the
columns needed, aligned to the split's order and kept per evaluation and file name in a small
LRU. `example_rows` turns positions into the row dicts the browser and comparisons show.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.http import Http404

from benchmarks.models import Split, Task
from scoring.predictions import as_array, same_ids
from scoring.tasktypes import CLASSIFICATION_TYPES
from submissions.models import Evaluation

logger = logging.getLogger(__name__)

CELL_PREFIX = "cell:"

# Image bytes served as thumbnails: only these types, recognised by their first bytes.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class _LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, compute):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
                return value
        value = compute()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_SPLIT_ROWS = _LRU(8)
_EXAMPLES = _LRU(32)


def clear_caches() -> None:
    _SPLIT_ROWS.clear()
    _EXAMPLES.clear()


# ---------------------------------------------------------------------------------------------
# The public split's side: ids, inputs and gold labels as shown.


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _string_ids(column) -> pa.Array:
    column = as_array(column)
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _gold_display(column: pa.Array, task: Task) -> pa.Array:
    """Gold values as people read them: label names (not indices), QA answer texts."""
    t = column.type
    if pa.types.is_struct(t) and t.get_field_index("text") >= 0:  # SQuAD-style answers
        return as_array(pc.struct_field(column, "text"))
    names = [str(n) for n in task.label_names]
    if task.type in CLASSIFICATION_TYPES:
        if pa.types.is_integer(t) and names and not all(n.lstrip("-").isdigit() for n in names):
            values = column.to_pylist()
            return pa.array(
                [names[v] if v is not None and 0 <= v < len(names) else v for v in values],
                pa.string(),
            )
        return column if pa.types.is_string(t) else pc.cast(column, pa.string())
    return column


@dataclass
class SplitRows:
    """What the error browser shows of a public split's rows, in the split's order."""

    ids: pa.Array
    inputs: dict[str, pa.Array]  # displayable inputs (no bytes); empty if not downloadable
    image_column: str | None
    texts: list[pa.Array]  # searchable text of each text input
    gold: pa.Array
    shows_inputs: bool

    @cached_property
    def positions(self) -> dict[str, int]:
        return {row_id: i for i, row_id in enumerate(self.ids.to_pylist())}


def split_rows(split: Split, task: Task) -> SplitRows:
    """The public split's ids, inputs and gold labels, kept per split fingerprint. Refuses any
    other role: a hidden split's labels are never read for display."""
    if split.role != Split.Role.PUBLIC:
        raise ValueError("Only public splits' rows are shown.")
    key = (split.pk, split.fingerprint, task.id_column, tuple(task.input_columns))
    key += (task.label_column, tuple(task.label_names), split.inputs_downloadable)

    def read() -> SplitRows:
        with split.data.open("rb") as f:
            schema = pq.ParquetFile(f).schema_arrow
        present = set(schema.names)
        inputs = [c for c in task.input_columns if c in present]
        binary = {c for c in inputs if _is_binary(schema.field(c).type)}
        shown = [c for c in inputs if c not in binary] if split.inputs_downloadable else []
        columns = [task.id_column, task.label_column, *shown]
        with split.data.open("rb") as f:
            table = pq.read_table(f, columns=list(dict.fromkeys(columns)))
        values = {c: as_array(table[c]) for c in shown}
        texts = []
        for c in shown:
            t = values[c].type
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                texts.append(values[c])
            elif _is_list(t) and pa.types.is_string(t.value_type):
                texts.append(pc.binary_join(values[c], " "))
        image = next(iter(sorted(binary, key=inputs.index)), None)
        return SplitRows(
            ids=_string_ids(table[task.id_column]),
            inputs=values,
            image_column=image if split.inputs_downloadable else None,
            texts=texts,
            gold=_gold_display(as_array(table[task.label_column]), task),
            shows_inputs=split.inputs_downloadable,
        )

    return _SPLIT_ROWS.get(key, read)


def image_bytes(split: Split, task: Task, row_id: str) -> tuple[bytes, str]:
    """The image input of one public-split row and its sniffed type. Reads only the row group
    that holds it. Raises Http404 for a row that is not there or bytes of another type."""
    rows = split_rows(split, task)
    position = rows.positions.get(row_id)
    if rows.image_column is None or position is None:
        raise Http404("No such image.")
    with split.data.open("rb") as f:
        parquet = pq.ParquetFile(f)
        start = 0
        for group in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if position < start + size:
                column = parquet.read_row_group(group, columns=[rows.image_column])
                value = column.column(0)[position - start].as_py()
                break
            start += size
        else:
            value = None
    content_type = sniff_image(value)
    if content_type is None:
        raise Http404("No such image.")
    return value, content_type


def sniff_image(data) -> str | None:
    if not isinstance(data, bytes):
        return None
    for signature, content_type in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


# ---------------------------------------------------------------------------------------------
# The per-example artifact, aligned to the split's order.


@dataclass
class Examples:
    """One evaluation's per-example results, in the split's gold order."""

    prediction: pa.Array | None
    score: np.ndarray  # float64, NaN where missing
    correct: pa.Array  # bool, null where meaningless
    cells: dict[str, pa.Array] = field(default_factory=dict)  # slice name → cell per row
    orders: dict[str, np.ndarray] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @cached_property
    def cell_options(self) -> dict[str, list[str]]:
        return {
            name: sorted(v for v in pc.unique(column).to_pylist() if v is not None)
            for name, column in self.cells.items()
        }

    @cached_property
    def has_correct(self) -> bool:
        return len(self.correct) > 0 and self.correct.null_count < len(self.correct)


class ExamplesUnavailable(Exception):
    pass


def examples_for(evaluation: Evaluation, gold_ids: pa.Array, *, with_prediction: bool = True):
    """The evaluation's artifact aligned to `gold_ids` (the split's ids in order). Raises
    ExamplesUnavailable when there is none or it does not cover the split."""
    name = evaluation.examples.name if evaluation.examples else ""
    if not name:
        raise ExamplesUnavailable(
            "No per-example results were kept for this evaluation (it was scored before they were)."
        )
    key = (evaluation.pk, name, evaluation.split.fingerprint, with_prediction)

    def read() -> Examples:
        try:
            with evaluation.examples.open("rb") as f:
                parquet = pq.ParquetFile(f)
                names = parquet.schema_arrow.names
                cells = [n for n in names if n.startswith(CELL_PREFIX)]
                wanted = ["id", "score", "correct", *cells]
                if with_prediction:
                    wanted.append("prediction")
                table = parquet.read(columns=[n for n in wanted if n in names])
        except (OSError, ValueError, pa.ArrowException) as exc:
            logger.warning("Examples of evaluation %s unreadable (%s)", evaluation.pk, exc)
            raise ExamplesUnavailable("The per-example results could not be read.") from None
        if "id" not in table.column_names or "score" not in table.column_names:
            raise ExamplesUnavailable("The per-example results are incomplete.")
        ids = _string_ids(table["id"])
        if not same_ids(ids, gold_ids):
            positions = pc.index_in(gold_ids, value_set=ids)
            if positions.null_count or len(ids) != len(gold_ids):
                raise ExamplesUnavailable("The per-example results do not match the split.")
            table = table.take(positions)
        n = table.num_rows
        score = as_array(table["score"]).cast(pa.float64())
        correct = (
            as_array(table["correct"]).cast(pa.bool_())
            if "correct" in table.column_names
            else pa.nulls(n, pa.bool_())
        )
        cells = {
            c.removeprefix(CELL_PREFIX): _string_ids(table[c])
            for c in table.column_names
            if c.startswith(CELL_PREFIX)
        }
        has_prediction = "prediction" in table.column_names
        return Examples(
            prediction=as_array(table["prediction"]) if has_prediction else None,
            score=np.asarray(pc.fill_null(score, math.nan).to_numpy(zero_copy_only=False)),
            correct=correct,
            cells=cells,
        )

    return _EXAMPLES.get(key, read)


# ---------------------------------------------------------------------------------------------
# Rows at positions, as shown.


def _take(array: pa.Array | None, indices: pa.Array) -> list:
    if array is None:
        return [None] * len(indices)
    return array.take(indices).to_pylist()


def _clean_number(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


def example_rows(
    rows: SplitRows, examples: list[Examples], positions: np.ndarray, *, image_url=None
) -> list[list[dict]]:
    """Rows at `positions`: per Examples, a list of row dicts sharing ids, inputs and gold."""
    indices = pa.array(np.asarray(positions, dtype=np.int64))
    ids = rows.ids.take(indices).to_pylist()
    inputs = {c: v.take(indices).to_pylist() for c, v in rows.inputs.items()}
    gold = rows.gold.take(indices).to_pylist()
    out = []
    for ex in examples:
        predictions = _take(ex.prediction, indices)
        correct = ex.correct.take(indices).to_pylist()
        cells = {name: column.take(indices).to_pylist() for name, column in ex.cells.items()}
        scores = ex.score[np.asarray(positions, dtype=np.int64)]
        shown = []
        for i, row_id in enumerate(ids):
            row_inputs = {c: values[i] for c, values in inputs.items()}
            if rows.image_column:
                row_inputs[rows.image_column] = (
                    {"image": image_url(row_id)} if image_url else {"image": None}
                )
            shown.append(
                {
                    "id": row_id,
                    "inputs": row_inputs,
                    "gold": gold[i],
                    "prediction": _clean_number(predictions[i]),
                    "score": _clean_number(float(scores[i])),
                    "correct": correct[i],
                    "cells": {name: values[i] for name, values in cells.items()},
                }
            )
        out.append(shown)
    return out
