"""Seeded, vectorised bootstrap confidence intervals (95 %, percentile method).

Three resampling schemes, all equivalent to drawing n rows with replacement:

- `confusion_intervals`: classification metrics depend on the rows only through the confusion
  matrix, and resampling rows is a multinomial draw over its (non-zero) cells: O(B·K²),
  independent of n.
- `sum_intervals`: metrics that are a function of per-row statistics summed over rows (means of
  per-example scores, BLEU/chrF sufficient statistics, moment sums). Rows with identical
  statistics are merged first (exact-match is 0 or 1 for most rows), then each resample is a
  multinomial draw over the distinct rows; when most rows are distinct, resampling weights are
  built with one `bincount` per chunk. Chunks keep memory bounded.
- `weight_intervals`: anything else given the weight matrix (rank correlations).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

RESAMPLES = 1000
ALPHA = 0.05
# Entries per chunk of a (resamples × rows) weight matrix: 1M float64 = 8 MB, small enough that
# the several temporaries of a chunk stay in memory the allocator has already mapped.
CHUNK_ENTRIES = 1_000_000

Stats = dict[str, np.ndarray]


def percentile_ci(samples: np.ndarray, alpha: float = ALPHA) -> list[float] | None:
    """[lo, hi] percentile interval of the finite resample values; None if there are none."""
    samples = np.asarray(samples, dtype=np.float64)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    lo, hi = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(lo), float(hi)]


def _collect(chunks: Iterator[Stats], resamples: int) -> dict[str, list[float] | None]:
    merged: dict[str, list[np.ndarray]] = {}
    for values in chunks:
        for key, array in values.items():
            merged.setdefault(key, []).append(np.asarray(array, dtype=np.float64))
    return {key: percentile_ci(np.concatenate(parts)) for key, parts in merged.items()}


def _chunk_sizes(resamples: int, width: int) -> Iterator[int]:
    size = max(1, min(resamples, CHUNK_ENTRIES // max(width, 1)))
    done = 0
    while done < resamples:
        step = min(size, resamples - done)
        yield step
        done += step


def confusion_intervals(
    cm: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray, np.ndarray], Stats],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """Intervals for statistic(tp, true totals, predicted totals) over resampled confusion
    matrices (arrays shaped (B, K))."""
    cm = np.asarray(cm)
    n = int(cm.sum())
    if n == 0 or resamples <= 0:
        return {}
    k = cm.shape[0]
    cells = np.flatnonzero(cm)
    rows, cols = np.divmod(cells, k)
    m = len(cells)
    # Sparse (cells × classes) indicator matrices turn cell counts into per-class totals.
    ones = np.ones(m)
    to_true = sp.csr_matrix((ones, (np.arange(m), rows)), shape=(m, k))
    to_pred = sp.csr_matrix((ones, (np.arange(m), cols)), shape=(m, k))
    to_tp = sp.csr_matrix(((rows == cols).astype(float), (np.arange(m), rows)), shape=(m, k))
    rng = np.random.default_rng(seed)
    pvals = cm.ravel()[cells] / n

    def chunks() -> Iterator[Stats]:
        for size in _chunk_sizes(resamples, m + 3 * k):
            draws = rng.multinomial(n, pvals, size=size).astype(np.float64)
            tp = np.asarray((to_tp.T @ draws.T).T)
            t_sum = np.asarray((to_true.T @ draws.T).T)
            p_sum = np.asarray((to_pred.T @ draws.T).T)
            yield statistic(tp, t_sum, p_sum)

    return _collect(chunks(), resamples)


def cell_confusion_intervals(
    cms: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray, np.ndarray], Stats],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> list[dict[str, list[float] | None]]:
    """`confusion_intervals` of each of the (cells, K, K) confusion matrices `cms`, each cell
    resampling its own rows: all cells in one multinomial draw per chunk of resamples, the
    statistic getting (size, cells, K) counts. An empty dict for a cell of fewer than two rows.
    With many classes (more than CHUNK_ENTRIES entries per resample), cells go one at a time
    through `confusion_intervals`, which draws over their non-zero entries only."""
    cms = np.asarray(cms, dtype=np.float64)
    cells, k = cms.shape[0], cms.shape[-1]
    flat = cms.reshape(cells, k * k)
    n = flat.sum(axis=1)
    live = np.flatnonzero(n >= 2)
    out: list[dict[str, list[float] | None]] = [{} for _ in range(cells)]
    if resamples <= 0 or not len(live):
        return out
    if len(live) * k * k > CHUNK_ENTRIES:
        for cell in live:
            out[cell] = confusion_intervals(cms[cell], statistic, resamples=resamples, seed=seed)
        return out
    rng = np.random.default_rng(seed)
    pvals = flat[live] / n[live, None]
    # (tp, true totals, predicted totals) of every drawn matrix in one product with a 0/1
    # matrix: sums of whole numbers, exact in any order (reductions over a short last axis
    # cost several times as much).
    totals = _totals_matrix(k) if k <= TOTALS_CLASSES else None
    merged: dict[str, list[np.ndarray]] = {}
    for size in _chunk_sizes(resamples, len(live) * k * k):
        draws = rng.multinomial(n[live].astype(np.int64), pvals, size=(size, len(live)))
        if totals is not None:
            counts = (draws.reshape(-1, k * k).astype(np.float64) @ totals).reshape(
                size, len(live), 3, k
            )
            tp, t_sum, p_sum = counts[..., 0, :], counts[..., 1, :], counts[..., 2, :]
        else:
            drawn = draws.reshape(size, len(live), k, k).astype(np.float64)
            tp = np.diagonal(drawn, axis1=-2, axis2=-1)
            t_sum, p_sum = drawn.sum(axis=-1), drawn.sum(axis=-2)
        for key, values in statistic(tp, t_sum, p_sum).items():
            merged.setdefault(key, []).append(np.asarray(values, dtype=np.float64))
    for key, parts in merged.items():
        found = column_percentile_cis(np.concatenate(parts))  # of (resamples, live cells)
        for column, cell in enumerate(live):
            out[cell][key] = found[column]
    return out


# Up to this many classes, drawn confusion matrices are totalled by one matrix product.
TOTALS_CLASSES = 32


def _totals_matrix(k: int) -> np.ndarray:
    """(K², 3K) 0/1 matrix: a flattened K×K confusion matrix times it gives its diagonal, row
    sums (true totals) and column sums (predicted totals), in that order."""
    rows, cols = np.divmod(np.arange(k * k), k)
    totals = np.zeros((k * k, 3, k))
    totals[rows == cols, 0, rows[rows == cols]] = 1.0
    totals[np.arange(k * k), 1, rows] = 1.0
    totals[np.arange(k * k), 2, cols] = 1.0
    return totals.reshape(k * k, 3 * k)


def column_percentile_cis(samples: np.ndarray, alpha: float = ALPHA) -> list[list[float] | None]:
    """`percentile_ci` of each column of (resamples, columns) `samples`, the same numbers:
    columns without a non-finite value in one `np.percentile` call, the others one by one."""
    samples = np.asarray(samples, dtype=np.float64)
    out: list[list[float] | None] = [None] * samples.shape[1]
    finite = np.isfinite(samples).all(axis=0) & (samples.shape[0] > 0)
    whole = np.flatnonzero(finite)
    if len(whole):
        q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
        lows, highs = np.percentile(samples[:, whole], q, axis=0)
        for i, column in enumerate(whole.tolist()):
            out[column] = [float(lows[i]), float(highs[i])]
    for column in np.flatnonzero(~finite).tolist():
        out[column] = percentile_ci(samples[:, column], alpha)
    return out


def resample_weights(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(size, n) multinomial row counts: each row is one bootstrap resample of n rows."""
    picks = rng.integers(0, n, size=(size, n))
    picks += (np.arange(size, dtype=np.int64) * n)[:, None]
    return np.bincount(picks.ravel(), minlength=size * n).reshape(size, n)


def sum_intervals(
    stats: np.ndarray,
    statistic: Callable[[np.ndarray], Stats],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """Intervals for statistic(sums) where sums (B, S) are column sums of the (n, S) per-row
    statistics over resampled rows."""
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim == 1:
        stats = stats[:, None]
    n = stats.shape[0]
    if n == 0 or resamples <= 0:
        return {}
    rng = np.random.default_rng(seed)
    distinct, counts = np.unique(stats, axis=0, return_counts=True)

    def chunks() -> Iterator[Stats]:
        if len(distinct) * 4 <= n:
            pvals = counts / n
            for size in _chunk_sizes(resamples, len(distinct)):
                draws = rng.multinomial(n, pvals, size=size).astype(np.float64)
                yield statistic(draws @ distinct)
        else:
            for size in _chunk_sizes(resamples, n):
                yield statistic(resample_weights(rng, n, size).astype(np.float64) @ stats)

    return _collect(chunks(), resamples)


def weight_chunks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The (size, n) resampled row counts of `resamples` seeded resamples, a chunk at a time:
    the draws `weight_intervals` makes, and the paired bootstrap shares between systems."""
    rng = np.random.default_rng(seed)
    for size in _chunk_sizes(resamples, n):
        yield resample_weights(rng, n, size)


def weight_intervals(
    n: int,
    statistic: Callable[[np.ndarray], Stats],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """Intervals for statistic(weights), weights (B, n) being resampled row counts."""
    if n == 0 or resamples <= 0:
        return {}
    chunks = (statistic(w.astype(np.float64)) for w in weight_chunks(n, resamples, seed))
    return _collect(chunks, resamples)
