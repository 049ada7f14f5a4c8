"""Regression metrics: mse, mae (scikit-learn) and pearson, spearman (scipy).

A correlation is undefined (scipy returns NaN; reported here as None) for fewer than two rows or an
exactly constant input, as in scipy, and so is any resample of the bootstrap that is constant.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import evaluate
import numpy as np
from scipy.stats import rankdata

from scoring.bootstrap import sum_intervals, weight_intervals
from scoring.intervals import Intervals, correlation_intervals
from scoring.metrics.base import Scorer, as_float, make_info

VERSION = "1.1.0"
NAMES = ("mse", "mae", "pearson", "spearman")


def _defined(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether a correlation of x and y can be defined: two rows or more, neither constant."""
    return len(x) >= 2 and not (x == x[0]).all() and not (y == y[0]).all()


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """scipy.stats.pearsonr's statistic, NaN where it is undefined.

    As scipy: undefined for fewer than two rows or an exactly constant input (`x == x[0]`
    everywhere, not a tiny variance); centred values are divided by their largest magnitude
    before the norm, so values near 1e-200 or 1e200 neither underflow nor overflow; two rows give
    exactly 1 or -1.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not _defined(x, y):
        return np.nan
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        xm = x - x.mean()
        ym = y - y.mean()
        xmax, ymax = np.abs(xm).max(), np.abs(ym).max()
        nx = xmax * np.linalg.norm(xm / xmax)
        ny = ymax * np.linalg.norm(ym / ymax)
        r = float(np.clip(np.dot(xm / nx, ym / ny), -1.0, 1.0))
    return float(np.round(r)) if len(x) == 2 else r


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """scipy.stats.spearmanr's statistic: Pearson of average ranks (same undefined cases)."""
    return pearson(rankdata(x), rankdata(y))


def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`pearson` of every bootstrap resample, two-pass as scipy: row b of the (B, n) counts `w`
    repeats row i of x and y w[b, i] times. NaN where a resample is undefined (constant)."""
    drawn = w > 0
    total = w.sum(axis=1, keepdims=True)

    def unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.where(drawn, v, np.inf).min(axis=1)
        hi = np.where(drawn, v, -np.inf).max(axis=1)
        mean = (w * np.where(drawn, v, 0.0)).sum(axis=1, keepdims=True) / total
        d = np.where(drawn, v - mean, 0.0)
        d /= np.abs(d).max(axis=1, keepdims=True)
        d /= np.sqrt((w * d * d).sum(axis=1, keepdims=True))
        return d, lo == hi

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        dx, const_x = unit(x)
        dy, const_y = unit(y)
        r = np.clip((w * dx * dy).sum(axis=1), -1.0, 1.0)
    r = np.where(total[:, 0] == 2, np.round(r), r)
    return np.where(const_x | const_y, np.nan, r)


def _scaled(v: np.ndarray) -> np.ndarray:
    """v centred and divided by its largest magnitude: values in [-1, 1], so that the moment
    sums of values near 1e-200 or 1e200 neither underflow nor overflow."""
    with np.errstate(invalid="ignore", over="ignore"):
        centred = v - v.mean()
        scale = np.abs(centred).max()
        return centred / scale if scale > 0 else centred


# A resample whose variance, from moment sums, is below this fraction of its sum of squares is
# recomputed two-pass. A constant resample's computed variance is within a few n·eps of zero
# (relative to its sum of squares), far below this, so every constant resample is caught exactly.
_CANCELLATION = 1e-4


def resample_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """`weighted_pearson`, fast: moment sums of the scaled values from one matrix product, and
    the two-pass form only for the resamples whose variance is close to cancelling out."""
    n = len(x)
    if n <= 2:
        return weighted_pearson(x, y, w)
    xs, ys = _scaled(x), _scaled(y)
    sx, sy, sxx, syy, sxy = (w @ np.column_stack([xs, ys, xs * xs, ys * ys, xs * ys])).T
    with np.errstate(invalid="ignore", divide="ignore"):
        vx, vy = sxx - sx * sx / n, syy - sy * sy / n
        r = np.clip((sxy - sx * sy / n) / np.sqrt(vx * vy), -1.0, 1.0)
    unsure = ~((vx > _CANCELLATION * sxx) & (vy > _CANCELLATION * syy))
    if unsure.any():
        r[unsure] = weighted_pearson(x, y, w[unsure])
    return r


def _weighted_corr(wx: np.ndarray, wy: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise weighted Pearson of (B, n) ranks with (B, n) integer weights. Sums of ranks
    (multiples of 1/2) times counts are exact, so a constant resample's variance is exactly 0."""
    total = w.sum(axis=1, keepdims=True)
    mx = (w * wx).sum(axis=1, keepdims=True) / total
    my = (w * wy).sum(axis=1, keepdims=True) / total
    dx, dy = wx - mx, wy - my
    sxy = (w * dx * dy).sum(axis=1)
    sxx = (w * dx * dx).sum(axis=1)
    syy = (w * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((sxx > 0) & (syy > 0), np.clip(sxy / np.sqrt(sxx * syy), -1, 1), np.nan)


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
                with np.errstate(over="ignore"):
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

    def corpus_intervals(
        self,
        codes: np.ndarray,
        n_cells: int,
        cells: list[dict],
        keys: list[str],
        *,
        resamples: int,
        seed: int,
    ) -> Intervals:
        """Fisher's z intervals of the correlations (`scoring.intervals`)."""
        sizes = np.bincount(codes, minlength=n_cells)
        return {
            name: correlation_intervals(
                [cell.get(name) for cell in cells], sizes, spearman=name == "spearman"
            )
            for name in self.names
            if name in keys and name in ("pearson", "spearman")
        }

    def row_means(self) -> dict[str, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore"):
            err = self.ref - self.pred
            per_row = {"mae": np.abs(err), "mse": err * err}
        return {name: per_row[name] for name in self.names if name in per_row}

    def example_scores(self) -> tuple[np.ndarray, None]:
        """Each row's absolute error (lower is better)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.abs(self.ref - self.pred), None

    def weighted_values(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric on each resample of the (R, n) row counts, as `intervals` computes
        them; a correlation undefined on the scored rows is NaN throughout."""
        weights = np.asarray(weights, dtype=np.float64)
        defined = _defined(self.pred, self.ref)
        out: dict[str, np.ndarray] = {}
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            err = self.ref - self.pred
            total = weights.sum(axis=1)
            for name in self.names:
                if name == "mse":
                    out[name] = (weights @ (err * err)) / total
                elif name == "mae":
                    out[name] = (weights @ np.abs(err)) / total
                elif not defined:
                    out[name] = np.full(len(weights), np.nan)
                elif name == "pearson":
                    out[name] = resample_pearson(self.pred, self.ref, weights)
                elif name == "spearman":
                    rx = _weighted_ranks(self.pred, weights)
                    ry = _weighted_ranks(self.ref, weights)
                    out[name] = _weighted_corr(rx, ry, weights)
        return out

    def intervals(self, resamples: int, seed: int) -> dict[str, list[float] | None]:
        """Percentile intervals. A resample whose predictions or references are constant has an
        undefined correlation and is left out of that interval; a correlation that is undefined
        on the scored rows themselves gets no interval. With a correlation to compute, every
        metric is computed on the same resamples (one weight matrix per chunk); mse and mae alone
        go through `sum_intervals`, which merges rows with equal errors."""
        n = len(self.pred)
        errors = [name for name in self.names if name in ("mse", "mae")]
        correlations = [name for name in self.names if name in ("pearson", "spearman")]
        defined = _defined(self.pred, self.ref)
        with np.errstate(over="ignore"):
            err = self.ref - self.pred
            stats = np.column_stack([err**2, np.abs(err)])

        def means(sums: np.ndarray) -> dict[str, np.ndarray]:
            return {"mse": sums[..., 0] / n, "mae": sums[..., 1] / n}

        def resampled(weights: np.ndarray) -> dict[str, np.ndarray]:
            found = means(weights @ stats) if errors else {}
            if defined and "pearson" in correlations:
                found["pearson"] = resample_pearson(self.pred, self.ref, weights)
            if defined and "spearman" in correlations:
                rx = _weighted_ranks(self.pred, weights)
                ry = _weighted_ranks(self.ref, weights)
                found["spearman"] = _weighted_corr(rx, ry, weights)
            return found

        with np.errstate(invalid="ignore", over="ignore"):  # an mse beyond the float range
            if correlations and defined:
                found = weight_intervals(n, resampled, resamples=resamples, seed=seed)
            elif errors:
                found = sum_intervals(stats, means, resamples=resamples, seed=seed)
            else:
                found = {}
        return {name: found.get(name) for name in self.names}


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
