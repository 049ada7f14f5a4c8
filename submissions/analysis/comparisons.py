"""Comparisons of two to four submissions on one task and split, as pages and the API show them.

`comparison_for` settles what is compared (`compared`), computes the paired bootstrap
(`bootstrap._bootstrap`) and returns a `Comparison`: overall metrics side by side as
`selectors.visible_evaluations` publishes them, with deltas to the first submission and the
bootstrap's intervals and p-values of those deltas; slice cells of the primary metric that
every submission shows (suppressed cells only counted); and, on public splits only, the
per-example detail (`disagreements.PerExample`). `comparison_payload` is the API's answer: gold
values appear only in the rows of a public split, a hidden split's answer holds aggregates only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from benchmarks.models import Benchmark, Split, Task
from benchmarks.templatetags.platform_tags import format_number
from scoring.tasktypes import key_scales, lower_is_better, with_scales
from submissions.analysis.bootstrap import _bootstrap
from submissions.analysis.compared import Compared, compare_task_split, compared_submissions
from submissions.analysis.disagreements import PerExample
from submissions.analysis.examples import ExamplesUnavailable, examples_for, split_rows
from submissions.leaderboards import metric_columns
from submissions.models import Submission


def _delta(value, first):
    if value is None or first is None:
        return None
    return value - first


def _ci_text(ci, key: str, entry: dict) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    reference = entry.get("value")
    lo = format_number(ci[0], key, entry, reference=reference, signed=True)
    hi = format_number(ci[1], key, entry, reference=reference, signed=True)
    return f"[{lo}, {hi}]"


def _p_text(p) -> str:
    if p is None or not isinstance(p, int | float) or not math.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@dataclass
class Comparison:
    benchmark: Benchmark
    task: Task
    split: Split
    compared: list[Compared]
    bootstrap: dict | None
    bootstrap_reason: str

    @property
    def submissions(self) -> list[Submission]:
        return [c.submission for c in self.compared]

    @property
    def is_public(self) -> bool:
        return self.split.role == Split.Role.PUBLIC

    @cached_property
    def scales(self) -> dict:
        return key_scales(self.task.metrics)

    @cached_property
    def metrics(self) -> list[dict]:
        """Per metric key: each submission's visible entry (with its scale), the delta to the
        first, and the bootstrap's interval and p-value of that delta."""
        entries = [with_scales(c.result["metrics"], self.scales) for c in self.compared]
        known = metric_columns(self.task)
        keys = [k for k in known if any(k in e for e in entries)]
        keys += [k for e in entries for k in e if k not in keys]
        out = []
        for key in dict.fromkeys(keys):
            values = [e.get(key) or {"value": None, "scale": self.scales.get(key)} for e in entries]
            first = values[0].get("value")
            boot = (self.bootstrap or {}).get(key) or {}
            raw_ci = list(boot.get("ci") or [])
            raw_p = list(boot.get("p_value") or [])
            others = range(1, len(values))
            cis = [None] + [_clean_ci(raw_ci[i]) if i < len(raw_ci) else None for i in others]
            ps = [None] + [_clean_p(raw_p[i]) if i < len(raw_p) else None for i in others]
            deltas = [None] + [_delta(v.get("value"), first) for v in values[1:]]
            out.append(
                {
                    "key": key,
                    "values": values,
                    "deltas": deltas,
                    "ci": cis,
                    "p_value": ps,
                    "columns": [
                        {
                            "cell": {"metrics": {key: v}, "gap": d},
                            "ref": {"primary": key, "metrics": {key: values[0]}},
                            "ci_text": _ci_text(ci, key, values[0]),
                            "p_text": _p_text(p),
                            "first": i == 0,
                        }
                        for i, (v, d, ci, p) in enumerate(zip(values, deltas, cis, ps, strict=True))
                    ],
                }
            )
        return out

    @cached_property
    def slices(self) -> list[dict]:
        """Cells of the primary metric shown for every compared submission (suppressed cells
        and cells some submission lacks are left out), with deltas to the first."""
        key = self.task.primary_metric
        per_submission = []
        for c in self.compared:
            per_submission.append(
                {
                    (cell["slice"], cell["cell"]): cell
                    for cell in c.result["slices"] or []
                    if not cell.get("suppressed") and cell.get("metrics") is not None
                }
            )
        first_order = [
            (cell["slice"], cell["cell"]) for cell in self.compared[0].result["slices"] or []
        ]
        common = [k for k in first_order if all(k in cells for cells in per_submission)]
        out = []
        for slice_key in common:
            cells = [cells[slice_key] for cells in per_submission]
            entries = [with_scales(cell["metrics"], self.scales).get(key) or {} for cell in cells]
            values = [e.get("value") for e in entries]
            deltas = [None] + [_delta(v, values[0]) for v in values[1:]]
            out.append(
                {
                    "slice": slice_key[0],
                    "cell": slice_key[1],
                    "n": cells[0].get("n"),
                    "values": values,
                    "deltas": deltas,
                    "columns": [
                        {
                            "cell": {"metrics": {key: e}, "gap": d},
                            "ref": {"primary": key, "metrics": {key: entries[0]}},
                            "first": i == 0,
                        }
                        for i, (e, d) in enumerate(zip(entries, deltas, strict=True))
                    ],
                }
            )
        return out

    @cached_property
    def suppressed_cells(self) -> int:
        """How many cells some compared submission shows suppressed (left out above)."""
        names = set()
        for c in self.compared:
            for cell in c.result["slices"] or []:
                if cell.get("suppressed"):
                    names.add((cell["slice"], cell["cell"]))
        return len(names)

    @property
    def per_example_reason(self) -> str:
        if self.is_public:
            return ""
        return (
            f"Split '{self.split.name}' is {self.split.role}: its labels never leave the server, "
            "so no per-example comparison (wins, ties, losses, disagreements) is shown."
        )

    @cached_property
    def per_example(self) -> PerExample | None:
        """Win/tie/loss counts and disagreements, on public splits only."""
        if not self.is_public:
            return None
        rows = split_rows(self.split, self.task)
        try:
            examples = [examples_for(c.evaluation, rows.ids) for c in self.compared]
        except ExamplesUnavailable as exc:
            return PerExample(comparison=self, rows=rows, examples=[], reason=str(exc))
        return PerExample(comparison=self, rows=rows, examples=examples, reason="")


def _clean_ci(ci):
    if not ci or len(ci) != 2 or any(not isinstance(v, int | float) for v in ci):
        return None
    if not all(math.isfinite(v) for v in ci):
        return None
    return [float(ci[0]), float(ci[1])]


def _clean_p(p):
    return float(p) if isinstance(p, int | float) and math.isfinite(p) else None


def comparison_for(user, benchmark: Benchmark, *, task: str | None, split: str | None, ids):
    """A comparison of the submissions `ids` (2 to 4) on one task and split; SelectionError
    (400, 403, 404) naming what is wrong."""
    task_obj, split_obj = compare_task_split(benchmark, task, split)
    compared = compared_submissions(user, benchmark, task_obj, split_obj, ids)
    bootstrap, reason = _bootstrap(task_obj, split_obj, compared)
    return Comparison(
        benchmark=benchmark,
        task=task_obj,
        split=split_obj,
        compared=compared,
        bootstrap=bootstrap,
        bootstrap_reason=reason,
    )


def primary_direction(task: Task) -> str:
    return "lower is better" if lower_is_better(task.primary_metric) else "higher is better"


def comparison_payload(comparison: Comparison, *, page: int = 1, image_url=None) -> dict:
    """The comparison as the API answers it. Gold values appear only in the rows of a public
    split; a hidden split's answer holds aggregates only."""
    per_example = {"available": False, "reason": comparison.per_example_reason}
    if comparison.is_public:
        detail = comparison.per_example
        if detail.examples:
            disagreements = detail.page(page, image_url=image_url)
            per_example = {
                "available": True,
                "reason": None,
                "win_tie_loss": detail.win_tie_loss,
                "disagreements": disagreements,
            }
        else:
            per_example = {"available": False, "reason": detail.reason}
    return {
        "benchmark": comparison.benchmark.slug,
        "task": comparison.task.slug,
        "split": comparison.split.name,
        "role": comparison.split.role,
        "primary": comparison.task.primary_metric,
        "submissions": [
            {"id": s.pk, "name": s.display_name, "participant": s.participant.username}
            for s in comparison.submissions
        ],
        "metrics": [
            {
                "key": m["key"],
                "values": [v.get("value") for v in m["values"]],
                "deltas": m["deltas"],
                "ci": m["ci"],
                "p_value": m["p_value"],
            }
            for m in comparison.metrics
        ],
        "bootstrap": {
            "available": comparison.bootstrap is not None,
            "resamples": settings.BOOTSTRAP_RESAMPLES,
            "reason": comparison.bootstrap_reason or None,
        },
        "slices": [
            {k: cell[k] for k in ("slice", "cell", "n", "values", "deltas")}
            for cell in comparison.slices
        ],
        "suppressed_cells": comparison.suppressed_cells,
        "per_example": per_example,
    }
