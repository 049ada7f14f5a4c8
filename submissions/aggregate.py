"""The benchmark-level board: each submission's tasks combined into one weighted score.

A component is one metric key of one task, on the split that task's board shows by default
(`leaderboards.default_split`); by default every task's primary metric, weight 1, unless the
benchmark's authors set `aggregate_weights` (a task slug weighs its primary metric, `task.metric`
a given key). Reviewers re-weight on the page: `w.<task>.<metric>=<weight>` query parameters,
kept in the URL so a view can be shared; a weight of 0 leaves a component out.

Values are direction-normalised to 0–1 before weighting: a metric with a known scale (0–1 or
0–100) is divided by it, lower-is-better ones as 1 − value/scale; a metric without one (MAE, MSE)
is min–max scaled over the submissions on the board, the best 1 and the worst 0. A submission's
score is the weighted mean over the components, defined only when it has every component (a
missing one makes it unranked, last). Each participant is represented by their best submission;
each baseline is a row of its own. Tasks whose board split is withheld from the viewer (scores
revealed at the close) are left out, and the page says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.utils.http import urlencode

from benchmarks.access import can_review
from benchmarks.models import Benchmark, Split, Task
from scoring.tasktypes import key_scales, lower_is_better
from submissions.leaderboards import default_split, metric_columns
from submissions.models import Evaluation, Submission
from submissions.selectors import SelectionError

PREFIX = "w."
MAX_WEIGHT = 1000.0


@dataclass
class Component:
    task: Task
    split: Split
    key: str
    weight: float
    scale: float | None
    lower: bool

    @property
    def name(self) -> str:
        """Its query parameter without the prefix, and its key in rows: `task.metric`."""
        return f"{self.task.slug}.{self.key}"


@dataclass
class AggregateRow:
    rank: int | None
    submission: Submission
    score: float | None  # 0–1
    values: dict[str, float | None]  # raw metric value per component name
    normalised: dict[str, float | None]


@dataclass
class AggregateBoard:
    benchmark: Benchmark
    components: list[Component]
    choices: list[tuple[Task, list[str]]]  # every task and metric key that can be weighted
    weights: dict[str, float]  # every choice's weight, 0 when left out
    defaults: dict[str, float]
    withheld: list[Task] = field(default_factory=list)
    rows: list[AggregateRow] = field(default_factory=list)

    @property
    def is_default(self) -> bool:
        return self.weights == self.defaults

    @property
    def query(self) -> str:
        """The weights as a query string, for links that keep them (empty when default)."""
        if self.is_default:
            return ""
        return urlencode({PREFIX + name: _number(w) for name, w in self.weights.items()})


def _number(value: float) -> str:
    return f"{value:g}"


def default_weights(benchmark: Benchmark, tasks: list[Task]) -> dict[str, float]:
    """Every weightable `task.metric` with the authors' default weight (see the module)."""
    weights = {f"{t.slug}.{key}": 0.0 for t in tasks for key in metric_columns(t)}
    authored = benchmark.aggregate_weights or {}
    for task in tasks:
        primary = f"{task.slug}.{task.primary_metric}"
        weights[primary] = float(authored.get(task.slug, 0.0 if authored else 1.0))
    for name, weight in authored.items():
        if name in weights and "." in name:
            weights[name] = float(weight)
    return weights


def parse_weights(params, defaults: dict[str, float], allowed: tuple[str, ...] = ()) -> dict:
    """The weights asked for: `w.<task>.<metric>` parameters over the defaults. Unknown
    parameters, unknown components and weights that are not numbers from 0 to MAX_WEIGHT are a
    SelectionError naming them; so are weights that leave nothing to score."""
    weights = dict(defaults)
    for name in params:
        if name in allowed:
            continue
        if not name.startswith(PREFIX):
            example = next(iter(defaults), "task.metric")
            raise SelectionError(
                f"Unknown parameter '{name[:40]}': weight a task's metric with "
                f"{PREFIX}<task>.<metric>=<weight>, e.g. {PREFIX}{example}=2."
            )
        component = name.removeprefix(PREFIX)
        if component not in weights:
            raise SelectionError(
                f"Unknown metric '{component[:60]}': weight one of {', '.join(weights)}."
            )
        raw = params.get(name)
        try:
            weight = float(raw)
        except (TypeError, ValueError):
            weight = math.nan
        if not (math.isfinite(weight) and 0 <= weight <= MAX_WEIGHT):
            raise SelectionError(
                f"Weight of '{component}' must be a number from 0 to {MAX_WEIGHT:g}, "
                f"got '{str(raw)[:20]}'."
            )
        weights[component] = weight
    if not any(weights.values()):
        raise SelectionError("Every weight is 0: give at least one metric a weight above 0.")
    return weights


def _normalise(components: list[Component], values: dict[int, dict[str, float | None]]) -> None:
    """Direction-normalise `values` (submission → component → value) in place into 0–1."""
    for c in components:
        found = [v[c.name] for v in values.values() if v.get(c.name) is not None]
        low, high = (min(found), max(found)) if found else (0.0, 0.0)
        for per in values.values():
            value = per.get(c.name)
            if value is None:
                continue
            if c.scale:
                share = value / c.scale
                per[c.name] = 1 - share if c.lower else share
            elif high == low:
                per[c.name] = 1.0
            else:
                share = (value - low) / (high - low)
                per[c.name] = 1 - share if c.lower else share


def _weighted(components: list[Component], normalised: dict[str, float | None]) -> float | None:
    total = sum(c.weight for c in components)
    if any(normalised.get(c.name) is None for c in components) or not total:
        return None
    return sum(c.weight * normalised[c.name] for c in components) / total


def _best_per_participant(rows: list[AggregateRow]) -> list[AggregateRow]:
    """Each participant's best row (ties: the earliest), each baseline's own; best first,
    unranked (None) last; ranks 1, 1, 3 for equal scores."""
    best: dict[object, AggregateRow] = {}
    for row in sorted(rows, key=lambda r: (r.submission.created_at, r.submission.pk)):
        s = row.submission
        group = s.group
        kept = best.get(group)
        if kept is None or (
            row.score is not None and (kept.score is None or row.score > kept.score)
        ):
            best[group] = row
    ordered = sorted(
        best.values(),
        key=lambda r: (
            r.score is None,
            -(r.score or 0.0),
            r.submission.created_at,
            r.submission.pk,
        ),
    )
    previous, rank = object(), None
    for index, row in enumerate(ordered, start=1):
        if row.score is None:
            rank = None
        elif row.score != previous:
            rank = index
        previous = row.score
        row.rank = rank
    return ordered


def _board_split(task: Task, maintainer: bool) -> Split | None:
    """The split the task's board shows by default; for a maintainer, before the close too."""
    split = default_split(task)
    if split is None and maintainer:
        split = next((s for s in task.splits.all() if s.role == Split.Role.HIDDEN), None)
    return split


def aggregate_for(user, benchmark: Benchmark, params, *, allowed: tuple[str, ...] = ()):
    """The benchmark-level board `user` asked for with `params` (weights; `allowed` names
    other parameters the caller reads, such as `page`). Three queries: tasks, splits,
    evaluations."""
    tasks = list(benchmark.tasks.prefetch_related("splits"))
    for task in tasks:
        task.benchmark = benchmark
    defaults = default_weights(benchmark, tasks)
    weights = parse_weights(params, defaults, allowed)
    maintainer = can_review(user, benchmark)  # maintainers and reviewers
    board = AggregateBoard(
        benchmark=benchmark,
        components=[],
        choices=[(t, metric_columns(t)) for t in tasks],
        weights=weights,
        defaults=defaults,
    )
    for task in tasks:
        keys = [k for k in metric_columns(task) if weights.get(f"{task.slug}.{k}")]
        if not keys:
            continue
        split = _board_split(task, maintainer)
        if split is None:
            if any(s.role == Split.Role.HIDDEN for s in task.splits.all()) and not maintainer:
                board.withheld.append(task)  # its only scored splits reveal at the close
            continue
        scales = key_scales(task.metrics)
        for key in keys:
            board.components.append(
                Component(
                    task=task,
                    split=split,
                    key=key,
                    weight=weights[f"{task.slug}.{key}"],
                    scale=scales.get(key),
                    lower=lower_is_better(key),
                )
            )
    if not board.components:
        return board
    splits = {c.split.pk for c in board.components}
    evaluations = (
        Evaluation.objects.filter(
            split_id__in=splits, submission__in=Submission.objects.on_leaderboards()
        )
        .select_related("submission", "submission__participant", "submission__team")
        .only(
            "metrics",
            "split_id",
            "submission__created_at",
            "submission__is_baseline",
            "submission__name",
            "submission__original_filename",
            "submission__model_repo_id",
            "submission__participant__username",
            "submission__team__name",
            "submission__kind",
        )  # fmt: skip
    )
    submissions: dict[int, Submission] = {}
    raw: dict[int, dict[str, float | None]] = {}
    for evaluation in evaluations:
        submissions[evaluation.submission_id] = evaluation.submission
        per = raw.setdefault(evaluation.submission_id, {})
        for c in board.components:
            if c.split.pk == evaluation.split_id:
                per[c.name] = evaluation.value(c.key)
    normalised = {pk: dict(values) for pk, values in raw.items()}
    _normalise(board.components, normalised)
    board.rows = _best_per_participant(
        [
            AggregateRow(
                rank=None,
                submission=submissions[pk],
                score=_weighted(board.components, normalised[pk]),
                values=raw[pk],
                normalised=normalised[pk],
            )
            for pk in raw
        ]
    )
    return board
