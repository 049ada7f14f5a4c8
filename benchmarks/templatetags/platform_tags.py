"""Template helpers shared by the benchmark and submission pages: markdown, metric names, metric
values with their confidence intervals and gaps, sort arrows, status badges."""

from __future__ import annotations

import math

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from benchmarks.markdown import render_markdown
from scoring.tasktypes import lower_is_better, metric_display_name, metric_scale

register = template.Library()


@register.filter
def markdown(text: str):
    return render_markdown(text)


MINUS = "\u2212"  # a real minus sign, as wide as the plus sign in tabular figures


def number_format(scale: float | None, reference: float | None) -> str:
    """The format spec of every number shown for one metric (its value, interval and gaps), so
    that they carry the same decimals: three for 0–1 metrics, two for 0–100 ones (SQuAD, BLEU);
    for unbounded ones (MSE, MAE) as many as give `reference` (the value they belong to) four
    significant digits, or scientific notation when it is very small or very large."""
    if scale == 1.0:
        return ".3f"
    if scale == 100.0:
        return ".2f"
    magnitude = abs(reference) if reference is not None and math.isfinite(reference) else 0.0
    if magnitude == 0.0:
        return ".3f"
    if not 1e-3 <= magnitude < 1e6:
        return ".3e"
    return f".{max(0, 3 - math.floor(math.log10(magnitude)))}f"


def _scale(key: str, entry: dict | None) -> float | None:
    return entry["scale"] if entry and "scale" in entry else metric_scale(key)


def _reference(entry: dict | None) -> float | None:
    """The number an entry's figures are formatted after: its value, else a bound of its CI."""
    entry = entry or {}
    candidates = [entry.get("value"), *(entry.get("ci") or ())]
    return next((c for c in candidates if isinstance(c, int | float)), None)


def format_number(
    value: float | None,
    key: str,
    entry: dict | None = None,
    *,
    reference: float | None = None,
    signed: bool = False,
) -> str:
    """`value` of metric `key` as pages show it. `entry` is a metric entry that may carry its
    `scale` (Evaluation.display_metrics): keys alone are ambiguous across metrics. Figures that
    belong together are formatted after one `reference` (by default the entry's value) so that
    they have the same decimals. `signed` adds a `+` to positive numbers (gaps); negative ones
    get a real minus sign, and a number that rounds to zero gets no sign."""
    if value is None:
        return "—"
    if reference is None:
        reference = _reference(entry) if entry else value
    spec = number_format(_scale(key, entry), value if reference is None else reference)
    text = format(value, ("+" if signed else "") + spec)
    if not any(c in "123456789" for c in text.split("e")[0]):
        text = text.lstrip("+-")  # −0.000 and +0.000 read as differences that are not there
    return text.replace("-", MINUS)


def _entry(metrics: dict | None, key: str) -> dict:
    return (metrics or {}).get(key) or {}


def metric_cell_html(entry: dict, key: str, reference: float | None = None):
    """`0.812 ± 0.030` with the exact interval in a tooltip, or `—` when there is no value."""
    value = entry.get("value")
    if value is None:
        return mark_safe('<span class="muted" title="No value">—</span>')  # a constant
    reference = value if reference is None else reference
    ci = entry.get("ci")
    if not ci or ci[0] is None or ci[1] is None:
        return format_html(
            '<span class="num">{}</span>', format_number(value, key, entry, reference=reference)
        )
    lo, hi = ci
    return format_html(
        '<span class="num" title="95% CI [{}, {}]">{}<span class="ci"> ± {}</span></span>',
        format_number(lo, key, entry, reference=reference),
        format_number(hi, key, entry, reference=reference),
        format_number(value, key, entry, reference=reference),
        format_number((hi - lo) / 2, key, entry, reference=reference),
    )


@register.filter
def metric_value(metrics: dict | None, key: str) -> str:
    """A metric's value alone, '—' when missing or undefined."""
    entry = _entry(metrics, key)
    return format_number(entry.get("value"), key, entry)


@register.filter
def metric_cell(metrics: dict | None, key: str):
    """`0.812 ± 0.030` with the exact interval in a tooltip, or `—` when there is no value."""
    return metric_cell_html(_entry(metrics, key), key)


@register.filter
def cell_value(value: float | None, board) -> str:
    """A board's ranking value in a slice cell, formatted as its sort metric."""
    return format_number(value, board.sort)


@register.filter
def metric_number(value: float | None, key: str) -> str:
    """A bare value of metric `key`, formatted as that metric's values are everywhere."""
    return format_number(value, key)


@register.filter
def metric_interval(metrics: dict | None, key: str) -> str:
    """`[low, high]`, with the decimals of the value it belongs to; '' without an interval."""
    entry = _entry(metrics, key)
    ci = entry.get("ci")
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{format_number(ci[0], key, entry)}, {format_number(ci[1], key, entry)}]"


@register.filter
def metric_name(key: str) -> str:
    """A metric key as people read it: `f1_macro` → "F1 (macro)"."""
    return metric_display_name(str(key))


@register.filter
def metric_label(key: str):
    """The human name of a metric for a header, with its raw key in the tooltip."""
    return format_html('<span class="metric-name" title="{}">{}</span>', key, metric_name(key))


def _overall(result: dict) -> float | None:
    return _entry(result.get("metrics"), result["primary"]).get("value")


@register.simple_tag
def breakdown_value(cell: dict, result: dict):
    """A slice cell's value of the primary metric, with the decimals of the overall value."""
    key = result["primary"]
    entry = _entry(cell.get("metrics"), key)
    return metric_cell_html(entry, key, reference=_overall(result))


@register.simple_tag
def breakdown_gap(cell: dict, result: dict) -> dict:
    """A slice cell's gap to the overall value: `text` (signed, with the decimals of the overall
    value), `css` (`gap-worse`, `gap-better` or `gap-even`, by the metric's direction: for an
    error metric a higher value is worse) and a `title` saying so."""
    key = result["primary"]
    gap = cell.get("gap")
    if gap is None:
        return {"text": "—", "css": "gap muted", "title": "No gap: a value is missing"}
    entry = _entry(cell.get("metrics"), key)
    text = format_number(gap, key, entry, reference=_overall(result), signed=True)
    direction = direction_text(key)
    if text[0] not in ("+", MINUS):
        return {"text": text, "css": "gap gap-even", "title": "Same as overall"}
    worse = (gap > 0) if lower_is_better(key) else (gap < 0)
    if worse:
        return {"text": text, "css": "gap gap-worse", "title": f"Worse than overall ({direction})"}
    return {"text": text, "css": "gap gap-better", "title": f"Better than overall ({direction})"}


@register.filter
def direction_arrow(key: str) -> str:
    return "↑" if lower_is_better(key) else "↓"


@register.filter
def direction_text(key: str) -> str:
    return "lower is better" if lower_is_better(key) else "higher is better"


@register.filter
def lookup(mapping: dict | None, key):
    return (mapping or {}).get(key)


@register.filter
def compact_count(value: int | None) -> str:
    """A parameter count as people write it: 4.4k, 66M, 1.3B; '—' when there is none."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


@register.filter
def percent(value: float | None) -> int:
    return round((value or 0.0) * 100)


@register.filter
def percent_one(value: float | None) -> str:
    """A 0–1 score on 0–100 with one decimal: 0.8123 → 81.2."""
    return "—" if value is None else f"{100 * value:.1f}"


@register.inclusion_tag("submissions/status_badge.html")
def status_badge(submission):
    return {"submission": submission}
