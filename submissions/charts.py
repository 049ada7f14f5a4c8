"""Charts of a submission's failure-mode breakdown, drawn on the server: Vega-Lite specs built
with altair, rendered to SVG by vl-convert (its own JavaScript engine, in process: nothing is
fetched from a CDN, and the page needs no script), sanitised, and embedded inline in the page
next to the table that carries the same numbers.

- `slice_chart` draws the primary metric of every visible slice cell as a horizontal bar, with
  its 95% CI as a whisker and the overall score as a dashed rule; bars are coloured as the
  table's gaps are (`gap-worse` / `gap-better` / `gap-even`, by the metric's direction).
- `confusion_chart` draws a confusion matrix as a heatmap, coloured by each gold row's share.
- `charts_for` gives both for one result dict of the submission page.

Suppressed cells are dropped before a spec is built, so nothing of theirs reaches the SVG.
Labels come from benchmark authors (slice and cell names, class labels): Vega writes them as
text nodes and attribute values, which the sanitiser re-serialises escaped, after dropping
every element and attribute that is not plain drawing (scripts, event handlers, links out).

Building a spec with altair and rendering it cost tens of milliseconds each (a large breakdown's
pair, over a second), so SVGs are cached per process (LRU): by the JSON of what a chart draws
(`_chart`, so that a reload skips altair too) and by the JSON of its spec (`render_svg`). Under
the first, the SVG text is kept in the shared cache (Django's default cache: a folder on one
machine, Redis with several) by a hash of what it draws, so that every web process and the
scoring worker share it: the scoring job draws a new submission's charts there right after it
records them (`pipeline.charts_warm`), and a web process's first page reads them instead of
drawing. A shared cache that fails is logged (the error's type only) and drawn around. The
first render in a process also starts vl-convert's engine (one to two seconds): `warm_up()`
does that ahead of the first page, at web start."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import re
import time
import traceback
import xml.etree.ElementTree as ET

from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

from benchmarks.templatetags.platform_tags import MINUS, format_number
from scoring.tasktypes import lower_is_better as key_lower_is_better
from scoring.tasktypes import metric_display_name, metric_scale

logger = logging.getLogger(__name__)

# The plot's width in CSS pixels, not counting the row labels (up to LABEL_LIMIT more): the
# whole chart is about 560 px wide, and scales down with the page (see `_sanitise`).
PLOT_WIDTH = 330
LABEL_SLACK = {"left": 56, "top": 5, "right": 5, "bottom": 5}
NAME_LIMIT = 32  # characters of "slice: cell" in a row's label; its "(n=…)" always shows
LABEL_LIMIT = 240  # pixels: Vega shortens a label further only where its glyphs are wide
ROW_STEP = 22
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

# static/css/site.css's --danger and --ok, and a grey lighter than its --muted (a bar, not
# text): a bar is coloured as its gap is in the table.
DIRECTIONS = {
    "worse": ("Worse than overall", "#c92a2a"),
    "better": ("Better than overall", "#2b8a3e"),
    "even": ("Same as overall", "#98a2b3"),
}
TEXT = "#1d2330"
MUTED = "#667085"
GRID = "#e3e6eb"

CACHE_SIZE = 128  # SVGs of 10–60 kB: a few MB at most
# Which drawing a shared cache entry holds: a change of the templates, the sanitiser or anything
# else that changes a chart's SVG for the same inputs bumps it, so that no stale one is shown.
CHART_VERSION = 1
SHARED_TIMEOUT = 30 * 24 * 3600  # seconds: a page opened after that draws its charts again


def _direction(cell: dict, value: float, metric: str, overall: float | None, lower: bool) -> str:
    """Whether a cell is "worse", "better" or "even", as the table's gap cell decides it
    (`breakdown_gap`): a gap that rounds to zero at the shown decimals is even, and so is a
    missing one."""
    if overall is None or not _finite(overall):
        return "even"
    gap = cell.get("gap")
    gap = value - overall if not _finite(gap) else gap
    entry = ((cell.get("metrics") or {}).get(metric)) or {}
    text = format_number(gap, metric, entry, reference=overall, signed=True)
    if text[0] not in ("+", MINUS):
        return "even"
    return "worse" if (gap > 0 if lower else gap < 0) else "better"


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _slice_rows(cells: list[dict], metric: str, overall: float | None, lower: bool) -> list[dict]:
    rows, seen = [], set()
    for cell in cells or []:
        if cell.get("suppressed"):
            continue  # never drawn: not its name, not its value
        metrics = cell.get("metrics") or {}
        entry = metrics.get(metric) or {}
        value = entry.get("value") if metric in metrics else cell.get("value")
        if not _finite(value):
            continue
        name = f"{cell.get('slice')}: {cell.get('cell')}"
        if len(name) > NAME_LIMIT:  # shortened here, so that the row count stays readable
            name = name[: NAME_LIMIT - 1].rstrip() + "…"
        label = f"{name} (n={cell.get('n')})"
        while label in seen:  # a band scale merges equal labels
            label += "\u2009"
        seen.add(label)
        ci = entry.get("ci") or ()
        row = {
            "label": label,
            "value": value,
            "direction": DIRECTIONS[_direction(cell, value, metric, overall, lower)][0],
        }
        if len(ci) == 2 and all(_finite(bound) for bound in ci):
            row["lo"], row["hi"] = min(ci), max(ci)
        rows.append(row)
    return rows


def _domain(rows: list[dict], overall: float | None, scale: float | None) -> list[float] | None:
    """A 0–1 (or 0–100) metric is drawn on its whole range when everything fits in it, so
    that charts of one benchmark compare at a glance; otherwise Vega picks a zero-based one."""
    if scale is None:
        return None
    numbers = [r[k] for r in rows for k in ("value", "lo", "hi") if k in r]
    if overall is not None and _finite(overall):
        numbers.append(overall)
    if not numbers or max(numbers) > scale or min(numbers) < -scale:
        return None
    return [-scale if min(numbers) < 0 else 0, scale]


def slice_spec(
    cells: list[dict],
    *,
    metric: str,
    overall: float | None,
    lower_is_better: bool | None = None,
    scale: float | None = None,
) -> dict | None:
    """The Vega-Lite spec of `slice_chart` (a dict), or None when there is nothing to draw."""
    lower = key_lower_is_better(metric) if lower_is_better is None else lower_is_better
    rows = _slice_rows(cells, metric, overall, lower)
    return _slice_spec(rows, metric, overall, lower, scale) if rows else None


def _slice_spec(
    rows: list[dict], metric: str, overall: float | None, lower: bool, scale: float | None
) -> dict:
    domain = _domain(rows, overall, scale)
    has_ci = any("lo" in row for row in rows)
    has_overall = overall is not None and _finite(overall)
    spec = json.loads(_slice_template(metric, lower, domain and tuple(domain), has_ci, has_overall))
    spec["datasets"] = {"cells": rows, "overall": [{"overall": overall}] if has_overall else []}
    return spec


@functools.lru_cache(maxsize=64)
def _slice_template(
    metric: str, lower: bool, domain: tuple | None, has_ci: bool, has_overall: bool
) -> str:
    """The slice chart's spec without its data (named datasets "cells" and "overall"), as
    JSON: altair takes longer to build one than vl-convert to render it, and a benchmark's
    charts share a few shapes."""
    import altair as alt

    name = metric_display_name(metric)
    direction = "lower is better" if lower else "higher is better"
    x_scale = {"domain": list(domain)} if domain else {"zero": True}
    x = alt.X(
        "value:Q",
        title=f"{name} ({direction})",
        scale=alt.Scale(**x_scale, nice=True),
        axis=alt.Axis(grid=True, tickCount=5),
    )
    y = alt.Y(
        "label:N",
        sort=None,  # the selector's order: slices in the task's order, worst cells first
        title=None,
        axis=alt.Axis(labelLimit=LABEL_LIMIT, ticks=False, domain=False, labelPadding=6),
    )
    colour = alt.Color(
        "direction:N",
        title=None,
        scale=alt.Scale(
            domain=[text for text, _ in DIRECTIONS.values()],
            range=[colour for _, colour in DIRECTIONS.values()],
        ),
        legend=alt.Legend(
            orient="bottom",
            direction="horizontal",
        ),
    )
    base = alt.Chart(alt.Data(name="cells"))
    layers = [base.mark_bar(height={"band": 0.7}, opacity=0.85).encode(x=x, y=y, color=colour)]
    if has_ci:
        whisker = base.transform_filter("isValid(datum.lo)")
        layers.append(
            whisker.mark_rule(color=TEXT, strokeWidth=1.5).encode(x="lo:Q", x2="hi:Q", y=y)
        )
        for end in ("lo", "hi"):
            layers.append(
                whisker.mark_tick(color=TEXT, thickness=1.5, size=8).encode(x=f"{end}:Q", y=y)
            )
    if has_overall:
        rule = alt.Chart(alt.Data(name="overall"))
        layers.append(
            rule.mark_rule(color=TEXT, strokeDash=[4, 3], strokeWidth=1.5).encode(x="overall:Q")
        )
    chart = (
        alt.layer(*layers)
        .properties(
            width=PLOT_WIDTH,
            height=alt.Step(ROW_STEP),
            # Room on the left: the browser's font may set a label wider than the server measured
            # it, and row labels are right-aligned, so they grow to the left.
            padding=LABEL_SLACK,
            description=f"{name} of each slice cell, overall score as a dashed line",
        )
        .configure(background="transparent", font=FONT)
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=TEXT, titleColor=MUTED, labelFontSize=12, titleFontSize=12,
            gridColor=GRID, domainColor=GRID, tickColor=GRID, titleFontWeight="normal",
        )
        .configure_legend(labelFontSize=12, labelColor=TEXT, symbolType="square")
    )  # fmt: skip
    return json.dumps(chart.to_dict(validate=False))


def slice_chart(
    cells: list[dict],
    *,
    metric: str,
    overall: float | None,
    lower_is_better: bool | None = None,
    scale: float | None = None,
) -> SafeString | None:
    """A horizontal bar chart (inline SVG, safe to embed) of the primary metric `metric` of
    every non-suppressed slice cell of `cells` (as `selectors.breakdown_cells` gives them: each
    with "slice", "cell", "n", "value", "gap", "suppressed" and "metrics"), labelled
    "slice: cell (n=…)", with CI whiskers where a cell's metric entry has a `ci`, a dashed rule
    at `overall`, and bars coloured by the gap's direction (`lower_is_better` defaults to the
    metric's own). `scale` is the metric's display scale (1.0, 100.0 or None for unbounded
    ones). None when no cell has a value to draw, or when rendering fails."""
    lower = key_lower_is_better(metric) if lower_is_better is None else lower_is_better
    rows = _slice_rows(cells, metric, overall, lower)
    if not rows:
        return None
    overall = overall if _finite(overall) else None
    return _chart("slice", json.dumps([rows, metric, overall, lower, scale], sort_keys=True))


def _confusion_input(confusion: dict | None) -> tuple[list[str], list[list]] | None:
    """(labels, matrix) of a drawable confusion matrix, else None."""
    if not confusion or confusion.get("suppressed"):
        return None
    labels = [str(label) for label in confusion.get("labels") or []]
    matrix = confusion.get("matrix") or []
    n = len(labels)
    if not n or len(set(labels)) != n or len(matrix) != n:
        return None
    if any(not isinstance(row, list | tuple) or len(row) != n for row in matrix):
        return None
    if not all(_finite(count) for row in matrix for count in row):
        return None
    return labels, [list(row) for row in matrix]


def confusion_spec(confusion: dict | None) -> dict | None:
    """The Vega-Lite spec of `confusion_chart`, or None when there is no matrix to draw."""
    found = _confusion_input(confusion)
    return _confusion_spec(*found) if found else None


def _confusion_spec(labels: list[str], matrix: list[list]) -> dict:
    rows = []
    for gold, counts in zip(labels, matrix, strict=True):
        total = sum(counts)
        for predicted, count in zip(labels, counts, strict=True):
            share = count / total if total else 0.0
            rows.append({"gold": gold, "predicted": predicted, "count": count, "share": share})
    spec = json.loads(_confusion_template(tuple(labels)))
    spec["datasets"] = {"cells": rows}
    return spec


@functools.lru_cache(maxsize=64)
def _confusion_template(labels: tuple[str, ...]) -> str:
    """The heatmap's spec without its data (the named dataset "cells"), as JSON."""
    import altair as alt

    labels = list(labels)
    n = len(labels)
    step = max(14, min(72, 480 // n))
    show_counts = step >= 24
    # Horizontal column labels only where each fits its column (about 7 px a character).
    upright = max((len(label) for label in labels), default=0) * 7 <= step
    x = alt.X(
        "predicted:N",
        sort=labels,
        title="Predicted",
        axis=alt.Axis(orient="top", labelAngle=0 if upright else -45, labelLimit=120),
    )
    y = alt.Y("gold:N", sort=labels, title="Gold", axis=alt.Axis(labelLimit=140))
    base = alt.Chart(alt.Data(name="cells")).encode(x=x, y=y)
    layers = [
        base.mark_rect(stroke="#ffffff", strokeWidth=1).encode(
            color=alt.Color(
                "share:Q",
                title="Share of the gold row",
                scale=alt.Scale(scheme="blues", domain=[0, 1]),
                legend=alt.Legend(format=".0%", orient="bottom", gradientLength=160),
            )
        )
    ]
    if show_counts:
        layers.append(
            base.mark_text(fontSize=12).encode(
                text="count:Q",
                color=alt.condition("datum.share > 0.55", alt.value("#ffffff"), alt.value(TEXT)),
            )
        )
    chart = (
        alt.layer(*layers)
        .properties(
            width=alt.Step(step),
            height=alt.Step(step),
            padding=LABEL_SLACK,
            description="Confusion matrix: gold classes in rows, predicted classes in columns",
        )
        .configure(background="transparent", font=FONT)
        .configure_view(stroke=None)
        .configure_axis(
            labelColor=TEXT, titleColor=MUTED, labelFontSize=12, titleFontSize=12,
            domain=False, ticks=False, titleFontWeight="normal",
        )
        .configure_legend(labelFontSize=11, titleFontSize=11, titleColor=MUTED, labelColor=TEXT)
    )  # fmt: skip
    return json.dumps(chart.to_dict(validate=False))


def confusion_chart(confusion: dict | None) -> SafeString | None:
    """A heatmap (inline SVG, safe to embed) of a confusion matrix as
    `selectors.visible_confusion` gives it ({"labels", "matrix", "suppressed"}): gold classes
    in rows, predicted ones in columns, each cell's count written in it (when the matrix is
    small enough to read them) and coloured by its share of the gold row. None when the matrix
    is suppressed, missing or malformed, or when rendering fails."""
    found = _confusion_input(confusion)
    return _chart("confusion", json.dumps(found)) if found else None


def charts_for(result: dict) -> dict:
    """Both charts of one result dict of the submission page (as the view builds it: with
    "primary", "cells", "metrics" and "confusion"), as {"slice_chart", "confusion_chart"}, to
    merge into it. Withheld results get neither."""
    if result.get("withheld"):
        return {"slice_chart": None, "confusion_chart": None}
    key = result.get("primary")
    cells = result.get("cells") or []
    overall = ((result.get("metrics") or {}).get(key) or {}).get("value") if key else None
    scale = next(
        (
            c["metrics"][key]["scale"]
            for c in cells
            if key in (c.get("metrics") or {}) and "scale" in (c["metrics"][key] or {})
        ),
        metric_scale(key) if key else None,
    )
    slices = slice_chart(cells, metric=key, overall=overall, scale=scale) if key else None
    return {"slice_chart": slices, "confusion_chart": confusion_chart(result.get("confusion"))}


# Rendering, cached, and sanitising.


@functools.lru_cache(maxsize=CACHE_SIZE)
def _chart(kind: str, inputs_json: str) -> SafeString | None:
    """A chart's SVG, cached by what it draws: building a spec with altair costs about as much
    as rendering it (tens of milliseconds), so a page reload skips both. Per process, then in
    the shared cache, where another process (the scoring job, another web worker) may have put
    it; drawn and shared otherwise. None (cached per process too) when it cannot be drawn: a
    chart is an extra, and the table below it carries the same numbers."""
    key = shared_key(kind, inputs_json)
    found = _shared_get(key)
    if found is not None:
        return mark_safe(found)  # noqa: S308 - what _draw sanitised, stored by _shared_set
    svg = _draw(kind, inputs_json)
    if svg is not None:
        _shared_set(key, svg)
    return svg


def _draw(kind: str, inputs_json: str) -> SafeString | None:
    """Build a chart's spec from what it draws and render it; None when that fails, logged
    with the error's type and traceback frames but not its message, which could quote data."""
    try:
        inputs = json.loads(inputs_json)
        spec = _slice_spec(*inputs) if kind == "slice" else _confusion_spec(*inputs)
        return render_svg(json.dumps(spec, sort_keys=True, separators=(",", ":")))
    except Exception as exc:
        frames = "".join(traceback.format_tb(exc.__traceback__))
        logger.error("Could not draw a %s chart (%s):\n%s", kind, type(exc).__name__, frames)
        return None


def shared_key(kind: str, inputs_json: str) -> str:
    """The shared cache's key of a chart: a hash of what it draws, under the drawing's version
    and the versions of the libraries that draw it."""
    named = json.dumps([CHART_VERSION, _renderer_versions(), kind, inputs_json])
    return f"chart:{CHART_VERSION}:" + hashlib.sha256(named.encode()).hexdigest()


@functools.cache
def _renderer_versions() -> tuple[str, ...]:
    """altair's and vl-convert's versions: an upgrade may draw the same inputs differently."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("altair", "vl-convert-python"):
        try:
            found.append(version(name))
        except PackageNotFoundError:
            found.append("")
    return tuple(found)


def _shared_get(key: str) -> str | None:
    """A chart's SVG text from the shared cache; None when it is not there or the cache fails
    (logged with the error's type only: the page then draws the chart itself)."""
    try:
        found = cache.get(key)
    except Exception as exc:  # each backend raises its own types for a lost connection
        logger.warning("Could not read a chart from the shared cache (%s).", type(exc).__name__)
        return None
    return found if isinstance(found, str) else None


def _shared_set(key: str, svg: str) -> None:
    """Keep a drawn chart's SVG text in the shared cache, if it can (a failure is logged with
    its type only)."""
    try:
        cache.set(key, svg, timeout=SHARED_TIMEOUT)
    except Exception as exc:  # each backend raises its own types for a lost connection
        logger.warning("Could not keep a chart in the shared cache (%s).", type(exc).__name__)


@functools.lru_cache(maxsize=CACHE_SIZE)
def render_svg(spec_json: str) -> SafeString:
    """A Vega-Lite spec (JSON text) as sanitised inline SVG, cached per process by the text."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec_json, allowed_base_urls=[])
    return mark_safe(_sanitise(svg))  # noqa: S308 - whitelisted and re-serialised just above


def warm_up() -> float:
    """Start vl-convert's engine, import altair and draw one small chart of each kind, now
    rather than on the first page that shows one (at worker or web start); returns the seconds
    it took. Safe to call more than once, and it never raises."""
    started = time.perf_counter()
    cell = {"slice": "warm-up", "cell": "a", "n": 1, "suppressed": False, "gap": None}
    cell["metrics"] = {"accuracy": {"value": 0.5, "ci": [0.4, 0.6]}}
    slice_chart([cell], metric="accuracy", overall=0.5, lower_is_better=False, scale=1.0)
    confusion_chart({"labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]})
    return time.perf_counter() - started


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# What Vega's SVG renderer writes for these charts, and nothing that runs or links out.
ALLOWED_TAGS = frozenset(
    {
        "svg", "g", "path", "rect", "line", "circle", "ellipse", "polygon", "polyline",
        "text", "tspan", "title", "desc", "defs", "clipPath", "linearGradient",
        "radialGradient", "stop",
    }
)  # fmt: skip
_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.I)
_URL = re.compile(r"url\(\s*(?!['\"]?#)", re.I)


def _safe_attribute(name: str, value: str) -> bool:
    local = name.rsplit("}", 1)[-1].lower()
    if local.startswith("on"):
        return False
    if local == "href":
        return value.startswith("#")
    lowered = value.lower()
    return not ("javascript:" in lowered or "expression(" in lowered or _URL.search(value))


def _local(name: str) -> str:
    """`{http://www.w3.org/2000/svg}rect` → `rect`; `{…xlink}href` → `xlink:href`."""
    if name.startswith(f"{{{XLINK_NS}}}"):
        return "xlink:" + name.rsplit("}", 1)[-1]
    return name.rsplit("}", 1)[-1]


def _clean(element: ET.Element) -> None:
    """Keep `element`'s allowed children and attributes, recursively, with their namespaces
    taken off (the root declares them again)."""
    for name, value in list(element.attrib.items()):
        del element.attrib[name]
        if _safe_attribute(name, value) and (not name.startswith("{") or "}" in name):
            element.set(_local(name), value)
    for child in list(element):
        tag = child.tag if isinstance(child.tag, str) else ""
        if not tag.startswith(f"{{{SVG_NS}}}") or _local(tag) not in ALLOWED_TAGS:
            element.remove(child)
            continue
        child.tag = _local(tag)
        _clean(child)


def _sanitise(svg: str) -> str:
    """vl-convert's SVG, re-serialised from its parsed tree keeping only drawing elements and
    their harmless attributes: every text or attribute value is escaped anew. The root scales
    with the page: it keeps its width and height (its natural size, where there is room) and
    its viewBox, with `max-width: 100%; height: auto` so that it shrinks on a narrow screen."""
    root = ET.fromstring(_PROLOG.sub("", svg, count=1))
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError("not an SVG document")
    root.tag = "svg"
    _clean(root)
    root.set("xmlns", SVG_NS)
    if any(name.startswith("xlink:") for element in root.iter() for name in element.attrib):
        root.set("xmlns:xlink", XLINK_NS)
    width, height = root.get("width"), root.get("height")
    if not root.get("viewBox") and width and height:
        root.set("viewBox", f"0 0 {width} {height}")
    root.set("class", "chart-svg")
    root.set("style", "max-width:100%;height:auto")
    root.set("aria-hidden", "true")  # the table below it says the same, to screen readers too
    return ET.tostring(root, encoding="unicode")
