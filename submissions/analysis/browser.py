"""The error browser: one public-split evaluation's rows, filtered, sorted and paged.

`error_browser` builds an `ErrorBrowser` over the split's rows and the evaluation's per-example
artifact (see `targets.error_target` for what is refused). The browser offers the filters its
artifact supports (slice cells, gold and predicted labels for classification, right or wrong,
text search over text inputs), parses a request's filters into a `Query` with a SelectionError
(400) saying what is allowed instead, orders rows worst-first, best-first or by id (orders kept
per evaluation), and pages them; `example_image_url` gives the thumbnail links of image inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.urls import reverse

from benchmarks.models import Task
from scoring.tasktypes import CLASSIFICATION_TYPES, REGRESSION
from submissions.analysis.examples import (
    Examples,
    ExamplesUnavailable,
    SplitRows,
    example_rows,
    examples_for,
    split_rows,
)
from submissions.analysis.targets import Target, error_target
from submissions.models import Submission
from submissions.selectors import SelectionError

PAGE_SIZE = 50
SORTS = ("worst", "best", "id")
CORRECT_VALUES = {"yes": True, "no": False}
MAX_QUERY_CHARS = 200


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
    # ASCII digits only: str.isdigit() also accepts digits such as '²' that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
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
