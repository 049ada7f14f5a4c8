"""Reads for per-example analysis: the error browser of one evaluation (public splits only) and
the comparison of two to four submissions on one task and split.

What they may show (docs/formats.md, "Breakdowns and leakage rules"):
- the error browser shows single rows (inputs, gold, prediction, score, slice cells) of PUBLIC
  splits only; a hidden split's rows are never read for it, a train split is not scored, and a
  split whose scores are withheld until the close is refused like everywhere else;
- a comparison shows overall metrics and slice cells as `selectors.visible_evaluations` publishes
  them (withholding, hidden-split suppression), with paired-bootstrap intervals and p-values
  of the deltas computed on the server from the split's gold table (never output); win/tie/loss
  counts and the rows where submissions disagree are per-example, so public splits only.

The per-example artifact (`Evaluation.examples`, Parquet, one row per gold row in gold order:
`id`, `prediction`, `score`, `correct`, `cell:<slice>`) is read with pyarrow, only the columns
needed, and kept per evaluation and file name in a small LRU, aligned to the split's order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.core.cache import cache
from django.http import Http404
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from benchmarks.models import Benchmark, Split, Task
from benchmarks.templatetags.platform_tags import format_number
from scoring.predictions import as_array, same_ids
from scoring.tasktypes import (
    CLASSIFICATION_TYPES,
    QUESTION_ANSWERING,
    REGRESSION,
    TOKEN_CLASSIFICATION,
    key_scales,
    lower_is_better,
    with_scales,
)
from submissions.access import get_result_for
from submissions.leaderboards import default_split, leaderboard_build, metric_columns
from submissions.models import Evaluation, Submission
from submissions.selectors import SelectionError, visible_evaluations
from submissions.uploads import split_table

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
CELL_PREFIX = "cell:"
SORTS = ("worst", "best", "id")
CORRECT_VALUES = {"yes": True, "no": False}
MAX_QUERY_CHARS = 200
MIN_COMPARED, MAX_COMPARED = 2, 4
BOOTSTRAP_CACHE_SECONDS = 7 * 24 * 3600

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
# The error browser.


@dataclass
class Target:
    """The evaluation a per-example view is about, once access and role are settled."""

    submission: Submission
    task: Task
    split: Split
    result: dict

    @property
    def evaluation(self) -> Evaluation:
        return self.result["evaluation"]


def _role_refusal(split: Split) -> SelectionError | None:
    if split.role == Split.Role.HIDDEN:
        return SelectionError(
            f"Split '{split.name}' is hidden: its labels never leave the server, so only "
            "aggregate scores are shown for it, never single examples.",
            status_code=403,
        )
    if split.role == Split.Role.TRAIN:
        return SelectionError(
            f"Split '{split.name}' is a train split: it is not scored, so it has no "
            "per-example results.",
            status_code=404,
        )
    return None


def error_target(user, submission: Submission, *, task: str | None, split: str | None) -> Target:
    """The public-split evaluation of `submission` to browse: `task` and `split` by name, else
    the first evaluation on a public split. Http404 for unknown names, SelectionError (403 or
    404) for a split whose rows are not shown, with the reason."""
    tasks = {t.slug: t for t in submission.benchmark.tasks.all()}
    if task and task not in tasks:
        raise Http404("No such task.")
    if split:
        task_obj = tasks[task] if task else submission.task or next(iter(tasks.values()), None)
        split_obj = task_obj and task_obj.splits.filter(name=split).first()
        if split_obj is None:
            raise Http404("No such split.")
        refusal = _role_refusal(split_obj)
        if refusal:
            raise refusal
    results = [
        r
        for r in visible_evaluations(user, submission)
        if (not task or r["task"] == task)
        and (r["split"] == split if split else r["role"] == Split.Role.PUBLIC)
    ]
    if not results:
        raise SelectionError(
            "This submission has no evaluation on a public split"
            + (f" of task '{task}'" if task else "")
            + (f" named '{split}'" if split else "")
            + ".",
            status_code=404,
        )
    result = results[0]
    evaluation = result["evaluation"]
    refusal = _role_refusal(evaluation.split)  # belt and braces: never a hidden split's rows
    if refusal:
        raise refusal
    if result["withheld"]:
        raise SelectionError(
            f"Scores on split '{result['split']}' are revealed when the benchmark closes.",
            status_code=403,
        )
    return Target(
        submission=submission, task=evaluation.task, split=evaluation.split, result=result
    )


@dataclass
class Query:
    cells: list[tuple[str, str]]
    gold: str | None
    predicted: str | None
    correct: bool | None
    q: str
    sort: str
    page: int

    def params(self) -> dict:
        """The filters as GET parameters (for links and the form)."""
        out = {}
        if self.cells:
            out["cell"] = [f"{s}:{c}" for s, c in self.cells]
        for key in ("gold", "predicted", "q"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.correct is not None:
            out["correct"] = "yes" if self.correct else "no"
        if self.sort != "worst":
            out["sort"] = self.sort
        return out


def _allowed(values: list[str], limit: int = 20) -> str:
    shown = ", ".join(f"'{v}'" for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def page_number(raw: str | None) -> int:
    raw = (raw or "1").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise SelectionError(f"Invalid page '{raw[:20]}': use a positive whole number.")
    return int(raw)


@dataclass
class ErrorBrowser:
    """One public-split evaluation's rows, with the filter options its artifact offers."""

    target: Target
    rows: SplitRows
    examples: Examples

    @property
    def task(self) -> Task:
        return self.target.task

    @property
    def is_classification(self) -> bool:
        return self.task.type in CLASSIFICATION_TYPES

    @property
    def lower_is_better(self) -> bool:
        """The per-row score is an error (regression's absolute error)."""
        return self.task.type == REGRESSION

    @cached_property
    def gold_options(self) -> list[str]:
        if not self.is_classification:
            return []
        present = {v for v in pc.unique(self.rows.gold).to_pylist() if v is not None}
        names = [str(n) for n in self.task.label_names]
        return [n for n in names if n in present] + sorted(present - set(names))

    @cached_property
    def predicted_strings(self) -> pa.Array | None:
        prediction = self.examples.prediction
        if not self.is_classification or prediction is None:
            return None
        if pa.types.is_dictionary(prediction.type):
            prediction = prediction.dictionary_decode()
        if not pa.types.is_string(prediction.type):
            prediction = pc.cast(prediction, pa.string())
        return prediction

    @cached_property
    def predicted_options(self) -> list[str]:
        if self.predicted_strings is None:
            return []
        present = {v for v in pc.unique(self.predicted_strings).to_pylist() if v is not None}
        names = [str(n) for n in self.task.label_names]
        return [n for n in names if n in present] + sorted(present - set(names))

    def options(self) -> dict:
        return {
            "cells": self.examples.cell_options,
            "gold": self.gold_options,
            "predicted": self.predicted_options,
            "correct": self.examples.has_correct,
            "search": bool(self.rows.texts),
            "sorts": list(SORTS),
        }

    def parse(self, params) -> Query:
        """The filters of a request, checked against what this evaluation offers; a
        SelectionError (400) says what is allowed instead."""
        cells = []
        for raw in params.getlist("cell") if hasattr(params, "getlist") else []:
            if not raw:
                continue
            slice_name, sep, cell = raw.partition(":")
            options = self.examples.cell_options
            if not sep or slice_name not in options:
                raise SelectionError(
                    f"Invalid cell '{raw[:80]}': use <slice>:<cell> with a slice among "
                    f"{_allowed(list(options)) or 'none (this evaluation has no slices)'}."
                )
            if cell not in options[slice_name]:
                raise SelectionError(
                    f"Slice '{slice_name}' has no cell '{cell[:80]}': use one of "
                    f"{_allowed(options[slice_name])}."
                )
            cells.append((slice_name, cell))
        gold = params.get("gold") or None
        predicted = params.get("predicted") or None
        for name, value, options in (
            ("gold", gold, self.gold_options),
            ("predicted", predicted, self.predicted_options),
        ):
            if value is None:
                continue
            if not options:
                raise SelectionError(f"Filter '{name}' applies to classification tasks only.")
            if value not in options:
                raise SelectionError(
                    f"Invalid {name} label '{value[:80]}': use one of {_allowed(options)}."
                )
        correct_raw = params.get("correct") or None
        correct = None
        if correct_raw is not None:
            if correct_raw not in CORRECT_VALUES:
                raise SelectionError(f"Invalid correct '{correct_raw[:20]}': use yes or no.")
            if not self.examples.has_correct:
                raise SelectionError(
                    "Filter 'correct' does not apply: rows of this task are scored, not "
                    "right or wrong (sort by score instead)."
                )
            correct = CORRECT_VALUES[correct_raw]
        q = (params.get("q") or "").strip()
        if len(q) > MAX_QUERY_CHARS:
            raise SelectionError(f"The search text is longer than {MAX_QUERY_CHARS} characters.")
        if q and not self.rows.texts:
            raise SelectionError("This split has no text inputs to search.")
        sort = params.get("sort") or "worst"
        if sort not in SORTS:
            raise SelectionError(f"Invalid sort '{sort[:20]}': use one of worst, best, id.")
        return Query(
            cells=cells,
            gold=gold,
            predicted=predicted,
            correct=correct,
            q=q,
            sort=sort,
            page=page_number(params.get("page")),
        )

    def order(self, sort: str) -> np.ndarray:
        """Row positions in `sort` order (kept per evaluation); ties in gold order."""
        examples = self.examples
        with examples.lock:
            cached = examples.orders.get(sort)
        if cached is not None:
            return cached
        if sort == "id":
            order = np.asarray(pc.sort_indices(self.rows.ids))
        else:
            # "worst" is the lowest score, or the highest error; missing scores come last.
            ascending = (sort == "worst") != self.lower_is_better
            key = examples.score if ascending else -examples.score
            key = np.where(np.isnan(key), np.inf, key)
            order = np.argsort(key, kind="stable")
        with examples.lock:
            examples.orders[sort] = order
        return order

    def mask(self, query: Query) -> np.ndarray | None:
        conditions = []
        for slice_name, cell in query.cells:
            conditions.append(pc.equal(self.examples.cells[slice_name], cell))
        if query.gold is not None:
            conditions.append(pc.equal(self.rows.gold, query.gold))
        if query.predicted is not None:
            conditions.append(pc.equal(self.predicted_strings, query.predicted))
        if query.correct is not None:
            conditions.append(pc.equal(self.examples.correct, query.correct))
        if query.q:
            found = [pc.match_substring(t, query.q, ignore_case=True) for t in self.rows.texts]
            hit = found[0]
            for other in found[1:]:
                hit = pc.or_kleene(hit, other)
            conditions.append(hit)
        if not conditions:
            return None
        combined = conditions[0]
        for other in conditions[1:]:
            combined = pc.and_kleene(combined, other)
        return np.asarray(pc.fill_null(combined, False).to_numpy(zero_copy_only=False))

    def select(self, query: Query) -> np.ndarray:
        order = self.order(query.sort)
        mask = self.mask(query)
        return order if mask is None else order[mask[order]]

    def page(self, query: Query, *, image_url=None) -> dict:
        selected = self.select(query)
        count = len(selected)
        pages = max(1, math.ceil(count / PAGE_SIZE))
        if query.page > pages:
            raise SelectionError(
                f"Page {query.page} is past the last page ({pages}).", status_code=404
            )
        positions = selected[(query.page - 1) * PAGE_SIZE : query.page * PAGE_SIZE]
        return {
            "count": count,
            "page": query.page,
            "pages": pages,
            "has_next": query.page < pages,
            "rows": self.rows_at(positions, image_url=image_url),
        }

    def rows_at(self, positions: np.ndarray, *, image_url=None) -> list[dict]:
        return example_rows(self.rows, [self.examples], positions, image_url=image_url)[0]


def example_image_url(submission_id: int, task: str, split: str):
    """A function giving the thumbnail URL of a row id (the error browser's image view)."""
    base = reverse("submission_example_image", args=[submission_id])
    return lambda row_id: f"{base}?{urlencode({'task': task, 'split': split, 'id': row_id})}"


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


def error_browser(user, submission: Submission, *, task: str | None, split: str | None):
    """The browser of one public-split evaluation (see `error_target` for refusals); a
    SelectionError (404) when it has no readable per-example results."""
    target = error_target(user, submission, task=task, split=split)
    rows = split_rows(target.split, target.task)
    try:
        examples = examples_for(target.evaluation, rows.ids)
    except ExamplesUnavailable as exc:
        raise SelectionError(str(exc), status_code=404) from None
    return ErrorBrowser(target=target, rows=rows, examples=examples)


# ---------------------------------------------------------------------------------------------
# Pages: QA contexts with the answer spans marked, token tags side by side.


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    """Where `needle` occurs in `text`: every exact occurrence, else case-insensitive ones."""
    if not needle or not needle.strip():
        return []
    found = []
    for haystack, target in ((text, needle), (text.casefold(), needle.casefold())):
        if len(haystack) != len(text):  # casefolding changed lengths: offsets would drift
            break
        start = haystack.find(target)
        while start != -1:
            found.append((start, start + len(target)))
            start = haystack.find(target, start + 1)
        if found:
            break
    return found


def highlight_context(context: str, gold: list[str] | None, prediction: str | None) -> SafeString:
    """The context escaped, with gold answer spans in `<mark class="gold">`, the predicted span
    in `<mark class="pred">` and overlaps in both. The raw text is cut at the spans' offsets and
    each piece escaped on its own, so no markup from the data survives."""
    context = context or ""
    kinds = [set() for _ in range(len(context))]
    for answer in gold or []:
        for start, end in _spans(context, answer):
            for i in range(start, end):
                kinds[i].add("gold")
    for start, end in _spans(context, prediction or "")[:1]:
        for i in range(start, end):
            kinds[i].add("pred")
    pieces, i = [], 0
    while i < len(context):
        j = i
        while j < len(context) and kinds[j] == kinds[i]:
            j += 1
        text = escape(context[i:j])
        if kinds[i]:
            classes = " ".join(f"mark-{k}" for k in sorted(kinds[i]))
            title = {
                "mark-gold": "gold answer",
                "mark-pred": "prediction",
                "mark-gold mark-pred": "gold answer and prediction",
            }[classes]
            pieces.append(f'<mark class="{classes}" title="{title}">{text}</mark>')
        else:
            pieces.append(text)
        i = j
    return mark_safe("".join(pieces))  # every piece of data is escaped above


def qa_columns(task: Task) -> tuple[str | None, str | None]:
    """(question, context) input columns of a QA task."""
    inputs = list(task.input_columns)
    context = "context" if "context" in inputs else (inputs[-1] if inputs else None)
    question = next((c for c in inputs if c != context), None)
    return question, context


def decorate_for_page(task: Task, rows: list[dict]) -> list[dict]:
    """Adds what the page template shows besides the plain values: a QA context with spans
    marked, token rows side by side, gold/prediction as text."""
    for row in rows:
        if task.type == QUESTION_ANSWERING:
            question, context = qa_columns(task)
            gold = row["gold"] if isinstance(row["gold"], list) else [row["gold"]]
            text = row["inputs"].get(context) if context else None
            if isinstance(text, str):
                row["context_html"] = highlight_context(text, gold, row["prediction"])
            row["question"] = row["inputs"].get(question) if question else None
        elif task.type == TOKEN_CLASSIFICATION:
            tokens = row["inputs"].get(task.input_columns[0]) if task.input_columns else None
            gold = row["gold"] or []
            predicted = row["prediction"] or []
            if isinstance(tokens, list):
                row["tokens"] = [
                    {
                        "token": token,
                        "gold": gold[i] if i < len(gold) else "",
                        "pred": predicted[i] if i < len(predicted) else "",
                        "same": (gold[i] if i < len(gold) else None)
                        == (predicted[i] if i < len(predicted) else None),
                    }
                    for i, token in enumerate(tokens)
                ]
        row["plain_inputs"] = [
            (name, value)
            for name, value in row["inputs"].items()
            if not isinstance(value, dict)
            and not (task.type == QUESTION_ANSWERING and name in qa_columns(task))
            and not (task.type == TOKEN_CLASSIFICATION and "tokens" in row)
        ]
        row["images"] = [v["image"] for v in row["inputs"].values() if isinstance(v, dict)]
        row["gold_text"] = as_text(row["gold"])
        row["prediction_text"] = as_text(row["prediction"])
    return rows


def as_text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return " | ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Comparisons.


def _bootstrap_module():
    from scoring import compare  # another engineer's module: imported when first needed

    return compare


def parse_submission_ids(raw: list[str]) -> list[int]:
    values = [v.strip() for item in raw for v in str(item).split(",") if v.strip()]
    bad = [v for v in values if not v.isdigit()]
    if bad:
        raise SelectionError(
            f"Invalid submission id '{bad[0][:20]}': give submission numbers, e.g. 12,15."
        )
    ids = list(dict.fromkeys(int(v) for v in values))
    if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
        raise SelectionError(
            f"Compare {MIN_COMPARED} to {MAX_COMPARED} different submissions; {len(ids)} given."
        )
    return ids


def submission_for(user, submission_id: int) -> Submission:
    """A submission whose results `user` may see (`access.get_result_for`), else a 404."""
    return get_result_for(user, submission_id)


def browsable(user, submission: Submission) -> list[dict]:
    """The submission's evaluations whose rows may be browsed: public splits, not withheld."""
    return [
        r
        for r in visible_evaluations(user, submission)
        if r["role"] == Split.Role.PUBLIC and not r["withheld"]
    ]


def compare_task_split(benchmark: Benchmark, task: str | None, split: str | None):
    tasks = list(benchmark.tasks.all())
    task_obj = next((t for t in tasks if t.slug == task), None) if task else next(iter(tasks), None)
    if task_obj is None:
        raise Http404("No such task.")
    task_obj.benchmark = benchmark
    if split:
        split_obj = task_obj.splits.filter(name=split).first()
        if split_obj is None:
            raise Http404("No such split.")
        if not split_obj.is_scored:
            raise SelectionError(
                f"Split '{split_obj.name}' is a train split: it is not scored.", status_code=404
            )
    else:
        split_obj = default_split(task_obj)
        if split_obj is None:
            raise SelectionError(f"Task '{task_obj.slug}' has no scored split.", status_code=404)
    split_obj.task = task_obj
    return task_obj, split_obj


def split_withheld(user, split: Split) -> bool:
    from benchmarks.access import can_maintain

    return not split.scores_visible() and not can_maintain(user, split.task.benchmark)


def compare_choices(user, task: Task, split: Split, chosen: list[Submission]) -> list[dict]:
    """Submissions to pick from: the board's rows (each visible to the user) and those chosen."""
    if split_withheld(user, split):
        return []
    board = leaderboard_build(task=task, split=split)
    seen, choices = set(), []
    for row in board.rows:
        s = row.submission
        seen.add(s.pk)
        choices.append({"submission": s, "rank": row.rank, "evaluation": row.evaluation})
    for s in chosen:
        if s.pk not in seen:
            choices.append({"submission": s, "rank": None, "evaluation": None})
    return choices


@dataclass
class Compared:
    submission: Submission
    result: dict

    @property
    def evaluation(self) -> Evaluation:
        return self.result["evaluation"]


def compared_submissions(user, benchmark, task: Task, split: Split, ids: list[int]):
    """The submissions to compare, each visible to the user, of this benchmark, with a visible
    evaluation on the split; else a SelectionError naming which and why."""
    if split_withheld(user, split):
        raise SelectionError(
            f"Scores on split '{split.name}' are revealed when the benchmark closes.",
            status_code=403,
        )
    compared = []
    for submission_id in ids:
        try:
            submission = get_result_for(user, submission_id)
        except Http404:
            raise SelectionError(
                f"Submission #{submission_id} does not exist or is not visible to you.",
                status_code=404,
            ) from None
        if submission.benchmark_id != benchmark.pk:
            raise SelectionError(
                f"Submission #{submission_id} is not a submission to this benchmark.",
                status_code=404,
            )
        results = [
            r for r in visible_evaluations(user, submission) if r["evaluation"].split_id == split.pk
        ]
        if not results:
            raise SelectionError(
                f"Submission #{submission_id} has no evaluation on {task.slug}/{split.name}.",
                status_code=404,
            )
        if results[0]["withheld"]:
            raise SelectionError(
                f"Scores of submission #{submission_id} on split '{split.name}' are revealed "
                "when the benchmark closes.",
                status_code=403,
            )
        compared.append(Compared(submission=submission, result=results[0]))
    return compared


def _bootstrap(task: Task, split: Split, compared: list[Compared]) -> tuple[dict | None, str]:
    """Paired-bootstrap deltas against the first submission, cached by evaluation and file.
    (None, reason) when it cannot be computed."""
    evaluations = [c.evaluation for c in compared]
    missing = [c.submission.pk for c in compared if not c.evaluation.examples]
    if missing:
        names = ", ".join(f"#{pk}" for pk in missing)
        return None, (
            f"No per-example results were kept for {names} (scored before they were): "
            "no intervals or p-values for the deltas."
        )
    spec = task.spec()
    resamples = settings.BOOTSTRAP_RESAMPLES
    key_data = [
        split.pk,
        split.fingerprint,
        spec["metrics"],
        spec["columns"],
        [(e.pk, e.examples.name) for e in evaluations],
        resamples,
    ]
    digest = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()
    key = f"analysis:bootstrap:v1:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached, ""
    try:
        columns = [task.id_column, task.label_column]
        if task.type == TOKEN_CLASSIFICATION:
            columns += list(task.input_columns)
        gold = split_table(split, tuple(dict.fromkeys(columns)))
        ids = _string_ids(gold[task.id_column])
        predictions = []
        for evaluation in evaluations:
            examples = examples_for(evaluation, ids)
            if examples.prediction is None:
                raise ExamplesUnavailable("The per-example results hold no predictions.")
            predictions.append(examples.prediction)
        result = _bootstrap_module().paired_bootstrap(
            spec, gold, predictions, resamples=resamples, seed=0
        )
    except ExamplesUnavailable as exc:
        return None, f"{exc} No intervals or p-values for the deltas."
    except (ImportError, OSError, ValueError, TypeError, pa.ArrowException) as exc:
        logger.warning("Paired bootstrap on split %s failed: %s", split.pk, type(exc).__name__)
        return None, "The paired bootstrap could not be computed."
    cache.set(key, result, BOOTSTRAP_CACHE_SECONDS)
    return result, ""


def _delta(value, first):
    if value is None or first is None:
        return None
    return value - first


def _ci_text(ci, key: str, entry: dict) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    reference = entry.get("value")
    lo = format_number(ci[0], key, entry, reference=reference, signed=True)
    hi = format_number(ci[1], key, entry, reference=reference, signed=True)
    return f"[{lo}, {hi}]"


def _p_text(p) -> str:
    if p is None or not isinstance(p, int | float) or not math.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@dataclass
class Comparison:
    benchmark: Benchmark
    task: Task
    split: Split
    compared: list[Compared]
    bootstrap: dict | None
    bootstrap_reason: str

    @property
    def submissions(self) -> list[Submission]:
        return [c.submission for c in self.compared]

    @property
    def is_public(self) -> bool:
        return self.split.role == Split.Role.PUBLIC

    @cached_property
    def scales(self) -> dict:
        return key_scales(self.task.metrics)

    @cached_property
    def metrics(self) -> list[dict]:
        """Per metric key: each submission's visible entry (with its scale), the delta to the
        first, and the bootstrap's interval and p-value of that delta."""
        entries = [with_scales(c.result["metrics"], self.scales) for c in self.compared]
        known = metric_columns(self.task)
        keys = [k for k in known if any(k in e for e in entries)]
        keys += [k for e in entries for k in e if k not in keys]
        out = []
        for key in dict.fromkeys(keys):
            values = [e.get(key) or {"value": None, "scale": self.scales.get(key)} for e in entries]
            first = values[0].get("value")
            boot = (self.bootstrap or {}).get(key) or {}
            raw_ci = list(boot.get("ci") or [])
            raw_p = list(boot.get("p_value") or [])
            others = range(1, len(values))
            cis = [None] + [_clean_ci(raw_ci[i]) if i < len(raw_ci) else None for i in others]
            ps = [None] + [_clean_p(raw_p[i]) if i < len(raw_p) else None for i in others]
            deltas = [None] + [_delta(v.get("value"), first) for v in values[1:]]
            out.append(
                {
                    "key": key,
                    "values": values,
                    "deltas": deltas,
                    "ci": cis,
                    "p_value": ps,
                    "columns": [
                        {
                            "cell": {"metrics": {key: v}, "gap": d},
                            "ref": {"primary": key, "metrics": {key: values[0]}},
                            "ci_text": _ci_text(ci, key, values[0]),
                            "p_text": _p_text(p),
                            "first": i == 0,
                        }
                        for i, (v, d, ci, p) in enumerate(zip(values, deltas, cis, ps, strict=True))
                    ],
                }
            )
        return out

    @cached_property
    def slices(self) -> list[dict]:
        """Cells of the primary metric shown for every compared submission (suppressed cells
        and cells some submission lacks are left out), with deltas to the first."""
        key = self.task.primary_metric
        per_submission = []
        for c in self.compared:
            per_submission.append(
                {
                    (cell["slice"], cell["cell"]): cell
                    for cell in c.result["slices"] or []
                    if not cell.get("suppressed") and cell.get("metrics") is not None
                }
            )
        first_order = [
            (cell["slice"], cell["cell"]) for cell in self.compared[0].result["slices"] or []
        ]
        common = [k for k in first_order if all(k in cells for cells in per_submission)]
        out = []
        for slice_key in common:
            cells = [cells[slice_key] for cells in per_submission]
            entries = [with_scales(cell["metrics"], self.scales).get(key) or {} for cell in cells]
            values = [e.get("value") for e in entries]
            deltas = [None] + [_delta(v, values[0]) for v in values[1:]]
            out.append(
                {
                    "slice": slice_key[0],
                    "cell": slice_key[1],
                    "n": cells[0].get("n"),
                    "values": values,
                    "deltas": deltas,
                    "columns": [
                        {
                            "cell": {"metrics": {key: e}, "gap": d},
                            "ref": {"primary": key, "metrics": {key: entries[0]}},
                            "first": i == 0,
                        }
                        for i, (e, d) in enumerate(zip(entries, deltas, strict=True))
                    ],
                }
            )
        return out

    @cached_property
    def suppressed_cells(self) -> int:
        """How many cells some compared submission shows suppressed (left out above)."""
        names = set()
        for c in self.compared:
            for cell in c.result["slices"] or []:
                if cell.get("suppressed"):
                    names.add((cell["slice"], cell["cell"]))
        return len(names)

    @property
    def per_example_reason(self) -> str:
        if self.is_public:
            return ""
        return (
            f"Split '{self.split.name}' is {self.split.role}: its labels never leave the server, "
            "so no per-example comparison (wins, ties, losses, disagreements) is shown."
        )

    @cached_property
    def per_example(self) -> PerExample | None:
        """Win/tie/loss counts and disagreements, on public splits only."""
        if not self.is_public:
            return None
        rows = split_rows(self.split, self.task)
        try:
            examples = [examples_for(c.evaluation, rows.ids) for c in self.compared]
        except ExamplesUnavailable as exc:
            return PerExample(comparison=self, rows=rows, examples=[], reason=str(exc))
        return PerExample(comparison=self, rows=rows, examples=examples, reason="")


def _clean_ci(ci):
    if not ci or len(ci) != 2 or any(not isinstance(v, int | float) for v in ci):
        return None
    if not all(math.isfinite(v) for v in ci):
        return None
    return [float(ci[0]), float(ci[1])]


def _clean_p(p):
    return float(p) if isinstance(p, int | float) and math.isfinite(p) else None


def _comparable(array: pa.Array | None, n: int) -> pa.Array:
    """A prediction column as values that compare with `!=` (lists joined), nulls marked."""
    if array is None:
        return pa.nulls(n, pa.string())
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if _is_list(array.type):
        array = pc.binary_join(pc.cast(array, pa.list_(pa.string())), "\x1f")
    return array


def _differs(a: pa.Array, b: pa.Array) -> np.ndarray:
    unequal = pc.fill_null(pc.not_equal(a, b), False)
    one_null = pc.xor(pc.is_null(a), pc.is_null(b))
    return np.asarray(pc.or_(unequal, one_null).to_numpy(zero_copy_only=False))


@dataclass
class PerExample:
    comparison: Comparison
    rows: SplitRows
    examples: list[Examples]
    reason: str

    @cached_property
    def win_tie_loss(self) -> list[dict]:
        if not self.examples:
            return []
        compare = _bootstrap_module()
        lower = self.comparison.task.type == REGRESSION
        subs = self.comparison.submissions
        out = []
        for i in range(len(subs)):
            for j in range(i + 1, len(subs)):
                counts = compare.win_tie_loss(
                    self.examples[i].score, self.examples[j].score, lower_is_better=lower
                )
                out.append(
                    {
                        "a": subs[i].pk,
                        "b": subs[j].pk,
                        "a_name": subs[i].display_name,
                        "b_name": subs[j].display_name,
                        **{k: int(v) for k, v in counts.items()},
                    }
                )
        return out

    @cached_property
    def disagreeing(self) -> np.ndarray:
        """Positions (gold order) where some submission's prediction or correctness differs
        from the first's."""
        if not self.examples:
            return np.zeros(0, dtype=np.int64)
        n = len(self.rows.ids)
        first = self.examples[0]
        base_prediction = _comparable(first.prediction, n)
        mask = np.zeros(n, dtype=bool)
        for other in self.examples[1:]:
            mask |= _differs(base_prediction, _comparable(other.prediction, n))
            both = pc.and_(pc.is_valid(first.correct), pc.is_valid(other.correct))
            flipped = pc.and_kleene(both, pc.not_equal(first.correct, other.correct))
            mask |= np.asarray(pc.fill_null(flipped, False).to_numpy(zero_copy_only=False))
        return np.flatnonzero(mask)

    def page(self, number: int, *, image_url=None) -> dict:
        selected = self.disagreeing
        count = len(selected)
        pages = max(1, math.ceil(count / PAGE_SIZE))
        if number > pages:
            raise SelectionError(f"Page {number} is past the last page ({pages}).", status_code=404)
        positions = selected[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        per_submission = example_rows(self.rows, self.examples, positions, image_url=image_url)
        rows = []
        for i, base in enumerate(per_submission[0]):
            rows.append(
                {
                    "id": base["id"],
                    "inputs": base["inputs"],
                    "gold": base["gold"],
                    "predictions": [
                        {
                            "submission": s.pk,
                            "prediction": per_submission[k][i]["prediction"],
                            "score": per_submission[k][i]["score"],
                            "correct": per_submission[k][i]["correct"],
                        }
                        for k, s in enumerate(self.comparison.submissions)
                    ],
                }
            )
        return {
            "count": count,
            "page": number,
            "pages": pages,
            "has_next": number < pages,
            "rows": rows,
        }


def comparison_for(user, benchmark: Benchmark, *, task: str | None, split: str | None, ids):
    """A comparison of the submissions `ids` (2 to 4) on one task and split; SelectionError
    (400, 403, 404) naming what is wrong."""
    task_obj, split_obj = compare_task_split(benchmark, task, split)
    compared = compared_submissions(user, benchmark, task_obj, split_obj, ids)
    bootstrap, reason = _bootstrap(task_obj, split_obj, compared)
    return Comparison(
        benchmark=benchmark,
        task=task_obj,
        split=split_obj,
        compared=compared,
        bootstrap=bootstrap,
        bootstrap_reason=reason,
    )


def primary_direction(task: Task) -> str:
    return "lower is better" if lower_is_better(task.primary_metric) else "higher is better"


def comparison_payload(comparison: Comparison, *, page: int = 1, image_url=None) -> dict:
    """The comparison as the API answers it. Gold values appear only in the rows of a public
    split; a hidden split's answer holds aggregates only."""
    per_example = {"available": False, "reason": comparison.per_example_reason}
    if comparison.is_public:
        detail = comparison.per_example
        if detail.examples:
            disagreements = detail.page(page, image_url=image_url)
            per_example = {
                "available": True,
                "reason": None,
                "win_tie_loss": detail.win_tie_loss,
                "disagreements": disagreements,
            }
        else:
            per_example = {"available": False, "reason": detail.reason}
    return {
        "benchmark": comparison.benchmark.slug,
        "task": comparison.task.slug,
        "split": comparison.split.name,
        "role": comparison.split.role,
        "primary": comparison.task.primary_metric,
        "submissions": [
            {"id": s.pk, "name": s.display_name, "participant": s.participant.username}
            for s in comparison.submissions
        ],
        "metrics": [
            {
                "key": m["key"],
                "values": [v.get("value") for v in m["values"]],
                "deltas": m["deltas"],
                "ci": m["ci"],
                "p_value": m["p_value"],
            }
            for m in comparison.metrics
        ],
        "bootstrap": {
            "available": comparison.bootstrap is not None,
            "resamples": settings.BOOTSTRAP_RESAMPLES,
            "reason": comparison.bootstrap_reason or None,
        },
        "slices": [
            {k: cell[k] for k in ("slice", "cell", "n", "values", "deltas")}
            for cell in comparison.slices
        ],
        "suppressed_cells": comparison.suppressed_cells,
        "per_example": per_example,
    }
