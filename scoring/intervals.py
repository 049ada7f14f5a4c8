"""95% intervals of slice cells, cheap enough to give every cell of every slice one.

A bootstrap per cell would cost as much again as the whole scoring for every slice, so each kind
of metric gets the interval that fits it:

- means of per-row values (`Scorer.row_means`: accuracy, exact match, SQuAD F1, ROUGE, MAE,
  MSE): the Wilson score interval for a proportion, else the normal approximation
  mean ± z·s/√n (`interval_bases`, `cell_intervals`);
- functions of per-row statistics summed over rows (BLEU, chrF, seqeval's precision, recall and
  F1): the delta method, value ± z·se with se² = Σᵢ (∇T · (xᵢ − x̄))², the variance the row
  bootstrap of the cell's sums has to first order (`linearised_intervals`), from one scatter
  matrix per cell shared by every key;
- correlations: Fisher's z transform (`correlation_intervals`);
- confusion-matrix metrics (macro F1, MCC...) keep the bootstrap: resampling a cell's confusion
  matrix costs O(B·K²) whatever its rows (`scoring.metrics.classification`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

Intervals = dict[str, list[list[float] | None]]

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


@dataclass(frozen=True)
class IntervalBasis:
    """What the cells' intervals of one key need besides the cells' values and sizes: `top`,
    the maximum where the per-row values are 0 or that maximum (a scaled proportion), else the
    per-row squares."""

    top: float | None
    squares: np.ndarray | None


def interval_bases(row_means: dict[str, np.ndarray]) -> dict[str, IntervalBasis]:
    """Per key of `Scorer.row_means`, once per split: is it a proportion, else its squares.
    Keys with non-finite per-row values get no intervals."""
    bases = {}
    for key, values in row_means.items():
        values = np.asarray(values, dtype=np.float64)
        if not len(values) or not np.isfinite(values).all():
            continue
        top = float(values.max())
        if top > 0 and np.isin(values, (0.0, top)).all():
            bases[key] = IntervalBasis(top=top, squares=None)
        else:
            bases[key] = IntervalBasis(top=None, squares=values * values)
    return bases


def cell_intervals(
    bases: dict[str, IntervalBasis], codes: np.ndarray, sizes: np.ndarray, cells: list[dict]
) -> dict[str, list[list[float] | None]]:
    """95% intervals of each cell's value for the keys that are means of per-row values
    (`Scorer.row_means`; `cells` holds each cell's values, `sizes` its rows): the Wilson score
    interval for a proportion (accuracy, exact match, scaled), else the normal approximation
    mean ± z·s/√n (SQuAD F1, ROUGE, MAE, MSE), with the cell's sum of squares: one `bincount`
    per key and slice at most, where a bootstrap per cell would cost as much again as the
    whole scoring for every slice. None for a cell of fewer than two rows or without a value."""
    counts = np.asarray(sizes, dtype=np.float64)
    out: dict[str, list[list[float] | None]] = {}
    for key, basis in bases.items():
        mean = np.array(
            [np.nan if cell.get(key) is None else cell[key] for cell in cells], dtype=np.float64
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            if basis.top is not None:
                p = np.clip(mean / basis.top, 0.0, 1.0)
                z2n = Z95 * Z95 / counts
                centre = (p + z2n / 2) / (1 + z2n)
                half = Z95 * np.sqrt(p * (1 - p) / counts + z2n / (4 * counts)) / (1 + z2n)
                low, high = basis.top * (centre - half), basis.top * (centre + half)
            else:
                squares = np.bincount(codes, weights=basis.squares, minlength=len(counts))
                variance = np.maximum(squares - counts * mean * mean, 0.0) / (counts - 1)
                half = Z95 * np.sqrt(variance / counts)
                low, high = mean - half, mean + half
        usable = (counts >= 2) & np.isfinite(low) & np.isfinite(high)
        out[key] = [
            [float(low[i]), float(high[i])] if usable[i] else None for i in range(len(counts))
        ]
    return out


def bounded(
    low: np.ndarray, high: np.ndarray, usable: np.ndarray, bounds: tuple[float, float | None]
) -> list[list[float] | None]:
    """[low, high] per cell, clipped to the metric's range; None where not `usable`."""
    floor, ceiling = bounds
    low = np.maximum(low, floor)
    if ceiling is not None:
        high = np.minimum(high, ceiling)
    usable = usable & np.isfinite(low) & np.isfinite(high)
    return [[float(low[i]), float(high[i])] if usable[i] else None for i in range(len(low))]


def gradients(
    finalize: Callable[[np.ndarray], dict[str, np.ndarray]], sums: np.ndarray, keys: list[str]
) -> dict[str, np.ndarray]:
    """∂T/∂sums of each key at each cell's (cells, S) sums, by central differences (each step
    relative to its sum); an (cells, S) array per key. Steps are evaluated for every cell at
    once: 2·S calls of `finalize`."""
    sums = np.asarray(sums, dtype=np.float64)
    out = {key: np.zeros(sums.shape) for key in keys}
    steps = 1e-6 * np.maximum(np.abs(sums), 1.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for column in range(sums.shape[-1]):
            shift = np.zeros(sums.shape)
            shift[:, column] = steps[:, column]
            up, down = finalize(sums + shift), finalize(sums - shift)
            for key in keys:
                slope = (np.asarray(up[key]) - np.asarray(down[key])) / (2 * steps[:, column])
                out[key][:, column] = slope
    return out


def cell_sums(values: np.ndarray, codes: np.ndarray, n_cells: int) -> np.ndarray:
    """Per cell, the column sums of the (n, S) `values` (or the sums of an (n,) vector) over
    its rows: one product with the sparse cell-indicator matrix, a single pass over the rows
    for every column at once (a `bincount` per column reads a strided column each time)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(codes)
    indicator = sparse.csr_matrix(
        (np.ones(n), np.asarray(codes, dtype=np.int64), np.arange(n + 1)), shape=(n, n_cells)
    )
    return np.asarray(indicator.T @ values).reshape((n_cells, *values.shape[1:]))


def scatter_matrices(
    stats: np.ndarray, codes: np.ndarray, n_cells: int, *, columns: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the column sums of the (n, S) `stats` (of `columns` only, if given) over its
    rows, (cells, S), and the scatter matrix Σᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ = XᵀX − s sᵀ/n,
    (cells, S, S): the rows are put in cell order once, then each cell is one BLAS product of
    a contiguous block."""
    if columns is None:
        columns = np.arange(stats.shape[1])
    width = len(columns)
    sums, scatter = np.zeros((n_cells, width)), np.zeros((n_cells, width, width))
    # A stable sort of 16-bit codes is a radix sort: a fraction of a comparison sort's time.
    small = codes.astype(np.int16) if n_cells < 2**15 else codes
    ordered = stats[np.ix_(np.argsort(small, kind="stable"), columns)]
    bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=n_cells))]
    for cell in range(n_cells):
        block = ordered[bounds[cell] : bounds[cell + 1]]
        if len(block):
            sums[cell] = block.sum(axis=0)
            scatter[cell] = block.T @ block - np.outer(sums[cell], sums[cell]) / len(block)
    return sums, scatter


def _moves(slopes: np.ndarray):
    """Whether a slope (of the cells along axis 0) is non-zero or undefined somewhere."""
    return ((slopes != 0) | ~np.isfinite(slopes)).any(axis=0)


def _scatter(stats, codes, n_cells, columns, sums, counts, slopes, keys, memo) -> np.ndarray:
    """The cells' scatter matrices over `columns`, as far as the keys' variances read them:
    when each key moves with few columns (SQuAD's HasAns/NoAns keys: two or three each), only
    the products of columns one key moves with, summed per cell in one pass with no sort; else
    all of them (`scatter_matrices`)."""
    position = {column: i for i, column in enumerate(columns)}
    pairs = set()
    for key in keys:
        own = [c for c in columns if _moves(slopes[key][counts >= 2, c])]
        pairs |= {(a, b) for a in own for b in own if a <= b}
    if len(pairs) > 2 * len(columns):
        return scatter_matrices(stats, codes, n_cells, columns=columns)[1]
    scatter = np.zeros((n_cells, len(columns), len(columns)))
    pairs = sorted(pairs)
    if not pairs:
        return scatter
    key = ("products", tuple(pairs))
    if key not in memo:
        first, second = (np.array(side) for side in zip(*pairs, strict=True))
        memo[key] = stats[:, first] * stats[:, second]
    products = cell_sums(memo[key], codes, n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, (a, b) in enumerate(pairs):
            value = products[:, k] - np.where(counts > 0, sums[:, a] * sums[:, b] / counts, 0.0)
            i, j = position[a], position[b]
            scatter[:, i, j] = scatter[:, j, i] = value
    return scatter


def linearised_intervals(
    stats: np.ndarray,
    codes: np.ndarray,
    n_cells: int,
    finalize: Callable[[np.ndarray], dict[str, np.ndarray]],
    *,
    keys: list[str],
    bounds: tuple[float, float | None] = (0.0, None),
    memo: dict | None = None,
) -> Intervals:
    """Delta-method 95% intervals of `finalize(cell sums)[key]` per cell, for a metric that is
    a smooth function T of the column sums of the (n, S) per-row `stats`: resampling the cell's
    rows varies the sums by M = Σᵢ (xᵢ − x̄)(xᵢ − x̄)ᵀ, so T varies by se² = gᵀ M g, g the
    gradient of T at the cell's sums. M is computed once per slice for every key. None for a
    cell of fewer than two rows or where T or its gradient is undefined. A column constant on
    a cell's rows moves nothing there, whatever its slope (0/0 ratios of counts). `memo`, kept
    by the caller across the slices of the same `stats`, saves the per-row products."""
    memo = {} if memo is None else memo
    stats = np.asarray(stats, dtype=np.float64)
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=n_cells)
    sums = cell_sums(stats, codes, n_cells).reshape(n_cells, stats.shape[1])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        values = finalize(sums)
    slopes = gradients(finalize, sums, keys)
    # Only the columns some key moves with need their scatter (SQuAD's HasAns/NoAns keys read
    # six of its nine columns).
    moving = np.zeros(stats.shape[1], dtype=bool)
    for key in keys:
        moving |= _moves(slopes[key][counts >= 2])  # cells of 0 or 1 row get no interval
    columns = np.flatnonzero(moving)
    scatter = _scatter(stats, codes, n_cells, columns, sums, counts, slopes, keys, memo)
    # XᵀX − s sᵀ/n leaves rounding noise where a column is constant: compare with its size.
    if "squares" not in memo:
        memo["squares"] = np.einsum("ij,ij->j", stats, stats)
    squares = memo["squares"][columns]
    constant = np.diagonal(scatter, axis1=1, axis2=2) <= 1e-12 * np.maximum(squares, 1.0)
    out: Intervals = {}
    for key in keys:
        slope = np.where(constant, 0.0, slopes[key][:, columns])
        finite = np.isfinite(slope).all(axis=1)
        slope = np.where(finite[:, None], slope, 0.0)
        variance = np.einsum("ci,cij,cj->c", slope, scatter, slope)
        se = np.sqrt(np.maximum(variance, 0.0))
        value = np.asarray(values[key], dtype=np.float64)
        usable = (counts >= 2) & finite & np.isfinite(value)
        out[key] = bounded(value - Z95 * se, value + Z95 * se, usable, bounds)
    return out


def correlation_intervals(
    values: list[float | None], sizes: np.ndarray, *, spearman: bool = False
) -> list[list[float] | None]:
    """Fisher's z interval of a correlation per cell: tanh(atanh(r) ± z·se) with
    se = 1/√(n − 3), or √(1.06/(n − 3)) for Spearman's rank correlation (Fieller, Hartley and
    Pearson). None below four rows or for a correlation of ±1 or undefined."""
    r = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    n = np.asarray(sizes, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt((1.06 if spearman else 1.0) / (n - 3))
        centre = np.arctanh(r)
        low, high = np.tanh(centre - Z95 * se), np.tanh(centre + Z95 * se)
    usable = (n >= 4) & np.isfinite(centre)
    return bounded(low, high, usable, (-1.0, 1.0))
