"""Automatic slices (docs/formats.md): slice specs that every task of a type gets without its
author writing them, derived from the task spec and the split's frozen gold table alone.

The same table always gives the same specs: data-derived bin edges are quantiles rounded to
fixed grids. Every spec carries `auto: true`, specs that read the label column
`label_dependent: true`, and each is computable by `scoring.slices.slice_cells`. A spec whose
name an author slice already uses is dropped: the author's wins.

Cells by *predicted* label (classification) depend on predictions, so they are no spec here:
`scoring.evaluation.score_split` adds them (`by_prediction: true`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from scoring import tasktypes
from scoring.predictions import as_array
from scoring.slices import (
    _bin_cells,
    distinct_texts,
    measured,
    question_overlap,
    slice_cells,
    word_counts,
)

INPUT_LENGTH = "input length"
GOLD_LABEL = "gold label"
PREDICTED_LABEL = "predicted label"
ENTITY_TYPE = "entity type"
ANSWERABLE = "answerable"
QUESTION_WORD = "question word"
OVERLAP = "question-context overlap"
ANSWER_LENGTH = "answer length"
REFERENCE_LENGTH = "reference length"
TARGET_VALUE = "target value"

OVERLAP_BINS = [0, 0.25, 0.5, 0.75]
ANSWER_LENGTH_BINS = [1, 2, 4, 8]
LENGTH_QUANTILES = (0.2, 0.4, 0.6, 0.8)
VALUE_QUANTILES = (0.25, 0.5, 0.75)

Partition = tuple[dict, np.ndarray, list[str]]
# Errors that mean "this automatic slice does not apply to this table": it is skipped.
SKIPPED = (KeyError, IndexError, TypeError, ValueError, re.error, pa.ArrowException)


def automatic_columns(task_spec: dict) -> list[str]:
    """The gold columns `automatic_specs` may read, so that a caller reads only those."""
    task_type = task_spec["type"]
    columns = task_spec["columns"]
    inputs = list(columns.get("inputs") or [])
    wanted = [] if task_type == tasktypes.IMAGE_CLASSIFICATION else inputs
    if task_type == tasktypes.QUESTION_ANSWERING:
        wanted = inputs[:2]
    return list(dict.fromkeys([*wanted, columns["label"]]))


def automatic_specs(task_spec: dict, gold: pa.Table) -> list[dict]:
    """The automatic slice specs of a task on a split's gold table (see the module doc)."""
    return [spec for spec, _, _ in automatic_partitions(task_spec, gold)]


def automatic_partitions(
    task_spec: dict, gold: pa.Table, *, measures: dict | None = None
) -> list[Partition]:
    """(spec, codes, cell names) per automatic spec, computed in one pass: what
    `slice_cells(spec, gold)` gives, without measuring a column twice (`measures`: see
    `slice_cells`). Specs that cannot be computed on this table are left out."""
    measures = {} if measures is None else measures
    taken = {s.get("name") for s in task_spec.get("slices") or [] if isinstance(s, dict)}
    out: list[Partition] = []
    for make in _makers(task_spec["type"]):
        try:
            found = make(task_spec, gold, measures)
        except SKIPPED:
            continue
        if found is None or found[0]["name"] in taken:
            continue
        spec, codes, names = found
        out.append(({**spec, "auto": True}, codes, names))
    return out


def _makers(task_type: str) -> list[Callable[[dict, pa.Table, dict], Partition | None]]:
    # Slices that read inputs only come first: on hidden splits, earlier slices win.
    if task_type == tasktypes.IMAGE_CLASSIFICATION:
        return [_gold_label]
    if task_type == tasktypes.TEXT_CLASSIFICATION:
        return [_input_length, _gold_label]
    if task_type == tasktypes.TOKEN_CLASSIFICATION:
        return [_input_length, _entity_type]
    if task_type == tasktypes.QUESTION_ANSWERING:
        return [_input_length, _question_word, _overlap, _answerable, _answer_length]
    if task_type == tasktypes.TEXT_GENERATION:
        return [_input_length, _reference_length]
    if task_type == tasktypes.REGRESSION:
        return [_input_length, _target_value]
    return []


def _label(task_spec: dict) -> str:
    return task_spec["columns"]["label"]


def _text_input(task_spec: dict, gold: pa.Table) -> str | None:
    """The input whose length is measured: the context for QA, else the first text input (a
    string column, or a list of strings such as tokens)."""
    inputs = list(task_spec["columns"].get("inputs") or [])
    if task_spec["type"] == tasktypes.QUESTION_ANSWERING:
        inputs = inputs[1:2]
    for name in inputs:
        if name not in gold.column_names:
            continue
        type_ = gold.schema.field(name).type
        if pa.types.is_dictionary(type_):
            type_ = type_.value_type
        if pa.types.is_list(type_) or pa.types.is_large_list(type_):
            type_ = type_.value_type
        if pa.types.is_string(type_) or pa.types.is_large_string(type_):
            return name
    return None


def nice_number(value: float) -> float:
    """`value` rounded to the nearest of 1, 2, 5 × 10^k (nearest on a log scale)."""
    exponent = math.floor(math.log10(value))
    mantissa = value / 10.0**exponent
    step = 1 if mantissa < math.sqrt(2) else 2 if mantissa < math.sqrt(10) else 5
    if mantissa >= math.sqrt(50):
        step = 10
    result = step * 10.0**exponent
    return float(round(result)) if result >= 1 else float(f"{result:.1g}")


def quantiles(values: np.ndarray, qs) -> np.ndarray:
    """`np.quantile(values, qs)` (linear interpolation), the same numbers. Whole numbers from 0
    (word and character counts) go through their histogram: one counting pass instead of a
    partial sort per quantile, a fifth of the time on a million rows."""
    values = np.asarray(values)
    whole = values.astype(np.int64)
    if len(values) and whole.min() >= 0 and whole.max() < 1 << 24 and np.array_equal(whole, values):
        below_or_at = np.cumsum(np.bincount(whole))  # rows with a value <= v, for every v
        position = (len(values) - 1) * np.asarray(qs, dtype=np.float64)
        low = np.floor(position).astype(np.int64)
        at_low = np.searchsorted(below_or_at, low, side="right")
        at_next = np.searchsorted(below_or_at, np.minimum(low + 1, len(values) - 1), side="right")
        return at_low + (position - low) * (at_next - at_low)
    return np.quantile(values, qs)


def length_edges(lengths: np.ndarray) -> list[float]:
    """Bin edges for word counts: quantiles of the split rounded to nice numbers (1, 2, 5 ×
    10^k), deduplicated, keeping only edges with rows on both sides (so at most 5 cells)."""
    values = lengths[np.isfinite(lengths)]
    if not len(values):
        return []
    quantiles_found = quantiles(values, LENGTH_QUANTILES)
    edges = sorted({nice_number(float(q)) for q in quantiles_found if q >= 1})
    low, high = float(values.min()), float(values.max())
    return [int(e) if e.is_integer() else e for e in edges if low < e <= high]


def value_edges(values: np.ndarray) -> list[float]:
    """Bin edges for numeric targets: quartiles rounded to two significant digits,
    deduplicated, with rows on both sides of each (so about 4 cells)."""
    values = values[np.isfinite(values)]
    if not len(values):
        return []
    quantiles = np.quantile(values, VALUE_QUANTILES)
    edges = sorted({float(f"{float(q):.2g}") for q in quantiles})
    low, high = float(values.min()), float(values.max())
    return [e for e in edges if low < e <= high]


def _length_binned(spec: dict, lengths: np.ndarray) -> Partition | None:
    """Length bins from 0 (a length is never negative): cells `[0,5)`, `[5,10)`, …"""
    edges = length_edges(lengths)
    return _binned(spec, lengths, [0, *edges]) if edges else None


def _binned(spec: dict, values: np.ndarray, edges: list[float]) -> Partition | None:
    if not edges:
        return None  # one cell would only repeat the whole split
    spec = {**spec, "bins": edges}
    codes, names = _bin_cells(values, edges, spec.get("missing") or "(missing)")
    return spec, codes, names


def _distinct(gold: pa.Table, name: str, measures: dict) -> pa.DictionaryArray:
    """`distinct_texts` of a gold column, once per scoring (`measures`)."""
    key = (name, "distinct")
    if key not in measures:
        measures[key] = distinct_texts(as_array(gold[name]))
    return measures[key]


def _input_length(task_spec: dict, gold: pa.Table, measures: dict) -> Partition | None:
    name = _text_input(task_spec, gold)
    if name is None:
        return None
    text = not pa.types.is_list(gold.schema.field(name).type)
    if (
        task_spec["type"] == tasktypes.QUESTION_ANSWERING
        and text
        and (name, "words") not in measures
    ):
        # Contexts repeat (several questions per paragraph): count each distinct one once.
        contexts = _distinct(gold, name, measures)
        counts = word_counts(contexts.dictionary)
        measures[name, "words"] = counts[np.asarray(contexts.indices, dtype=np.int64)]
    lengths = measured(gold, name, "words", measures)
    spec = {"name": INPUT_LENGTH, "column": name, "measure": "words"}
    return _length_binned(spec, lengths)


def _from_spec(spec: dict, gold: pa.Table) -> Partition:
    codes, names = slice_cells(spec, gold)
    return spec, codes, names


def _gold_label(task_spec: dict, gold: pa.Table, measures: dict) -> Partition:
    labels = [str(label) for label in task_spec["columns"]["labels"]]
    spec = {
        "name": GOLD_LABEL,
        "column": _label(task_spec),
        "kind": "labels",
        "labels": labels,
        "label_dependent": True,
    }
    return _from_spec(spec, gold)


def _entity_type(task_spec: dict, gold: pa.Table, measures: dict) -> Partition:
    spec = {
        "name": ENTITY_TYPE,
        "column": _label(task_spec),
        "kind": "entities",
        "unit": "entities",
        "label_dependent": True,
    }
    return _from_spec(spec, gold)


def _question_word(task_spec: dict, gold: pa.Table, measures: dict) -> Partition:
    question = task_spec["columns"]["inputs"][0]
    return _from_spec({"name": QUESTION_WORD, "column": question, "kind": "question word"}, gold)


def _overlap(task_spec: dict, gold: pa.Table, measures: dict) -> Partition:
    question, context = task_spec["columns"]["inputs"][:2]
    spec = {
        "name": OVERLAP,
        "column": question,
        "context": context,
        "measure": "overlap",
        "bins": list(OVERLAP_BINS),
        "missing": "no words",
    }
    values = question_overlap(
        as_array(gold[question]),
        as_array(gold[context]),
        contexts=_distinct(gold, context, measures),
    )
    codes, names = _bin_cells(values, OVERLAP_BINS, spec["missing"])
    return spec, codes, names


def _answerable(task_spec: dict, gold: pa.Table, measures: dict) -> Partition | None:
    spec = {
        "name": ANSWERABLE,
        "column": _label(task_spec),
        "kind": "answerable",
        "label_dependent": True,
    }
    spec, codes, names = _from_spec(spec, gold)
    if len(np.unique(codes)) < 2:
        return None  # all answerable (SQuAD v1): one cell would repeat the split
    return spec, codes, names


def _answer_length(task_spec: dict, gold: pa.Table, measures: dict) -> Partition:
    spec = {
        "name": ANSWER_LENGTH,
        "column": _label(task_spec),
        "measure": "first words",
        "bins": list(ANSWER_LENGTH_BINS),
        "missing": "unanswerable",
        "label_dependent": True,
    }
    return _from_spec(spec, gold)


def _reference_length(task_spec: dict, gold: pa.Table, measures: dict) -> Partition | None:
    label = _label(task_spec)
    lengths = measured(gold, label, "first words", measures)
    spec = {
        "name": REFERENCE_LENGTH,
        "column": label,
        "measure": "first words",
        "label_dependent": True,
    }
    return _length_binned(spec, lengths)


def _target_value(task_spec: dict, gold: pa.Table, measures: dict) -> Partition | None:
    label = _label(task_spec)
    values = measured(gold, label, "value", measures)
    spec = {"name": TARGET_VALUE, "column": label, "measure": "value", "label_dependent": True}
    return _binned(spec, values, value_edges(values))
