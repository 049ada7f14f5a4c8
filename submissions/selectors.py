"""Reads shared by pages and the API, so that they never disagree about what a user may see.

What of a submission's evaluations a viewer may see:
- values on a hidden split revealed only after close are withheld from everyone but maintainers
  and reviewers (`can_review`) until the benchmark closes;
- slice cells of hidden splits are suppressed where published cells and the overall score could
  be added and subtracted into a sum over fewer than MIN_SLICE_SIZE rows (docs/formats.md) —
  for maintainers too, since the same figures reach exports and screenshots.
Pages and the API both present evaluations and breakdowns through this module only, and
leaderboards through `submissions/boards.py`, which builds on it (docs/architecture.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pyarrow as pa
from django.conf import settings
from django.core.cache import cache
from django.http import Http404

from benchmarks.access import can_review
from benchmarks.models import Split, Task
from scoring.autoslices import automatic_columns, automatic_specs
from scoring.slices import Publication, hidden_publication, suppress_hidden_cells
from scoring.tasktypes import key_scales, lower_is_better, with_scales
from submissions.leaderboards import metric_columns
from submissions.models import Evaluation, Submission
from submissions.uploads import split_table

logger = logging.getLogger(__name__)


class SelectionError(Exception):
    """A request for something that does not exist in that form (an unknown sort metric, a
    split without a board): pages show the message, the API answers 400 or 404 with it."""

    def __init__(self, message: str, *, status_code: int = 400):
        self.message = message
        self.status_code = status_code
        super().__init__(message)


# Only these fields of stored slices and confusion matrices are ever shown: anything else a
# future scorer keeps beside them (per-row examples, say) stays on the server unless a view is
# written for it on purpose.
CELL_FIELDS = ("slice", "cell", "n", "metrics", "suppressed")
# Marks a cell carries only where they are true: an automatic slice's, a cell defined by the
# predictions (a predicted label), a cell counting entities rather than rows.
CELL_FLAGS = ("auto", "by_prediction", "unit")


def shown_cell(cell: dict, fields: tuple = CELL_FIELDS) -> dict:
    """A stored cell as it may be shown: the whitelisted fields, and the marks it has."""
    return {
        **{k: cell.get(k) for k in fields},
        **{k: cell[k] for k in CELL_FLAGS if cell.get(k)},
    }


CONFUSION_FIELDS = ("labels", "matrix")


def visible_slices(evaluation: Evaluation) -> list[dict]:
    cells = [shown_cell(cell) for cell in evaluation.slices or []]
    if evaluation.split.role == Split.Role.HIDDEN:
        publication = slice_publication(evaluation.split, evaluation.task)
        return suppress_hidden_cells(cells, publication)
    return [{**cell, "suppressed": False} for cell in cells]


# Which cells a hidden split may publish depends on its rows, the task's current slice specs
# (the author's and the automatic ones, derived from the rows) and MIN_SLICE_SIZE only — never on
# predictions — so it is computed once per process for each such combination and applies to
# every evaluation of the split. Being decided when shown, a new rule or a slice added in the
# admin needs no rescoring.
_PUBLICATIONS: OrderedDict[tuple, Publication] = OrderedDict()
_PUBLICATIONS_SIZE = 64
_PUBLICATIONS_LOCK = threading.Lock()


def slice_publication(split: Split, task: Task, *, min_size: int | None = None) -> Publication:
    """The cells of `split` that may be shown under `task`'s current slices (docs/formats.md,
    "Breakdowns and leakage rules"); with `min_size` 1, every nonempty cell. If the split cannot
    be read, none may."""
    min_size = settings.MIN_SLICE_SIZE if min_size is None else min_size
    specs = [spec for spec in task.slices or [] if isinstance(spec, dict)]
    task_spec = task.spec()  # the automatic slices depend on the task's type and columns too
    key = (split.pk, split.fingerprint, json.dumps(task_spec, sort_keys=True), min_size)
    with _PUBLICATIONS_LOCK:
        publication = _PUBLICATIONS.get(key)
        if publication is not None:
            _PUBLICATIONS.move_to_end(key)
            return publication
    # Then the shared cache, where the scoring job leaves it (publication_warm): on a large
    # split with many slices it takes seconds, which no page request should wait for.
    shared_key = "publication:" + hashlib.sha256(repr((PUBLICATION_RULE, key)).encode()).hexdigest()
    stored = cache.get(shared_key)
    if stored is not None:
        publication = Publication(
            sizes=stored["sizes"], shown=frozenset(tuple(cell) for cell in stored["shown"])
        )
        _remember(key, publication)
        return publication
    # An author's spec reads input and metadata columns only: one naming another column (the
    # label, say) computes nothing, and publishes nothing. Automatic slices read what they need.
    usable = {*task.input_columns, *task.metadata_columns}
    specs = [spec for spec in specs if spec.get("column") in usable]
    named = {spec["column"] for spec in specs} | set(automatic_columns(task_spec))
    columns = tuple(sorted(named))
    try:
        gold = split_table(split, columns) if columns else pa.table({})
        specs += automatic_specs(task_spec, gold)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        logger.warning(
            "Slices of split %s could not be read (%s): all its cells are suppressed.",
            split.pk,
            type(exc).__name__,
        )
        return Publication(sizes={}, shown=frozenset())
    publication = hidden_publication(specs, gold, min_size)
    stored = {"sizes": publication.sizes, "shown": sorted(publication.shown)}
    cache.set(shared_key, stored, timeout=None)
    _remember(key, publication)
    return publication


# Which version of the publication rule a shared cache entry was computed under: a change of
# the rule's code that can change its outcome bumps it, so that no stale entry is used.
PUBLICATION_RULE = 2


def _remember(key: tuple, publication: Publication) -> None:
    with _PUBLICATIONS_LOCK:
        _PUBLICATIONS[key] = publication
        while len(_PUBLICATIONS) > _PUBLICATIONS_SIZE:
            _PUBLICATIONS.popitem(last=False)


def publication_warm(split: Split, task: Task) -> None:
    """Compute a split's publications (what a hidden split may show; every cell, for the slice
    picker) into the shared cache, so that the first page that needs them does not wait."""
    slice_publication(split, task, min_size=1)
    if split.role == Split.Role.HIDDEN:
        slice_publication(split, task)


def visible_confusion(evaluation: Evaluation) -> dict | None:
    """The confusion matrix, whitelisted. On a hidden split it is withheld (`matrix` null,
    `suppressed` true) when some predicted class holds fewer than MIN_SLICE_SIZE rows: a
    participant who predicts one class for a single row would read that row's gold label in
    its column."""
    if not evaluation.confusion:
        return None
    confusion = {k: evaluation.confusion.get(k) for k in CONFUSION_FIELDS}
    matrix = confusion.get("matrix") or []
    column_totals = [sum(column) for column in zip(*matrix, strict=True)] if matrix else []
    small = any(0 < total < settings.MIN_SLICE_SIZE for total in column_totals)
    suppressed = evaluation.split.role == Split.Role.HIDDEN and small
    return {**confusion, "matrix": None if suppressed else matrix, "suppressed": suppressed}


def shown_evaluation(evaluation: Evaluation, *, withheld: bool = False) -> dict:
    """What a page shows of one evaluation: its metrics, slices (on hidden splits the published
    cells only), confusion matrix and efficiency, none of them when `withheld`."""
    split = evaluation.split
    return {
        "task": evaluation.task.slug,
        "split": split.name,
        "role": split.role,
        "withheld": withheld,
        "metrics": None if withheld else evaluation.metrics,
        "slices": None if withheld else visible_slices(evaluation),
        "confusion": None if withheld else visible_confusion(evaluation),
        "efficiency": None if withheld else evaluation.efficiency,
        "evaluation": evaluation,
    }


def visible_evaluations(user, submission: Submission) -> list[dict]:
    maintainer = can_review(user, submission.benchmark)
    evaluations = submission.evaluations.select_related("task", "split", "task__benchmark")
    return [
        shown_evaluation(e, withheld=not maintainer and not e.split.scores_visible())
        for e in evaluations.order_by("task__position", "split__position")
    ]


def evaluation_columns(evaluation: Evaluation) -> list[str]:
    """An evaluation's metric keys in the task's order, then any others it reports."""
    known = metric_columns(evaluation.task)
    return [k for k in known if k in evaluation.metrics] + [
        k for k in evaluation.metrics if k not in known
    ]


def breakdown_cells(result: dict) -> list[dict]:
    """One visible evaluation's slice cells (already suppressed where the rules say), each with
    its display scales, its value of the primary metric and the gap to the overall value;
    slices in the task's order, cells worst first within each slice, suppressed cells last."""
    evaluation = result["evaluation"]
    task = evaluation.task
    key = task.primary_metric
    scales = key_scales(task.metrics)
    overall = ((result["metrics"] or {}).get(key) or {}).get("value")
    sign = -1 if lower_is_better(key) else 1
    cells, order = [], {}
    for cell in result["slices"] or []:
        metrics = cell["metrics"] and with_scales(cell["metrics"], scales)
        value = ((metrics or {}).get(key) or {}).get("value")
        gap = value - overall if value is not None and overall is not None else None
        cells.append({**cell, "metrics": metrics, "value": value, "gap": gap})
        order.setdefault(cell["slice"], len(order))
    cells.sort(
        key=lambda c: (
            order[c["slice"]],
            c["suppressed"],
            c["value"] is None,
            sign * (c["value"] or 0),
        )
    )
    return cells


# What of an evaluation's provenance is shown: enough to reproduce the numbers (which data,
# which model, which code), nothing about the machine or the files behind them.
PROVENANCE_FIELDS = ("metrics", "libraries", "resamples", "seed", "scorer_version", "scored_at")
SPLIT_PROVENANCE_FIELDS = ("name", "fingerprint", "rows", "hub_repo_id", "hub_commit")
MODEL_PROVENANCE_FIELDS = (
    "repo_id", "revision", "sha", "archive", "device", "dtype", "torch", "transformers"
)  # fmt: skip


def visible_provenance(evaluation: Evaluation) -> dict:
    """An evaluation's provenance, whitelisted: split fingerprint and size, model and commit,
    metric and library versions, bootstrap settings."""
    stored = evaluation.provenance or {}
    shown = {k: stored.get(k) for k in PROVENANCE_FIELDS if k in stored}
    if isinstance(stored.get("split"), dict):
        split = stored["split"]
        shown["split"] = {k: split[k] for k in SPLIT_PROVENANCE_FIELDS if k in split}
    if isinstance(stored.get("model"), dict):
        model = stored["model"]
        shown["model"] = {k: model[k] for k in MODEL_PROVENANCE_FIELDS if k in model}
    return shown


def result_details(result: dict) -> dict:
    """A visible, not withheld evaluation with what its result page shows besides the metrics:
    metric columns in order, the primary metric, breakdown cells worst first, provenance."""
    evaluation = result["evaluation"]
    return {
        **result,
        "columns": evaluation_columns(evaluation),
        "primary": evaluation.task.primary_metric,
        "cells": breakdown_cells(result),
        "provenance": visible_provenance(evaluation),
    }


def breakdown_for(user, submission: Submission, *, task: str | None, split: str | None) -> dict:
    """The breakdown of one evaluation (the first matching `task` and `split`), as the API and
    the status page show it. Raises Http404 when there is none, SelectionError(403) while its
    scores are withheld."""
    chosen = [
        r
        for r in visible_evaluations(user, submission)
        if (not task or r["task"] == task) and (not split or r["split"] == split)
    ]
    if not chosen:
        raise Http404("This submission has no evaluation for that task and split.")
    result = chosen[0]
    if result["withheld"]:
        raise SelectionError(
            f"Scores on split '{result['split']}' are revealed when the benchmark closes.",
            status_code=403,
        )
    return {
        **result,
        "primary": result["evaluation"].task.primary_metric,
        "cells": breakdown_cells(result),
    }


def own_submissions(user, *, benchmark: str | None = None, status: str | None = None):
    """`user`'s submissions (a queryset), on one benchmark (slug) and in one status if given;
    an unknown status is a SelectionError naming the valid ones."""
    if status and status not in Submission.Status.values:
        raise SelectionError(
            f"Unknown status '{status[:40]}': use {', '.join(Submission.Status.values)}."
        )
    submissions = Submission.objects.filter(participant=user).select_related("benchmark", "task")
    if benchmark:
        submissions = submissions.filter(benchmark__slug=benchmark)
    if status:
        submissions = submissions.filter(status=status)
    return submissions


@dataclass
class QueueWait:
    """What a queued submission is waiting for, for its status page."""

    ahead: int  # queued submissions published before it
    republished: int  # times the reaper published its job again
    republished_at: object  # datetime | None


def queue_wait(submission: Submission) -> QueueWait | None:
    if submission.status != Submission.Status.QUEUED:
        return None
    # Model runs and scoring jobs wait in different queues.
    ahead = Submission.objects.filter(
        status=Submission.Status.QUEUED,
        stage=submission.stage,
        created_at__lt=submission.created_at,
    ).count()
    return QueueWait(
        ahead=ahead, republished=submission.attempts, republished_at=submission.requeued_at
    )
