"""Checking predictions against a task's ids and type: coverage, labels, tags, texts, numbers."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring import tasktypes
from scoring.predictions.common import (
    DEFAULT_LIMITS,
    EXAMPLE_CHARS,
    MAX_EXAMPLES,
    MAX_TAG_CHARS,
    NUMBER_PATTERN,
    Limits,
    PredictionFileError,
    as_array,
    plural,
    some_of,
)


def same_ids(ids: pa.Array, gold_ids: pa.Array) -> bool:
    """Whether `ids` are exactly `gold_ids`, in the same order (no nulls)."""
    if len(ids) != len(gold_ids) or ids.null_count or gold_ids.null_count:
        return False
    return bool(pc.all(pc.equal(ids, gold_ids)).as_py())


def check_predictions(
    task_spec: dict,
    gold_ids: pa.Array | pa.ChunkedArray,
    predictions: pa.Table,
    limits: Limits = DEFAULT_LIMITS,
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
        task_spec, ids, as_array(predictions["prediction"]), limits, expected=len(gold_ids)
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


def _first(values: pa.Array) -> list:
    """The first few values, and one more to say there are others (a file may hold a million
    unknown ids: only those shown become Python objects)."""
    return values.slice(0, MAX_EXAMPLES + 1).to_pylist()


def coverage_messages(gold_ids: pa.Array, ids: pa.Array, positions: np.ndarray) -> list[str]:
    """Missing, duplicated and unknown ids, a few of each shown (ids are not labels).
    `positions` holds each file row's index among the gold ids, -1 for unknown ids."""
    messages = []
    known = positions >= 0
    counts = np.bincount(positions[known], minlength=len(gold_ids))
    missing = gold_ids.filter(pa.array(counts == 0))
    if len(missing):
        messages.append(
            f"{plural(len(missing), 'id')} of the task {'is' if len(missing) == 1 else 'are'} "
            f"missing from the file, e.g. {some_of(_first(missing))}."
        )
    dup = gold_ids.filter(pa.array(counts > 1))
    if len(dup):
        messages.append(
            f"{plural(len(dup), 'id')} {'appears' if len(dup) == 1 else 'appear'} more than "
            "once in the file, "
            f"e.g. {some_of(_first(dup))}."
        )
    unknown = ids.filter(pa.array(~known)).unique()
    if len(unknown):
        messages.append(
            f"{plural(len(unknown), 'id')} in the file "
            f"{'is not an id' if len(unknown) == 1 else 'are not ids'} of this task, "
            f"e.g. {some_of(_first(unknown))}."
        )
    return messages


def normalise_predictions(
    task_spec: dict,
    ids: pa.Array,
    prediction: pa.Array,
    limits: Limits = DEFAULT_LIMITS,
    expected: int | None = None,
) -> tuple[pa.Array, list[str]]:
    """The prediction column converted to the task type's form, and messages for bad rows.
    `expected` is how many ids the task has (the per-file text budget counts them)."""
    task_type = task_spec["type"]
    if task_type in tasktypes.CLASSIFICATION_TYPES:
        return _classification(task_spec["columns"]["labels"], ids, prediction)
    prediction = _expanded(prediction)
    if task_type == tasktypes.TOKEN_CLASSIFICATION:
        labels = task_spec["columns"].get("labels") or []
        return _tag_lists(ids, prediction, max([MAX_TAG_CHARS, *(len(str(x)) for x in labels)]))
    if task_type in (tasktypes.QUESTION_ANSWERING, tasktypes.TEXT_GENERATION):
        return _texts(ids, prediction, limits, len(ids) if expected is None else expected)
    if task_type == tasktypes.REGRESSION:
        return _numbers(ids, prediction)
    raise ValueError(f"unknown task type {task_type!r}")


def _expanded(prediction: pa.Array) -> pa.Array:
    """Dictionary-encoded values (as Parquet may store them) as plain ones. (The reader has
    counted what they take expanded.)"""
    type_ = prediction.type
    if pa.types.is_dictionary(type_):
        return pc.cast(prediction, type_.value_type)
    if (pa.types.is_list(type_) or pa.types.is_large_list(type_)) and pa.types.is_dictionary(
        type_.value_type
    ):
        return pc.cast(prediction, pa.list_(type_.value_type.value_type))
    return prediction


def _type_name(type_: pa.DataType) -> str:
    text = str(type_)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


SINGULAR = {"are": "is", "hold": "holds", "contain": "contains"}


def _bad_rows_message(
    what: str, ids: pa.Array, mask: np.ndarray, values: list | None = None
) -> str:
    bad_ids = _first(ids.filter(pa.array(mask)))
    count = int(mask.sum())
    if count == 1:  # "are longer" → "is longer", "hold a tag" → "holds a tag"
        verb, rest = what.split(" ", 1)
        what = f"{SINGULAR.get(verb, verb)} {rest}"
    text = f"{plural(count, 'prediction')} {what}, e.g. at id {some_of(bad_ids)}"
    if values:
        text += f" (values {some_of(values)})"
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
            "The prediction column must hold label names or indices, "
            f"not {_type_name(prediction.type)}."
        ]
    # A million predictions hold a handful of distinct values: each is read once. The result
    # keeps the rows' dictionary indices and swaps the dictionary for the label names.
    encoded = prediction if dictionary else pc.dictionary_encode(prediction)
    codes = _value_codes(encoded.dictionary, label_array)
    valid = pc.and_kleene(pc.greater_equal(codes, 0), pc.less(codes, len(labels)))
    valid = pc.fill_null(valid, False)
    if encoded.indices.null_count or not np.asarray(valid).all():
        bad = np.asarray(pc.invert(pc.fill_null(pc.take(valid, encoded.indices), False)))
        values = _first(pc.unique(pc.cast(prediction, value_type).filter(pa.array(bad))))
        return prediction, [
            f"{plural(int(bad.sum()), 'prediction')} {'is' if bad.sum() == 1 else 'are'} not a "
            f"label name or index: {some_of(values)}; allowed are {some_of(labels, 20)} "
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
        # Whole numbers beyond int64 are no index either (a cast would overflow).
        whole = pc.and_kleene(whole, pc.less(pc.abs(values), 2.0**62))
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


def _tag_lists(ids: pa.Array, prediction: pa.Array, max_tag_chars: int):
    type_ = prediction.type
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        if pa.types.is_null(type_.value_type) or pa.types.is_string(type_.value_type):
            out = pc.cast(prediction, pa.list_(pa.string()))
            return _checked_tags(ids, out, max_tag_chars)
        return prediction, ["The prediction column must hold lists of tag strings."]
    if not pa.types.is_string(type_) and not pa.types.is_large_string(type_):
        return prediction, ["The prediction column must hold lists of tags."]
    # JSON text in each cell (CSV): parsed a batch of rows at a time, so that Python lists
    # never stand for more than a batch.
    chunks: list[pa.Array] = []
    bad = np.zeros(len(prediction), dtype=bool)
    for start in range(0, len(prediction), 1 << 16):
        parsed: list[list[str] | None] = []
        for i, text in enumerate(prediction.slice(start, 1 << 16).to_pylist(), start=start):
            value = None
            if text is not None:
                try:
                    value = json.loads(text)
                except (ValueError, RecursionError):
                    value = None
            if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
                parsed.append(value)
            else:
                parsed.append(None)
                bad[i] = True
        if not bad.any():
            try:
                chunks.append(pa.array(parsed, pa.list_(pa.string())))
            except UnicodeEncodeError:  # "\ud800" in a tag
                bad[start] = True
    if bad.any():
        return prediction, [_bad_rows_message("are not a JSON list of tag strings", ids, bad)]
    out = pa.concat_arrays(chunks) if chunks else pa.array([], pa.list_(pa.string()))
    return _checked_tags(ids, out, max_tag_chars)


def _checked_tags(ids: pa.Array, out: pa.Array, max_tag_chars: int):
    null_rows = np.asarray(pc.is_null(out))
    flat = pc.list_flatten(out)
    flat_null = pc.is_null(flat)
    if null_rows.any():
        return out, [_bad_rows_message("are empty instead of a list of tags", ids, null_rows)]
    parents = np.asarray(pc.list_parent_indices(out))
    if pc.any(flat_null).as_py():
        mask = np.zeros(len(out), dtype=bool)
        mask[parents[np.asarray(flat_null)]] = True
        return out, [_bad_rows_message("contain a null tag", ids, mask)]
    long = np.asarray(pc.greater(pc.utf8_length(flat), max_tag_chars))
    if long.any():
        mask = np.zeros(len(out), dtype=bool)
        mask[parents[long]] = True
        return out, [
            _bad_rows_message(
                f"hold a tag longer than {max_tag_chars:,} characters (tags are label names)",
                ids,
                mask,
            )
        ]
    return out, []


def _texts(ids: pa.Array, prediction: pa.Array, limits: Limits, expected: int):
    type_ = prediction.type
    if pa.types.is_null(type_):
        return pa.array([""] * len(prediction), pa.string()), []
    if not (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
    ):
        return prediction, [f"The prediction column must hold text, not {_type_name(type_)}."]
    # A missing answer (null) means "no answer", the same as "".
    out = pc.cast(prediction, pa.string())
    out = pc.fill_null(out, "") if out.null_count else out
    # Scoring time grows with the length of the texts (ROUGE-Lsum compares every pair of
    # words): each text and the file as a whole are bounded, with room to spare for real output.
    lengths = np.asarray(pc.utf8_length(out), dtype=np.int64)
    messages = []
    long = lengths > limits.max_text_chars
    if long.any():
        messages.append(
            _bad_rows_message(
                f"are longer than {limits.max_text_chars:,} characters (the longest has "
                f"{int(lengths.max()):,})",
                ids,
                long,
            )
        )
    budget = limits.max_mean_text_chars * max(expected, 1)
    if int(lengths.sum()) > budget:
        messages.append(
            f"The predictions hold {int(lengths.sum()):,} characters in all; the limit is "
            f"{limits.max_mean_text_chars:,} per id on average ({budget:,} for the task's "
            f"{plural(expected, 'id')})."
        )
    return out, messages


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
        return prediction, [f"The prediction column must hold numbers, not {_type_name(type_)}."]
    array = np.asarray(pc.fill_null(values, math.nan), dtype=np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        examples = None
        if shown is not None:
            examples = _first(shown.filter(pa.array(bad)))
        return prediction, [_bad_rows_message("are not finite numbers", ids, bad, examples)]
    return pa.array(array, pa.float64()), []


def raise_row_errors(problems: Sequence[str], total: int) -> None:
    """Raise a PredictionFileError for per-row mismatches found while scoring (e.g. tag list
    lengths), showing the first few; `total` is how many rows are affected."""
    if total:
        shown = "; ".join(problems[:MAX_EXAMPLES])
        more = f" (and {total - MAX_EXAMPLES} more)" if total > MAX_EXAMPLES else ""
        raise PredictionFileError(
            f"{plural(total, 'prediction')} do not fit the task: {shown}{more}."
        )
