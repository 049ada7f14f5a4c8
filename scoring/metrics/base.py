"""Shared plumbing for the metric modules.

Every metric is an `evaluate.Metric` subclass (so `Metric.compute(predictions=..., references=...)`
works the way Hugging Face users expect) whose `_compute` calls the same vectorised numpy function
that the platform's fast path (`scoring.evaluation`) uses directly, skipping evaluate's per-row
Arrow cache. `evaluate.load` is never used: it needs the Hub.
"""

from __future__ import annotations

from typing import Any

import datasets
import evaluate
import numpy as np

from scoring.intervals import Intervals, cell_sums, linearised_intervals


def make_info(
    cls: type,
    *,
    description: str,
    features: dict[str, Any] | list[dict[str, Any]],
    citation: str = "",
    reference_urls: tuple[str, ...] = (),
) -> evaluate.MetricInfo:
    """An `evaluate.MetricInfo` for one of our modules; `features` maps input names to
    `datasets` feature types (or is a list of alternatives, as evaluate allows)."""
    if isinstance(features, list):
        feats: Any = [datasets.Features(f) for f in features]
    else:
        feats = datasets.Features(features)
    return evaluate.MetricInfo(
        description=f"{description} (implementation version {cls.VERSION})",
        citation=citation,
        inputs_description=description,
        features=feats,
        reference_urls=list(reference_urls),
    )


def as_float(value: Any) -> float | None:
    """A json-serialisable float, or None where the value is undefined (NaN/inf)."""
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0: scikit-learn's and seqeval's `zero_division=0`."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


class Scorer:
    """What `scoring.evaluation` needs from a task type: overall values, per-cell values and
    bootstrap intervals, keyed by the reported metric keys. NaN/None means undefined."""

    versions: dict[str, str] = {}

    def values(self) -> dict[str, float | None]:
        raise NotImplementedError

    def cell_values(self, codes: np.ndarray, n_cells: int) -> list[dict[str, float | None]]:
        raise NotImplementedError

    def cell_sizes(self, codes: np.ndarray, n_cells: int) -> np.ndarray:
        """How many rows each cell holds."""
        return np.bincount(codes, minlength=n_cells)

    def intervals(self, resamples: int, seed: int) -> dict[str, list[float] | None]:
        raise NotImplementedError

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
        """95% intervals per cell of `keys`, the metrics that are not means over rows (those get
        theirs from `row_means`): key → one [low, high] or None per cell. `cells` holds the
        cells' values (`cell_values`); keys a scorer does not report are left out. A bootstrap
        of `resamples` draws from `seed` where one is cheap enough per cell."""
        return {}

    def confusion(self) -> dict | None:
        return None

    def example_scores(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(score, correct) per row: a float64 per-example score (NaN where undefined) and
        whether the row is right (None where that has no meaning)."""
        raise NotImplementedError

    def row_means(self) -> dict[str, np.ndarray]:
        """Per-row values of the keys that are plain means over rows (accuracy, SQuAD's exact
        match and F1, ROUGE, MAE, MSE): key → (n,) float64 whose mean is the key's value. Slice
        cells get intervals for these keys (`scoring.intervals.cell_intervals`)."""
        return {}

    def weighted_values(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every key's value on each of the (R, n) resampled row counts `weights`: key → (R,)
        array, NaN where undefined. The paired bootstrap evaluates several systems on the same
        weights."""
        raise NotImplementedError


class SumScorer(Scorer):
    """A scorer whose metrics are a function of per-row statistics summed over rows: `stats` is
    (n, S) and `finalize(sums)` maps (..., S) sums to key → values over the leading dimensions."""

    stats: np.ndarray
    BOUNDS: tuple[float, float | None] = (0.0, None)  # the range of every key's values

    def finalize(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def values(self) -> dict[str, float | None]:
        return {k: as_float(v) for k, v in self.finalize(self.stats.sum(axis=0)).items()}

    def cell_values(self, codes: np.ndarray, n_cells: int) -> list[dict[str, float | None]]:
        sums = cell_sums(self.stats, codes, n_cells)
        finals = self.finalize(sums)
        return [{k: as_float(v[i]) for k, v in finals.items()} for i in range(n_cells)]

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
        """Delta-method intervals (`scoring.intervals.linearised_intervals`)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            own = self.finalize(np.zeros((1, self.stats.shape[1])))
        keys = [key for key in keys if key in own]
        if not keys:
            return {}
        memo = self.__dict__.setdefault("_interval_memo", {})  # shared by the slices
        return linearised_intervals(
            self.stats, codes, n_cells, self.finalize, keys=keys, bounds=self.BOUNDS, memo=memo
        )

    def intervals(self, resamples: int, seed: int) -> dict[str, list[float] | None]:
        from scoring.bootstrap import sum_intervals

        return sum_intervals(self.stats, self.finalize, resamples=resamples, seed=seed)

    def weighted_values(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            found = self.finalize(np.asarray(weights, dtype=np.float64) @ self.stats)
        return {k: np.asarray(v, dtype=np.float64) for k, v in found.items()}


class CombinedScorer(Scorer):
    """Several scorers over the same rows (generation: ROUGE, BLEU and chrF), reported together."""

    def __init__(self, scorers: list[Scorer]):
        self.scorers = scorers
        self.versions = {k: v for scorer in scorers for k, v in scorer.versions.items()}

    def values(self) -> dict[str, float | None]:
        return {k: v for scorer in self.scorers for k, v in scorer.values().items()}

    def cell_values(self, codes: np.ndarray, n_cells: int) -> list[dict[str, float | None]]:
        cells: list[dict[str, float | None]] = [{} for _ in range(n_cells)]
        for scorer in self.scorers:
            for merged, values in zip(cells, scorer.cell_values(codes, n_cells), strict=True):
                merged.update(values)
        return cells

    def intervals(self, resamples: int, seed: int) -> dict[str, list[float] | None]:
        return {k: v for s in self.scorers for k, v in s.intervals(resamples, seed).items()}

    def row_means(self) -> dict[str, np.ndarray]:
        return {k: v for scorer in self.scorers for k, v in scorer.row_means().items()}

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
        return {
            k: v
            for scorer in self.scorers
            for k, v in scorer.corpus_intervals(
                codes, n_cells, cells, keys, resamples=resamples, seed=seed
            ).items()
        }

    def weighted_values(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v for s in self.scorers for k, v in s.weighted_values(weights).items()}
