"""Template helpers shared by the benchmark and submission pages: markdown, metric values with
their confidence intervals, sort arrows, status badges."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from benchmarks.markdown import render_markdown
from scoring.tasktypes import lower_is_better, metric_scale

register = template.Library()


@register.filter
def markdown(text: str):
    return render_markdown(text)


def _digits(scale: float | None) -> int:
    # 0–1 metrics read best with three decimals; 0–100 ones (SQuAD, BLEU) with two; unbounded
    # ones (MSE) with four significant digits.
    return 3 if scale == 1.0 else 2 if scale == 100.0 else -4


def format_number(value: float | None, key: str, entry: dict | None = None) -> str:
    """`entry` is a metric entry that may carry its `scale` (Evaluation.display_metrics): keys
    alone are ambiguous across metrics."""
    if value is None:
        return "—"
    scale = entry["scale"] if entry and "scale" in entry else metric_scale(key)
    digits = _digits(scale)
    return f"{value:.{-digits}g}" if digits < 0 else f"{value:.{digits}f}"


@register.filter
def metric_value(metrics: dict | None, key: str) -> str:
    """A metric's value alone, '—' when missing or undefined."""
    entry = (metrics or {}).get(key) or {}
    return format_number(entry.get("value"), key, entry)


@register.filter
def metric_cell(metrics: dict | None, key: str):
    """`0.812 ± 0.030` with the exact interval in a tooltip, or `—` when there is no value."""
    entry = (metrics or {}).get(key) or {}
    value = entry.get("value")
    if value is None:
        return mark_safe('<span class="muted" title="No value">—</span>')  # a constant
    ci = entry.get("ci")
    if not ci or ci[0] is None or ci[1] is None:
        return format_html('<span class="num">{}</span>', format_number(value, key, entry))
    lo, hi = ci
    return format_html(
        '<span class="num" title="95% CI [{}, {}]">{}<span class="ci"> ± {}</span></span>',
        format_number(lo, key, entry),
        format_number(hi, key, entry),
        format_number(value, key, entry),
        format_number((hi - lo) / 2, key, entry),
    )


@register.filter
def metric_interval(metrics: dict | None, key: str) -> str:
    entry = (metrics or {}).get(key) or {}
    ci = entry.get("ci")
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{format_number(ci[0], key, entry)}, {format_number(ci[1], key, entry)}]"


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
    """A parameter count as people write it: 4.4k, 66M, 1.3B."""
    if value is None:
        return "—"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)


@register.filter
def percent(value: float | None) -> int:
    return round((value or 0.0) * 100)


@register.inclusion_tag("submissions/status_badge.html")
def status_badge(submission):
    return {"submission": submission}
