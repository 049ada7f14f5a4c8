"""Comparing submissions on one split (docs/metrics.md): a paired bootstrap of every metric and
per-example win/tie/loss counts.

Paired: each resample draws one set of rows (seeded weights, `scoring.bootstrap.weight_chunks`)
and scores every system on those same rows, so the spread of a difference reflects how the
systems disagree, not how hard the rows drawn happened to be.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from scoring.bootstrap import ALPHA, RESAMPLES, weight_chunks
from scoring.evaluation import build_scorer, metric_specs
from scoring.predictions import as_array

# Per-example scores closer than this (relative and absolute) count as a tie: abs errors
# |1.1 - 1| and |0.9 - 1| differ in the last bits only.
TIE_TOLERANCE = 1e-12


def paired_bootstrap(
    task_spec: dict,
    gold: pa.Table,
    predictions: Sequence[pa.Array | pa.ChunkedArray],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, dict]:
    """Every metric key of 2-4 systems, each against the first.

    `predictions` are the systems' predictions aligned to gold order (the `prediction` column
    of their examples tables). Returns, per metric key, `values` (each system's value),
    `deltas` (value minus the first system's; None first), `ci` (95 % percentile interval of
    the difference over resamples, [lo, hi]) and `p_value` (two-sided:
    min(1, 2·min(P(d ≤ 0), P(d ≥ 0))), each P counted as (count + 1) / (resamples + 1), so
    never 0). Resamples where a difference is undefined are left out; a key undefined on the
    scored rows for either system gets None throughout."""
    if not 2 <= len(predictions) <= 4:
        raise ValueError("paired_bootstrap compares 2 to 4 submissions")
    specs = metric_specs(task_spec)
    scorers = [build_scorer(task_spec, specs, gold, as_array(p)) for p in predictions]
    values = [scorer.values() for scorer in scorers]
    keys = list(values[0])
    others = range(1, len(scorers))
    samples: dict[str, list[list[np.ndarray]]] = {key: [[] for _ in others] for key in keys}
    if gold.num_rows and resamples > 0:
        for weights in weight_chunks(gold.num_rows, resamples, seed):
            weights = weights.astype(np.float64)
            base = scorers[0].weighted_values(weights)
            for j in others:
                found = scorers[j].weighted_values(weights)
                for key in keys:
                    with np.errstate(invalid="ignore"):
                        samples[key][j - 1].append(found[key] - base[key])
    out: dict[str, dict] = {}
    for key in keys:
        entry: dict[str, list] = {
            "values": [v.get(key) for v in values],
            "deltas": [None],
            "ci": [None],
            "p_value": [None],
        }
        first = values[0].get(key)
        for j in others:
            value = values[j].get(key)
            parts = samples[key][j - 1]
            diffs = np.concatenate(parts) if parts else np.zeros(0)
            diffs = diffs[np.isfinite(diffs)]
            if first is None or value is None or not len(diffs):
                delta = None if first is None or value is None else value - first
                entry["deltas"].append(delta)
                entry["ci"].append(None)
                entry["p_value"].append(None)
                continue
            entry["deltas"].append(value - first)
            lo, hi = np.percentile(diffs, [100 * ALPHA / 2, 100 * (1 - ALPHA / 2)])
            entry["ci"].append([float(lo), float(hi)])
            entry["p_value"].append(paired_p_value(diffs))
        out[key] = entry
    return out


def paired_p_value(diffs: np.ndarray) -> float:
    """Two-sided bootstrap p-value of resampled differences: min(1, 2·min(P(d ≤ 0),
    P(d ≥ 0))) with each P = (count + 1) / (resamples + 1)."""
    total = len(diffs)
    below = (int((diffs <= 0).sum()) + 1) / (total + 1)
    above = (int((diffs >= 0).sum()) + 1) / (total + 1)
    return float(min(1.0, 2.0 * min(below, above)))


def win_tie_loss(score_a: np.ndarray, score_b: np.ndarray, *, lower_is_better: bool) -> dict:
    """Per-example wins, ties and losses of system b against system a (scores of the same rows,
    e.g. the `score` columns of their examples tables). Scores within `TIE_TOLERANCE` tie; rows
    where either score is undefined (NaN) are counted as `undefined`, in none of the three."""
    a = np.asarray(score_a, dtype=np.float64)
    b = np.asarray(score_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError("both systems need a score for the same rows")
    defined = np.isfinite(a) & np.isfinite(b)
    a, b = a[defined], b[defined]
    tie = np.isclose(a, b, rtol=TIE_TOLERANCE, atol=TIE_TOLERANCE)
    better = (b < a) if lower_is_better else (b > a)
    return {
        "wins": int((better & ~tie).sum()),
        "ties": int(tie.sum()),
        "losses": int((~better & ~tie).sum()),
        "undefined": int((~defined).sum()),
    }
