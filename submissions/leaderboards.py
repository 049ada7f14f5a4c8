"""Leaderboards: the best scored submission per participant on one task and split, ranked by
any metric in its own direction, ties explicit, missing values last. One query."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import (
    BigIntegerField,
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, RowNumber

from benchmarks.models import Split, Task
from scoring.tasktypes import lower_is_better, metric_keys
from submissions.models import TEAM_GROUPS, Evaluation, Submission, cell_key


@dataclass
class Row:
    rank: int | None
    evaluation: Evaluation
    value: float | None
    # Marks from the stored paired bootstraps (`submissions.significance.board_significance`):
    # the p-value against the row above (None: not tested), and membership of the group at the
    # top that is not significantly different from #1.
    p_above: float | None = None
    tied_with_first: bool = False

    @property
    def submission(self):
        return self.evaluation.submission

    @property
    def efficiency(self) -> dict | None:
        """Speed and size of a model run (None for a prediction file)."""
        return self.evaluation.efficiency


@dataclass
class Leaderboard:
    task: Task
    split: Split
    sort: str
    columns: list[str]
    cell: tuple[str, str] | None = None  # ranked on this slice cell's value of `sort`
    show: str = "best"
    kind: str | None = None
    baselines: bool = True
    rows: list[Row] = field(default_factory=list)
    tested: bool = False  # whether any significance test of its rows is stored
    tied_group: int = 0  # rows at the top statistically tied with #1 (itself included)
    # A page of the board (`board_entries.leaderboard_page`): `rows` start at row `start + 1`
    # of `total`; the whole board: 0 and None.
    start: int = 0
    total: int | None = None

    @cached_property
    def has_efficiency(self) -> bool:
        """Whether any row is a model run with measured speed and size (then shown). Read once
        per row by the template: computed once, after the rows are in."""
        return any(row.efficiency for row in self.rows)


def metric_columns(task: Task) -> list[str]:
    """The metric keys a task reports, primary first. QA's HasAns/NoAns keys appear only when an
    evaluation has them."""
    keys = [key for spec in task.metrics for key in metric_keys(spec)]
    keys = [task.primary_metric] + [k for k in keys if k != task.primary_metric]
    return keys


def default_split(task: Task) -> Split | None:
    """The first hidden split whose scores are visible now, else the first public split."""
    splits = list(task.splits.all())
    for split in splits:
        if split.role == Split.Role.HIDDEN and split.scores_visible():
            return split
    for split in splits:
        if split.role == Split.Role.PUBLIC:
            return split
    return None


# Efficiency figures of model runs a board may be sorted on, and whether lower is better.
EFFICIENCY_SORTS = {
    "rows_per_second": False,
    "latency_ms_p95": True,
    "peak_rss_mb": True,
    "parameters": True,
}
BOARD_DEFERRED = (
    "slices", "confusion", "provenance", "cell_values",
    "submission__description", "submission__error", "submission__run_info",
    "submission__participant__password",
)  # fmt: skip
# Each participant's (or team's) best submission, every submission, or the final board: each
# group's best of the submissions it marked as final (of all, when it marked none).
SHOW = ("best", "all", "final")
KINDS = (Submission.Kind.PREDICTIONS, Submission.Kind.MODEL)


def final_choice(split: Split) -> Q:
    """Evaluations on `split` that the final board considers: the submissions each group
    marked as final, or all of a group's when it marked none (a group's marks on other splits,
    e.g. another phase's, do not count here). Baselines are their own groups."""
    marked = Submission.objects.on_leaderboards().filter(
        selected_final=True, evaluations__split=split
    )
    team_marked = Exists(marked.filter(team=OuterRef("submission__team")))
    own_marked = Exists(
        marked.filter(participant=OuterRef("submission__participant"), team__isnull=True)
    )
    return (
        Q(submission__selected_final=True)
        | Q(submission__is_baseline=True)
        | (Q(submission__team__isnull=False) & ~team_marked)
        | (Q(submission__team__isnull=True) & ~own_marked)
    )


def metric_value(key: str) -> Case:
    """An evaluation's value of metric `key` in SQL. A JSON null (an undefined metric) must be
    SQL NULL, as a missing entry is: SQLite's text extraction would turn it into the string
    'null' and then 0.0, ranking it first on error metrics."""
    return Case(
        When(**{f"metrics__{key}__value": None}, then=Value(None)),
        default=Cast(KT(f"metrics__{key}__value"), FloatField()),
        output_field=FloatField(),
    )


def leaderboard_build(
    *,
    task: Task,
    split: Split,
    sort: str | None = None,
    cell: tuple[str, str] | None = None,
    show: str = "best",
    kind: str | None = None,
    baselines: bool = True,
    limit: int | None = None,
) -> Leaderboard:
    """The board of one task and split, ranked by `sort` (a metric column, or an efficiency
    figure of EFFICIENCY_SORTS: prediction files have none and come last); with `cell` (slice,
    cell name), by the value of `sort` in that slice cell (submissions without one come last).
    `show="all"` lists every submission instead of each participant's best; `kind` keeps one
    kind of submission; `baselines=False` leaves the baselines out. Which cells a viewer may
    rank on is the caller's to check. `limit` keeps the top rows only (their ranks are the
    full board's)."""
    columns = metric_columns(task)
    sort = sort if sort in columns or sort in EFFICIENCY_SORTS else task.primary_metric
    lower = EFFICIENCY_SORTS[sort] if sort in EFFICIENCY_SORTS else lower_is_better(sort)
    if sort in EFFICIENCY_SORTS:
        value = Cast(KT(f"efficiency__{sort}"), FloatField())
    elif cell is not None:
        # Stored without undefined values: a missing key is SQL NULL on every database.
        path = f"cell_values__{cell_key(*cell)}__{sort}"
        value = Cast(KT(path), FloatField())
    else:
        value = metric_value(sort)
    best_first = value.asc(nulls_last=True) if lower else value.desc(nulls_last=True)
    order = [best_first, F("submission__created_at").asc(), F("submission_id").asc()]
    # Each baseline is its own row; everyone else is represented by their best submission.
    if show == "all":
        group = -F("submission_id")
    else:
        group = Case(
            When(submission__is_baseline=True, then=-F("submission_id")),
            When(submission__team__isnull=False, then=F("submission__team_id") + TEAM_GROUPS),
            default=F("submission__participant_id"),
            output_field=BigIntegerField(),
        )
    shown = Submission.objects.on_leaderboards()
    if kind:
        shown = shown.filter(kind=kind)
    if not baselines:
        shown = shown.filter(is_baseline=False)
    evaluations = Evaluation.objects.filter(split=split, submission__in=shown)
    if show == "final":
        evaluations = evaluations.filter(final_choice(split))
    evaluations = (
        evaluations.select_related("submission", "submission__participant", "submission__team")
        # A board reads metrics, efficiency and the per-example file only: the breakdowns and
        # provenance are most of a row's bytes.
        .defer(*BOARD_DEFERRED)
        .annotate(
            sort_value=value,
            position=Window(RowNumber(), partition_by=[group], order_by=order),
        )
        .filter(position=1)
        .order_by(*order)
    )
    if limit is not None:
        evaluations = evaluations[:limit]
    board = Leaderboard(
        task=task,
        split=split,
        sort=sort,
        columns=columns,
        cell=cell,
        show=show,
        kind=kind,
        baselines=baselines,
    )
    previous, rank = object(), None
    for index, evaluation in enumerate(evaluations, start=1):
        current = evaluation.sort_value
        if current is None:
            rank = None
        elif current != previous:
            rank = index  # standard competition ranking: 1, 1, 3
        previous = current
        evaluation.task = task  # every row's; spares a query per row for its display scales
        board.rows.append(Row(rank=rank, evaluation=evaluation, value=current))
    return board
