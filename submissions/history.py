"""A leaderboard's history: how the best score of one board (task, split, sort metric) improved
over time, and the baselines it is measured against (docs/formats.md, "Leaderboard history").

- `history_build` reads it in one query: of the submissions on the boards (scored, not hidden,
  disqualified or private) with a value of the sort metric on the split, in creation order, the
  database keeps only those that beat every earlier participant submission (in the metric's own
  direction; a tie improves nothing), the latest one (where the line ends), and every baseline,
  each a horizontal line.
- `history_for` is the API's: the board `boards.leaderboard_for` chooses for the same
  parameters, refused and withheld as the board is.
- `history_page` is the leaderboard page's: the history of the board it shows, a step chart of
  it (inline SVG through `charts.render_svg`) and the rows of the table under the chart.

Values are read as the board reads them (`leaderboards.leaderboard_build`): the `value` of the
sort metric's entry in `Evaluation.metrics`, a JSON null or a missing entry being no value;
submissions without one are left out."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.cache import cache
from django.db.models import F, Max, Min, Q, Window
from django.db.models.expressions import RowRange
from django.utils.safestring import SafeString, mark_safe

from benchmarks.models import Benchmark, Split, Task
from benchmarks.templatetags.platform_tags import format_number
from scoring.tasktypes import key_scales, lower_is_better, metric_display_name, metric_scale
from submissions import charts
from submissions.board_entries import board_cached
from submissions.boards import BoardView, leaderboard_for
from submissions.leaderboards import metric_value
from submissions.models import Evaluation, Submission
from submissions.selectors import SelectionError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Point:
    """A participant submission that beat every earlier one on the board."""

    date: datetime
    value: float
    submission: int
    participant: str
    name: str


@dataclass(frozen=True)
class Baseline:
    """A baseline's value on the board: a horizontal line."""

    name: str
    value: float
    submission: int


@dataclass
class History:
    task: Task
    split: Split
    sort: str
    lower_is_better: bool
    points: list[Point] = field(default_factory=list)  # in creation order, each better
    baselines: list[Baseline] = field(default_factory=list)  # best first
    latest: datetime | None = None  # the last participant submission with a value

    def as_json(self) -> dict:
        """The API's answer (docs/formats.md)."""
        return {
            "task": self.task.slug,
            "split": self.split.name,
            "sort": self.sort,
            "lower_is_better": self.lower_is_better,
            "points": [
                {
                    "date": api_date(p.date),
                    "value": p.value,
                    "submission": p.submission,
                    "participant": p.participant,
                    "name": p.name,
                }
                for p in self.points
            ],
            "baselines": [
                {"name": b.name, "value": b.value, "submission": b.submission}
                for b in self.baselines
            ],
        }


def api_date(moment: datetime) -> str:
    """As the API writes dates: UTC, ISO 8601 with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def history_build(*, task: Task, split: Split, sort: str) -> History:
    """The history of the board of `task` and `split` by metric `sort` (a metric key the caller
    checked): the participant submissions that improved the best value, and the baselines. One
    query, however many submissions the board holds: the database picks the few rows it needs
    (`_history_rows`) and only those are read with their names."""
    lower = lower_is_better(sort)
    rows = (
        Evaluation.objects.filter(pk__in=_history_rows(split, sort, lower))
        .annotate(board_value=metric_value(sort))
        .order_by("submission__created_at", "submission_id")
        .values_list(
            "submission_id",
            "submission__created_at",
            "submission__is_baseline",
            "submission__name",
            "submission__original_filename",
            "submission__model_repo_id",
            "submission__participant__username",
            "board_value",
        )
    )
    history = History(task=task, split=split, sort=sort, lower_is_better=lower)
    best = None
    for pk, created_at, is_baseline, name, filename, repo_id, username, value in rows:
        if value is None or not math.isfinite(value):
            continue
        # The board's name for it (Submission.display_name), without loading the submission.
        shown = Submission(
            pk=pk, name=name, original_filename=filename, model_repo_id=repo_id
        ).display_name
        if is_baseline:
            history.baselines.append(Baseline(name=shown, value=value, submission=pk))
            continue
        history.latest = created_at
        # Every earlier improvement is among these rows, so the best so far is theirs.
        if best is None or (value < best if lower else value > best):
            best = value
            history.points.append(
                Point(date=created_at, value=value, submission=pk, participant=username, name=shown)
            )
    history.baselines.sort(key=lambda b: b.value if lower else -b.value)
    return history


def _history_rows(split: Split, sort: str, lower: bool):
    """The evaluations of `split` a history reads, as a subquery of their ids: those on the
    boards with a value of `sort` that beat every earlier participant submission (creation
    order; a tie improves nothing), the latest participant submission (where the line ends),
    and every baseline. Baselines are a window partition of their own: they neither set nor
    beat the participants' best."""
    in_order = [F("submission__created_at").asc(), F("submission_id").asc()]
    partition = [F("submission__is_baseline")]
    best = Min if lower else Max
    return (
        Evaluation.objects.filter(split=split, submission__in=Submission.objects.on_leaderboards())
        .annotate(board_value=metric_value(sort))
        .filter(board_value__isnull=False)
        .annotate(
            best_before=Window(
                best("board_value"),
                partition_by=partition,
                order_by=in_order,
                frame=RowRange(start=None, end=-1),
            ),
            latest=Window(Max("submission__created_at"), partition_by=partition),
        )
        .filter(
            Q(submission__is_baseline=True)
            | Q(best_before__isnull=True)
            | Q(**{"board_value__lt" if lower else "board_value__gt": F("best_before")})
            | Q(submission__created_at=F("latest"))
        )
        .values("pk")
    )


# What the history API takes: the board's choice of task, split and metric. A slice cell, a
# filter or a page of the board changes nothing of the history, so they are refused, not ignored.
PARAMETERS = ("task", "split", "sort")


def history_for(user, benchmark: Benchmark, query: Mapping) -> History:
    """The history of the board `user` sees for the query parameters `query` (`task`, `split`,
    `sort`: the board's). Raises what `leaderboard_for` raises (an unknown task or split is a
    404, an unknown sort metric a 400), and SelectionError for any other parameter and a sort
    that is not a metric (400: the history is of one metric on the whole split), a task without
    a scored split (404) and a board withheld until the close (403), as the board's API does."""
    unknown = [name for name in query if name not in PARAMETERS]
    if unknown:
        raise SelectionError(
            f"Unknown parameter '{unknown[0][:40]}': use {', '.join(PARAMETERS)} (the history "
            "is of one metric on the whole split)."
        )
    view = leaderboard_for(
        user, benchmark, task=query.get("task"), split=query.get("split"), sort=query.get("sort")
    )
    if view.sort not in view.columns:
        raise SelectionError(
            f"The history is of a metric, not '{view.sort}': use one of {', '.join(view.columns)}."
        )
    view.require_board()
    return history_build(task=view.task, split=view.split, sort=view.sort)


# The page: a step chart of the best value over time, baselines as dashed lines, and a table.

PLOT_WIDTH = 400  # CSS pixels; with its axes the chart is about 470 px wide, and shrinks
PLOT_HEIGHT = 190
ACCENT = "#3b5bdb"  # static/css/site.css's --accent
LABEL_LIMIT = 28  # characters of a baseline's name on its line (the table has it whole)
# Which drawing a shared cache entry holds: bumped when the same inputs would draw differently
# (this module's spec, or charts.py's rendering and sanitiser), so that no stale one is shown.
CHART_VERSION = 2
SHARED_TIMEOUT = 7 * 24 * 3600  # seconds


def history_page(view: BoardView) -> dict:
    """What the leaderboard page shows under `view`'s board, as template variables: `history`
    (None while the board is withheld, or without a scored split), `history_chart` (SVG, or
    None when there is no point to draw or it cannot be drawn), and `history_rows` and
    `history_baselines`, the table's rows with their values formatted as the board's."""
    if view.split is None or view.withheld:
        return {"history": None}
    # A board sorted on something other than a metric (a model run's speed) shows the history
    # of its primary metric.
    sort = view.sort if view.sort in view.columns else view.task.primary_metric
    return board_cached(
        view.split.pk, f"history-page:{sort}", lambda: _history_page(view.task, view.split, sort)
    )


def _history_page(task: Task, split: Split, sort: str) -> dict:
    history = history_build(task=task, split=split, sort=sort)
    scale = key_scales(task.metrics).get(sort, metric_scale(sort))

    def text(value: float) -> str:
        return format_number(value, sort, {"scale": scale})

    return {
        "history": history,
        "history_chart": history_chart(history, text),
        "history_rows": [{"point": p, "text": text(p.value)} for p in history.points],
        "history_baselines": [{"baseline": b, "text": text(b.value)} for b in history.baselines],
    }


def history_chart(history: History, text=str) -> SafeString | None:
    """A step line (inline SVG, safe to embed) of the best value of `history` over time, a dot
    at each submission that improved it and the line carried on to the latest submission, with
    each baseline as a dashed horizontal line labelled "name (value)" (`text` formats a value).
    None when no participant submission has a value, or when rendering fails."""
    if not history.points:
        return None
    points = [{"date": api_date(p.date), "value": p.value} for p in history.points]
    steps = list(points)
    if history.latest and history.latest > history.points[-1].date:
        steps.append({"date": api_date(history.latest), "value": history.points[-1].value})
    baselines = [{"label": baseline_label(b.name, text(b.value)), "value": b.value}
                 for b in history.baselines]  # fmt: skip
    domain = value_domain([p.value for p in history.points] + [b.value for b in history.baselines])
    inputs = [points, steps, baselines, domain, history.sort, history.lower_is_better]
    return _chart(json.dumps(inputs, sort_keys=True))


def value_domain(values: list[float]) -> list[float]:
    """The value axis's range: every value with a margin, so that one value alone (or many
    equal ones) sits inside a readable axis; never below zero when no value is."""
    low, high = min(values), max(values)
    span = high - low or abs(high) * 0.1 or 1.0
    margin = span * 0.1
    bottom = low - margin
    if low >= 0:
        bottom = max(bottom, 0.0)
    return [bottom, high + margin]


def baseline_label(name: str, value_text: str) -> str:
    if len(name) > LABEL_LIMIT:
        name = name[: LABEL_LIMIT - 1].rstrip() + "…"
    return f"{name} ({value_text})"


@functools.lru_cache(maxsize=charts.CACHE_SIZE)
def _chart(inputs_json: str) -> SafeString | None:
    """The chart's SVG, cached by what it draws: per process, then in the shared cache (another
    web process may have drawn it); drawn and shared otherwise. None when it cannot be drawn:
    the table under it carries the same numbers."""
    named = json.dumps([CHART_VERSION, inputs_json])
    key = f"history-chart:{CHART_VERSION}:" + hashlib.sha256(named.encode()).hexdigest()
    try:
        found = cache.get(key)
    except Exception as exc:  # each backend raises its own types for a lost connection
        logger.warning("Could not read a chart from the shared cache (%s).", type(exc).__name__)
        found = None
    if isinstance(found, str):
        return mark_safe(found)  # noqa: S308 - what render_svg sanitised, stored below
    try:
        points, steps, baselines, domain, sort, lower = json.loads(inputs_json)
        spec = json.loads(_template(sort, lower, bool(baselines)))
        spec["datasets"] = {"points": points, "steps": steps, "baselines": baselines}
        for layer in spec["layer"]:  # every layer draws on the one value axis
            layer["encoding"]["y"]["scale"]["domain"] = domain
        svg = charts.render_svg(json.dumps(spec, sort_keys=True, separators=(",", ":")))
    except Exception:
        logger.exception("Could not draw a history chart")
        return None
    try:
        cache.set(key, str(svg), timeout=SHARED_TIMEOUT)
    except Exception as exc:  # each backend raises its own types for a lost connection
        logger.warning("Could not keep a chart in the shared cache (%s).", type(exc).__name__)
    return svg


@functools.lru_cache(maxsize=64)
def _template(sort: str, lower: bool, has_baselines: bool) -> str:
    """The chart's spec without its data (named datasets "steps", "points", "baselines"), as
    JSON: altair takes longer to build one than vl-convert to render it."""
    import altair as alt

    direction = "lower is better" if lower else "higher is better"
    x = alt.X(
        "date:T",
        title=None,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(
            format="%Y-%m-%d",
            labelAngle=0,
            # Ticks on whole days (UTC), so no two read the same date; labels that would
            # overlap are dropped.
            tickCount={"interval": "day", "step": 1},
            grid=False,
            labelFlush=True,
            labelOverlap="greedy",  # drop a date label rather than print two over each other
            labelSeparation=6,
        ),
    )
    y = alt.Y(
        "value:Q",
        title=f"Best {metric_display_name(sort)} ({direction})",
        scale=alt.Scale(zero=False, nice=True),  # its domain is set with the data
        axis=alt.Axis(grid=True, tickCount=5),
    )
    layers = [
        alt.Chart(alt.Data(name="steps"))
        .mark_line(interpolate="step-after", color=ACCENT, strokeWidth=2)
        .encode(x=x, y=y),
        alt.Chart(alt.Data(name="points"))
        .mark_point(filled=True, size=45, color=ACCENT, opacity=1)
        .encode(x=x, y=y),
    ]
    if has_baselines:
        lines = alt.Chart(alt.Data(name="baselines"))
        layers.append(
            lines.mark_rule(color=charts.MUTED, strokeDash=[4, 3], strokeWidth=1.5).encode(y=y)
        )
        layers.append(
            lines.mark_text(
                align="right", baseline="bottom", dx=-2, dy=-3, fontSize=11, color=charts.MUTED
            ).encode(x=alt.value(PLOT_WIDTH), y=y, text="label:N")
        )
    chart = (
        alt.layer(*layers)
        .properties(
            width=PLOT_WIDTH,
            height=PLOT_HEIGHT,
            padding={"left": 5, "top": 8, "right": 12, "bottom": 5},
            description=f"Best {metric_display_name(sort)} over time, baselines as dashed lines",
        )
        .configure(background="transparent", font=charts.FONT)
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=charts.TEXT, titleColor=charts.MUTED, labelFontSize=12, titleFontSize=12,
            gridColor=charts.GRID, domainColor=charts.GRID, tickColor=charts.GRID,
            titleFontWeight="normal",
        )
    )  # fmt: skip
    return json.dumps(chart.to_dict(validate=False))
