"""Regression metrics: mse, mae (scikit-learn) and pearson, spearman (scipy).

A correlation of a constant input is undefined (scipy returns NaN); it is reported as None.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import evaluate
import numpy as np
from scipy.stats import rankdata

from scoring.bootstrap import sum_intervals, weight_intervals
from scoring.metrics.base import Scorer, as_float, make_info

VERSION = "1.0.0"
NAMES = ("mse", "mae", "pearson", "spearman")


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """scipy.stats.pearsonr's statistic (two-pass, normalised before the dot product)."""
    if len(x) < 2:
        return np.nan
    xm = x - x.mean()
    ym = y - y.mean()
    nx, ny = np.linalg.norm(xm), np.linalg.norm(ym)
    if nx == 0 or ny == 0:
        return np.nan
    return float(np.clip(np.dot(xm / nx, ym / ny), -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """scipy.stats.spearmanr's statistic: Pearson of average ranks."""
    return pearson(rankdata(x), rankdata(y))


def _weighted_corr(wx: np.ndarray, wy: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise weighted Pearson of (B, n) values with (B, n) integer weights."""
    total = w.sum(axis=1, keepdims=True)
    mx = (w * wx).sum(axis=1, keepdims=True) / total
    my = (w * wy).sum(axis=1, keepdims=True) / total
    dx, dy = wx - mx, wy - my
    sxy = (w * dx * dy).sum(axis=1)
    sxx = (w * dx * dx).sum(axis=1)
    syy = (w * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((sxx > 0) & (syy > 0), sxy / np.sqrt(sxx * syy), np.nan)


def _weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average ranks each row would get in a resample that repeats it `weights` times."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    group_of_row = np.empty(len(values), dtype=np.int64)
    group_of_row[order] = np.cumsum(np.r_[True, sorted_values[1:] != sorted_values[:-1]]) - 1
    group_weights = np.add.reduceat(weights[:, order], starts, axis=1)
    before = np.cumsum(group_weights, axis=1) - group_weights
    return (before + (group_weights + 1) / 2)[:, group_of_row]


class RegressionScorer(Scorer):
    versions = {name: VERSION for name in NAMES}

    def __init__(self, specs: Sequence[dict], predictions: np.ndarray, references: np.ndarray):
        self.names = [spec["name"] for spec in specs]
        self.pred = np.asarray(predictions, dtype=np.float64)
        self.ref = np.asarray(references, dtype=np.float64)

    def _values(self, pred: np.ndarray, ref: np.ndarray) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name in self.names:
            if len(ref) == 0:
                out[name] = None
            elif name == "mse":
                out[name] = as_float(np.mean((ref - pred) ** 2))
            elif name == "mae":
                out[name] = as_float(np.mean(np.abs(ref - pred)))
            elif name == "pearson":
                out[name] = as_float(pearson(pred, ref))
            elif name == "spearman":
                out[name] = as_float(spearman(pred, ref))
        return out

    def values(self) -> dict[str, float | None]:
        return self._values(self.pred, self.ref)

    def cell_values(self, codes: np.ndarray, n_cells: int) -> list[dict[str, float | None]]:
        order = np.argsort(codes, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=n_cells))]
        pred, ref = self.pred[order], self.ref[order]
        return [
            self._values(pred[bounds[i] : bounds[i + 1]], ref[bounds[i] : bounds[i + 1]])
            for i in range(n_cells)
        ]

    def intervals(self, resamples: int, seed: int) -> dict[str, list[float] | None]:
        out: dict[str, list[float] | None] = {}
        # Centred values keep the moment sums free of cancellation.
        x = self.pred - self.pred.mean() if len(self.pred) else self.pred
        y = self.ref - self.ref.mean() if len(self.ref) else self.ref
        err = self.ref - self.pred
        stats = np.column_stack([np.ones_like(x), err**2, np.abs(err), x, y, x * x, y * y, x * y])

        def moments(sums: np.ndarray) -> dict[str, np.ndarray]:
            n, sq, ab, sx, sy, sxx, syy, sxy = np.moveaxis(sums, -1, 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                vx, vy = sxx - sx * sx / n, syy - sy * sy / n
                r = (sxy - sx * sy / n) / np.sqrt(vx * vy)
                r = np.where((vx > 1e-12 * sxx) & (vy > 1e-12 * syy), np.clip(r, -1, 1), np.nan)
                return {"mse": sq / n, "mae": ab / n, "pearson": r}

        wanted = [name for name in self.names if name != "spearman"]
        if wanted:
            found = sum_intervals(stats, moments, resamples=resamples, seed=seed)
            out.update({name: found.get(name) for name in wanted})
        if "spearman" in self.names:

            def rank_corr(weights: np.ndarray) -> dict[str, np.ndarray]:
                rx = _weighted_ranks(self.pred, weights)
                ry = _weighted_ranks(self.ref, weights)
                return {"spearman": _weighted_corr(rx, ry, weights)}

            found = weight_intervals(len(self.pred), rank_corr, resamples=resamples, seed=seed)
            out["spearman"] = found.get("spearman")
        return out


class _RegressionMetric(evaluate.Metric):
    VERSION = VERSION
    NAME = ""

    def _info(self) -> evaluate.MetricInfo:
        return make_info(
            type(self),
            description=f"{self.NAME} (scikit-learn / scipy semantics)",
            features={
                "predictions": datasets.Value("float64"),
                "references": datasets.Value("float64"),
            },
        )

    def _compute(self, predictions, references):
        scorer = RegressionScorer([{"name": self.NAME}], predictions, references)
        return scorer.values()


class MSE(_RegressionMetric):
    NAME = "mse"


class MAE(_RegressionMetric):
    NAME = "mae"


class Pearson(_RegressionMetric):
    NAME = "pearson"


class Spearman(_RegressionMetric):
    NAME = "spearman"
