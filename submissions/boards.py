"""Leaderboard views: what one user may see of one task's board, chosen from a page's or the
API's query. `leaderboard_for` picks the task, split, sort metric and slice cell (an unknown one
is a 404 or a SelectionError), and `BoardView` withholds the board while the split's scores are
hidden until the close, links its sorts and toggles, and reads its rows a page at a time.

Pages, the API and the exports read boards through this module only; which slice cells a hidden
split may show comes from `submissions/selectors.py` (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

from django.conf import settings
from django.db.models import CharField, OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404
from django.utils.http import urlencode

from benchmarks.access import can_review
from benchmarks.models import Benchmark, Phase, Split, Task
from submissions.board_entries import leaderboard_page
from submissions.leaderboards import (
    EFFICIENCY_SORTS,
    KINDS,
    SHOW,
    Leaderboard,
    default_split,
    leaderboard_build,
    metric_columns,
)
from submissions.selectors import SelectionError, slice_publication
from submissions.significance import board_significance


def rankable_cells(split: Split, task: Task) -> list[tuple[str, str]]:
    """The slice cells a board of `split` may be ranked on: on a hidden split those it
    publishes (the same for every evaluation of the split), elsewhere every nonempty cell.
    Cells that depend on predictions (a predicted label) are never offered: they hold different
    rows for each submission."""
    every = slice_publication(split, task, min_size=1).sizes
    cells = [(name, cell) for name, sizes in every.items() for cell in sizes]
    if split.role == Split.Role.HIDDEN:
        shown = slice_publication(split, task).shown
        cells = [c for c in cells if c in shown]
    return cells


@dataclass
class BoardView:
    """What a user may see of one task's leaderboard: the scored splits to choose from, the
    chosen one, and the board unless it is withheld until the benchmark closes."""

    benchmark: Benchmark
    tasks: list[Task]
    task: Task
    splits: list[Split]
    split: Split | None
    sort: str
    columns: list[str]
    user: object
    cell: tuple[str, str] | None = None  # rank on this slice cell
    show: str = "best"  # each participant's best submission, or "all"
    kind: str | None = None  # one kind of submission only
    baselines: bool = True

    @cached_property
    def is_maintainer(self) -> bool:
        """Sees the board as its maintainers do: maintainers and reviewers (`can_review`)."""
        return can_review(self.user, self.benchmark)

    @cached_property
    def withheld(self) -> bool:
        """Scores of an `after_close` split stay hidden from participants until the close."""
        split = self.split
        return split is not None and not split.scores_visible() and not self.is_maintainer

    def require_board(self) -> None:
        """A SelectionError unless this view has a board to show: a 404 for a task without a
        scored split, a 403 while the split's scores are withheld until the close."""
        if self.split is None:
            raise SelectionError(f"Task '{self.task.slug}' has no scored split.", status_code=404)
        if self.withheld:
            raise SelectionError(
                f"Scores on split '{self.split.name}' are revealed when the benchmark closes.",
                status_code=403,
            )

    @cached_property
    def board(self) -> Leaderboard | None:
        if self.split is None or self.withheld:
            return None
        board = leaderboard_build(
            task=self.task,
            split=self.split,
            sort=self.sort,
            cell=self.cell,
            show=self.show,
            kind=self.kind,
            baselines=self.baselines,
        )
        board_significance(board)
        return board

    def page(self, start: int, size: int) -> Leaderboard | None:
        """Rows `start` … `start + size` of the board (`board_entries.leaderboard_page`), the
        significance marks on the first page; None when there is no board to show."""
        if self.split is None or self.withheld:
            return None
        board = leaderboard_page(
            task=self.task,
            split=self.split,
            start=start,
            size=size,
            sort=self.sort,
            cell=self.cell,
            show=self.show,
            kind=self.kind,
            baselines=self.baselines,
        )
        if start == 0:
            board_significance(board)  # the tested rows are the top ones
        return board

    def query(self, **changes) -> str:
        """This view's query string (what differs from the defaults), with `changes`: the
        links that sort, toggle or page it keep the rest."""
        values = {
            "task": self.task.slug,
            "split": self.split.name if self.split else None,
            "sort": self.sort if self.sort != self.task.primary_metric else None,
            "slice": self.cell[0] if self.cell else None,
            "cell": self.cell[1] if self.cell else None,
            "show": None if self.show == "best" else self.show,
            "kind": self.kind,
            "baselines": None if self.baselines else "off",
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v is not None})

    def links(self) -> dict:
        """The page's links: sorting by each column, and each toggle's choices."""
        sortable = [*self.columns, *EFFICIENCY_SORTS]
        return {
            "sort": {key: "?" + self.query(sort=key) for key in sortable},
            "show": {
                v: "?" + self.query(show=None if v == "best" else v)
                for v in SHOW
                if v != "final" or self.benchmark.max_final is not None
            },
            "kind": {v or "all": "?" + self.query(kind=v) for v in (None, *KINDS)},
            "baselines": {
                "on": "?" + self.query(baselines=None),
                "off": "?" + self.query(baselines="off"),
            },
        }

    @cached_property
    def cells(self) -> list[tuple[str, str]]:
        """The slice cells this board may be ranked on (the slice picker's choices)."""
        if self.split is None or self.withheld:
            return []
        return rankable_cells(self.split, self.task)

    def context(self) -> dict:
        """Everything a page needs, as template variables, but the board: the page's own rows
        of it (`page`)."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "links": self.links(),
            "is_maintainer": self.is_maintainer,
            "withheld": self.withheld,
            "cells": self.cells,
            "min_slice_size": settings.MIN_SLICE_SIZE,
        }


def splits_with_phase():
    """Splits with `phase_name`: the title (or slug) of the phase that scores them, if any; in
    the splits' own query."""
    phases = Phase.objects.filter(splits=OuterRef("pk")).order_by("position")
    return Split.objects.annotate(
        phase_name=Subquery(
            phases.annotate(
                name=Coalesce(NullIf("title", Value("")), "slug", output_field=CharField())
            ).values("name")[:1]
        )
    )


BOARD_PARAMETERS = ("task", "split", "sort", "slice", "cell", "show", "kind", "baselines")


def leaderboard_from_query(user, benchmark: Benchmark, query, *, extra=()) -> BoardView:
    """`leaderboard_for` the board parameters of a page's or the API's query: BOARD_PARAMETERS
    and the caller's `extra` ones (e.g. `page`), anything else a SelectionError naming what to
    use; `show` is best (default) or all, `kind` predictions or model, `baselines` on (default)
    or off."""
    allowed = (*BOARD_PARAMETERS, *extra)
    unknown = [name for name in query if name not in allowed]
    if unknown:
        raise SelectionError(f"Unknown parameter '{unknown[0][:40]}': use {', '.join(allowed)}.")
    if query.get("show") == "final" and benchmark.max_final is None:
        raise SelectionError("This benchmark has no final selection: use show=best or show=all.")
    choices = {"show": SHOW, "kind": KINDS, "baselines": ("on", "off")}
    for name, values in choices.items():
        given = query.get(name)
        if given and given not in values:
            raise SelectionError(
                f"Unknown {name} '{given[:40]}': use {' or '.join(str(v) for v in values)}."
            )
    return leaderboard_for(
        user,
        benchmark,
        task=query.get("task"),
        split=query.get("split"),
        sort=query.get("sort"),
        slice_name=query.get("slice"),
        cell=query.get("cell"),
        show=query.get("show") or "best",
        kind=query.get("kind") or None,
        baselines=query.get("baselines") != "off",
    )


def leaderboard_for(
    user,
    benchmark: Benchmark,
    *,
    task: str | None,
    split: str | None,
    sort: str | None,
    slice_name: str | None = None,
    cell: str | None = None,
    show: str = "best",
    kind: str | None = None,
    baselines: bool = True,
) -> BoardView:
    """The board a user asked for: `task` defaults to the first task, `split` to the task's
    first hidden split whose scores are visible now (else its first public split), `sort` to
    the primary metric; `slice_name` and `cell` rank it on one slice cell. An unknown task or
    split is a 404; a split that is not scored, an unknown sort metric or a cell the board
    cannot be ranked on, a SelectionError."""
    # Tasks and their splits in two queries; everything below picks from them.
    tasks = list(benchmark.tasks.prefetch_related(Prefetch("splits", queryset=splits_with_phase())))
    task_obj = (
        next((t for t in tasks if t.slug == task), None) if task else tasks[0] if tasks else None
    )
    if task_obj is None:
        raise Http404("No such task.")
    for t in tasks:
        t.benchmark = benchmark
    all_splits = list(task_obj.splits.all())
    for s in all_splits:
        s.task = task_obj
    splits = [s for s in all_splits if s.is_scored]
    if split:
        split_obj = next((s for s in all_splits if s.name == split), None)
        if split_obj is None:
            raise Http404("No such split.")
        if not split_obj.is_scored:
            raise SelectionError(
                f"Split '{split_obj.name}' is not scored, so it has no leaderboard.",
                status_code=404,
            )
    else:
        split_obj = default_split(task_obj)
    columns = metric_columns(task_obj)
    sort = sort or task_obj.primary_metric
    if sort not in columns and sort not in EFFICIENCY_SORTS:
        choices = ", ".join([*columns, *EFFICIENCY_SORTS])
        raise SelectionError(f"Unknown sort metric '{sort}': use one of {choices}.")
    view = BoardView(
        benchmark=benchmark,
        tasks=tasks,
        task=task_obj,
        splits=splits,
        split=split_obj,
        sort=sort,
        columns=columns,
        user=user,
        show=show,
        kind=kind,
        baselines=baselines,
    )
    if slice_name or cell:
        chosen = (slice_name or "", cell or "")
        if chosen not in view.cells:
            shown = ", ".join(f"{s}: {c}" for s, c in view.cells[:8]) or "none on this split"
            more = " …" if len(view.cells) > 8 else ""
            raise SelectionError(
                f"This board cannot be ranked on slice '{chosen[0]}', cell '{chosen[1]}' "
                f"(give both 'slice' and 'cell'; on a hidden split only cells with enough rows "
                f"are offered). Cells: {shown}{more}."
            )
        view.cell = chosen
    return view
