"""Board entries (`BoardEntry`): the rows of every default board, kept when what a board shows
changes, so that reading a page of a board is one index range and one count at any number of
submissions (docs/architecture.md, "Leaderboards").

A default board is each participant's best scored submission on one split, every kind,
baselines each a row of their own, ranked on one metric of the whole split: best first in the
metric's direction, missing values last, then the earlier submission, then the lower id — the
order `leaderboards.leaderboard_build` gives. Other views (every submission, one kind, a slice
cell, an efficiency figure) are built from the evaluations by `leaderboard_build`.

Upkeep is per group (a team, a participant on their own, or one baseline): `entries_refresh`
recomputes a group's best evaluation on every split of the benchmark, from the group's few
evaluations. It runs in the transaction of every change: a submission recorded or rescored,
its privacy or flags changed, a submission brought into a team, a submission or evaluation
deleted (signals, `submissions/apps.py`). `entries_rebuild` recomputes whole splits (the
migration's backfill, and `manage.py board_entries --rebuild`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery

from benchmarks.models import Split
from scoring.tasktypes import lower_is_better
from submissions.leaderboards import (
    EFFICIENCY_SORTS,
    Leaderboard,
    Row,
    leaderboard_build,
    metric_columns,
)
from submissions.models import (
    TEAM_GROUPS,
    BoardEntry,
    Evaluation,
    PairedTest,
    Submission,
    group_key,
)

# The submissions a board shows (`SubmissionQuerySet.on_leaderboards`), as a filter on
# evaluations.
SHOWN = Q(
    submission__status=Submission.Status.SCORED,
    submission__is_hidden=False,
    submission__is_disqualified=False,
    submission__is_private=False,
)
FIELDS = ("pk", "split_id", "submission_id", "metrics", "submission__created_at")

logger = logging.getLogger(__name__)


def _version_key(split_id: int) -> str:
    return f"board-version:{split_id}"


def board_cached(split_id: int, name: str, compute: Callable[[], object]):
    """`compute()`, kept in the shared cache (every web process) until the split's boards
    change: entries are refreshed in a transaction, and its commit gives the split a new
    version, so nothing stale is ever read. Without a working cache it is computed."""
    try:
        version = cache.get(_version_key(split_id))
        if version is None:
            cache.add(_version_key(split_id), uuid.uuid4().hex, None)
            version = cache.get(_version_key(split_id))
        key = f"board:{split_id}:{version}:{name}"
        found = cache.get(key)
        if found is not None:
            return found
    except Exception as exc:  # a cache outage must not take the boards down
        logger.warning("board cache unavailable: %s", type(exc).__name__)
        return compute()
    value = compute()
    try:
        cache.set(key, value, 24 * 3600)
    except Exception as exc:
        logger.warning("board cache unavailable: %s", type(exc).__name__)
    return value


def board_changed(split_ids: list[int]) -> None:
    """The splits' boards read afresh (their cached parts expire): now, and again after the
    commit, since a reader between the two may have cached what was still committed. Called
    by every change of entries, and when a significance test is stored."""

    def bump():
        try:
            cache.delete_many([_version_key(pk) for pk in split_ids])
        except Exception as exc:
            logger.warning("board cache unavailable: %s", type(exc).__name__)

    bump()
    transaction.on_commit(bump)


def _keys(splits) -> dict[int, list[str]]:
    """The metric columns of each split's task, by split pk (one query)."""
    return {split.pk: metric_columns(split.task) for split in splits.select_related("task")}


def _entries(rows: list[tuple], keys: dict[int, list[str]]) -> list[BoardEntry]:
    """The best row per (split, group, metric) of `rows`: (evaluation pk, split pk, submission
    pk, metrics, created_at, group, is_baseline)."""
    best: dict[tuple, tuple] = {}
    for row in rows:
        evaluation, split, submission, metrics, created_at, group, baseline = row
        for key in keys.get(split, ()):
            value = (metrics.get(key) or {}).get("value")
            sort_value = None if value is None else value if lower_is_better(key) else -value
            order = (sort_value is None, sort_value or 0.0, created_at, submission)
            slot = (split, group, key)
            if slot not in best or order < best[slot][0]:
                best[slot] = (order, row, value, sort_value)
    return [
        BoardEntry(
            split_id=split,
            metric=key,
            group=group,
            submission_id=row[2],
            evaluation_id=row[0],
            is_baseline=row[6],
            created_at=row[4],
            value=value,
            missing=value is None,
            sort_value=sort_value,
        )
        for (split, group, key), (_, row, value, sort_value) in best.items()
    ]


def group_ranks(group: int, boards: list[tuple[int, str]]) -> dict[int, dict]:
    """{split pk: {"rank", "submission_id"}}: where `group` stands on each default board
    (split pk, metric) it has a value on, as the board ranks it: 1 + the entries with a
    strictly better value. One query."""
    if not boards:
        return {}
    wanted = Q()
    for split, metric in boards:
        wanted |= Q(split_id=split, metric=metric)
    better = (
        BoardEntry.objects.filter(
            split=OuterRef("split"),
            metric=OuterRef("metric"),
            missing=False,
            sort_value__lt=OuterRef("sort_value"),
        )
        .order_by()
        .values("split")
        .annotate(count=Count("pk"))
        .values("count")
    )
    entries = (
        BoardEntry.objects.filter(wanted, group=group, missing=False)
        .annotate(ahead=Subquery(better, output_field=IntegerField()))
        .values_list("split_id", "submission_id", "ahead")
    )
    return {
        split: {"rank": 1 + (ahead or 0), "submission_id": submission}
        for split, submission, ahead in entries
    }


def _rows(evaluations) -> list[tuple]:
    """`_entries`'s rows of an evaluation queryset."""
    return [
        (pk, split, submission, metrics, created_at,
         group_key(submission, participant, team, baseline), baseline)
        for pk, split, submission, metrics, created_at, participant, team, baseline in (
            evaluations.filter(SHOWN).values_list(
                *FIELDS, "submission__participant_id", "submission__team_id",
                "submission__is_baseline",
            )
        )
    ]  # fmt: skip


def entries_refresh(submission_ids: Iterable[int]) -> None:
    """Recompute the entries of the groups these submissions belong to (their participants
    and teams, and each as a baseline). Call it in the transaction of the change: whether a
    submission is now shown, hidden, better, in a team or gone."""
    found = Submission.objects.filter(pk__in=list(submission_ids))
    rows = list(found.values_list("pk", "participant_id", "team_id", "benchmark_id"))
    groups_refresh(
        participants={participant for _, participant, _, _ in rows},
        teams={team for _, _, team, _ in rows if team},
        baselines={pk for pk, _, _, _ in rows},
        benchmarks={benchmark for _, _, _, benchmark in rows},
    )


def groups_refresh(
    *,
    participants: set[int],
    baselines: set[int],
    benchmarks: set[int],
    teams: set[int] = frozenset(),
) -> None:
    """Recompute the entries of these participants (on their own), teams and baseline
    submissions on every split of these benchmarks (a deleted submission's groups: its entries
    go, its participant's or team's best is found among the rest)."""
    if not benchmarks:
        return
    keys = _keys(Split.objects.filter(task__benchmark__in=benchmarks))
    splits = list(keys)
    not_baseline = Q(submission__is_baseline=False)
    evaluations = Evaluation.objects.filter(split__in=splits).filter(
        Q(not_baseline, submission__participant__in=participants, submission__team__isnull=True)
        | Q(not_baseline, submission__team__in=teams)
        | Q(submission__in=baselines, submission__is_baseline=True)
    )
    entries = _entries(_rows(evaluations), keys)
    groups = participants | {TEAM_GROUPS + pk for pk in teams} | {-pk for pk in baselines}
    with transaction.atomic():
        BoardEntry.objects.filter(split__in=splits, group__in=groups).delete()
        BoardEntry.objects.bulk_create(entries)
        board_changed(splits)


def entries_rebuild(split_ids: Iterable[int] | None = None) -> int:
    """Recompute every entry of these splits (all splits: None). Returns the entries written."""
    found = Split.objects.all() if split_ids is None else Split.objects.filter(pk__in=split_ids)
    keys = _keys(found)
    splits = list(keys)
    entries = _entries(_rows(Evaluation.objects.filter(split__in=splits)), keys)
    with transaction.atomic():
        BoardEntry.objects.filter(split__in=splits).delete()
        BoardEntry.objects.bulk_create(entries, batch_size=2000)
        board_changed(splits)
    return len(entries)


def leaderboard_page(*, task, split: Split, start: int, size: int, **view) -> Leaderboard:
    """Rows `start` … `start + size` of the board `leaderboard_build(task, split, **view)`
    would build, with `total` its number of rows: a default board (each participant's best,
    every kind, on a metric of the whole split; baselines on or off) from its entries, one
    index range and one or two counts; any other view built whole and cut."""
    sort = view.get("sort") or task.primary_metric
    default = (
        view.get("show", "best") == "best"
        and not view.get("kind")
        and view.get("cell") is None
        and sort not in EFFICIENCY_SORTS
        and sort in metric_columns(task)
    )
    if not default:
        board = leaderboard_build(task=task, split=split, **view)
        board.total = len(board.rows)
        board.rows = board.rows[start : start + size]
        board.start = start
        return board
    baselines = view.get("baselines", True)
    board = Leaderboard(
        task=task,
        split=split,
        sort=sort,
        columns=metric_columns(task),
        baselines=baselines,
        start=start,
    )
    entries, rank, board.total = board_entries(
        split=split, metric=sort, baselines=baselines, start=start, size=size
    )
    previous = object()
    for index, entry in enumerate(entries, start=start + 1):
        if entry.sort_value is None:
            rank = None
        elif entry.sort_value != previous and index > start + 1:
            rank = index  # every row above is strictly better: standard competition ranking
        previous = entry.sort_value
        evaluation = entry.evaluation
        evaluation.submission = entry.submission
        evaluation.task = task
        board.rows.append(Row(rank=rank, evaluation=evaluation, value=entry.value))
    return board


def board_entries(*, split: Split, metric: str, baselines: bool, start: int, size: int):
    """(entries start … start + size of the board ranked on `metric`, with their submission,
    participant and evaluation; the rank of the first one; how many rows the board has)."""
    entries = BoardEntry.objects.filter(split=split, metric=metric)
    if not baselines:
        entries = entries.filter(is_baseline=False)
    order = ("missing", "sort_value", "created_at", "submission_id")
    # The page's ids from the index alone, then only those rows joined: joining before the
    # offset would join every row a late page skips.
    ids = entries.order_by(*order).values("pk")[start : start + size]
    page = list(
        BoardEntry.objects.filter(pk__in=ids)
        .select_related("evaluation", "submission", "submission__participant", "submission__team")
        .only(
            *(f"evaluation__{name}" for name in ("id", "task", "split", "metrics", "efficiency",
                                                 "examples", "submission", "created_at")),
            *(f"submission__{name}" for name in (
                "id", "name", "original_filename", "model_repo_id", "model_sha", "kind",
                "created_at", "is_baseline", "participant", "benchmark", "task", "paper_url",
                "code_url")),
            "submission__participant__id", "submission__participant__username",
            "submission__team__id", "submission__team__name",
            "split", "metric", "group", "value", "missing", "sort_value", "created_at",
            "is_baseline",
        )
        .order_by(*order)
    )  # fmt: skip
    total = entries.count()
    first_rank = 1
    if page and start and page[0].sort_value is not None:
        first_rank = 1 + entries.filter(missing=False, sort_value__lt=page[0].sort_value).count()
    return page, first_rank, total


def _submission_saved(sender, instance, created, raw=False, **kwargs):
    if not created and not raw:
        entries_refresh([instance.pk])


def _submission_deleted(sender, instance, origin=None, **kwargs):
    # Deleting a benchmark, task, split or user takes its entries with it (foreign keys); only
    # deleting submissions themselves leaves a participant whose next best must move up.
    if not (isinstance(origin, Submission) or getattr(origin, "model", None) is Submission):
        return
    groups_refresh(
        participants={instance.participant_id},
        teams={instance.team_id} if instance.team_id else set(),
        baselines={instance.pk},
        benchmarks={instance.benchmark_id},
    )


def _evaluation_saved(sender, instance, raw=False, **kwargs):
    # Scoring stores evaluations with bulk_create (no signal) and refreshes itself; this
    # keeps entries right for evaluations saved one at a time (admin, fixtures). A deleted
    # evaluation's entries go with it (foreign key); whoever deletes one alone refreshes.
    if not raw:
        entries_refresh([instance.submission_id])


def _test_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        board_changed([instance.split_id])  # the board's significance marks


def connect() -> None:
    """Keep entries right through model saves and deletes (`SubmissionsConfig.ready`)."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_submission_saved, sender=Submission, dispatch_uid="entries-submission")
    post_delete.connect(_submission_deleted, sender=Submission, dispatch_uid="entries-gone")
    post_save.connect(_evaluation_saved, sender=Evaluation, dispatch_uid="entries-evaluation")
    post_save.connect(_test_saved, sender=PairedTest, dispatch_uid="entries-paired-test")
