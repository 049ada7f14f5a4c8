"""The fast paths of `publishable` (scoring/slices.py) keep its guarantee: no combination of
the published cells and the whole split isolates fewer than `min_size` rows. The check here is
exact and brute force (dropping a set of rows that lowers the rank of the published sums is a
combination that isolates them), and it does not trust the rule's own reasoning."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.slices import _atoms, _greedy_basis, _row_span, publishable


def published(partitions, shown) -> np.ndarray:
    """Rows x published sums: the whole split, then every published cell."""
    columns = [np.ones(len(partitions[0]))]
    for codes, allowed in zip(partitions, shown, strict=True):
        columns += [(codes == cell).astype(float) for cell in np.flatnonzero(allowed)]
    return np.stack(columns, axis=1)


def isolable(sums: np.ndarray, min_size: int, budget: int = 2000) -> int | None:
    """The fewest rows (under `min_size`) that some combination of the columns of `sums` gives
    weight to alone, or None; rows with equal sums go together. Raises if more than `budget`
    sets would need checking."""
    full = np.linalg.matrix_rank(sums)
    groups, inverse, counts = np.unique(sums, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    light = [g for g in range(len(groups)) if counts[g] < min_size]
    best, checked = None, 0

    def search(start: int, chosen: list[int], rows: int) -> None:
        nonlocal best, checked
        for position in range(start, len(light)):
            group = light[position]
            total = rows + int(counts[group])
            if total >= (best or min_size):
                continue
            checked += 1
            if checked > budget:
                raise OverflowError
            picked = [*chosen, group]
            if np.linalg.matrix_rank(sums[~np.isin(inverse, picked)]) < full:
                best = total
            search(position + 1, picked, total)

    search(0, [], 0)
    return best


def random_split(rng: np.random.Generator):
    rows = int(rng.integers(60, 301))
    min_size = int(rng.integers(5, 21))
    slices = []
    for _ in range(int(rng.integers(2, 7))):
        cells = int(rng.integers(2, 5))
        weights = rng.dirichlet(np.ones(cells) * rng.choice([0.3, 1.0, 3.0]))
        slices.append(rng.choice(cells, rows, p=weights).astype(np.int64))
    return slices, min_size


def test_the_check_finds_a_published_difference_of_one_row():
    # Bins [0,10,25] and [0,10,26] of one column: 41 and 40 rows apart by one row.
    values = np.concatenate([np.full(50, 5.0), np.full(40, 15.0), [25.0], np.full(60, 40.0)])
    lo = np.searchsorted([0, 10, 25], values, side="right")
    hi = np.searchsorted([0, 10, 26], values, side="right")
    everything = [np.bincount(lo) > 0, np.bincount(hi) > 0]
    assert isolable(published([lo, hi], everything), 20) == 1
    shown = publishable([lo, hi], 20)
    assert sum(int(s.sum()) for s in shown) >= 3
    assert isolable(published([lo, hi], shown), 20) is None


@pytest.mark.parametrize("seed", range(6))
def test_random_splits_publish_nothing_isolable(seed):
    rng = np.random.default_rng(1000 + seed)
    checked = shown_cells = withheld_cells = 0
    while checked < 6:
        slices, min_size = random_split(rng)
        shown = publishable(slices, min_size)
        try:
            smallest = isolable(published(slices, shown), min_size)
        except OverflowError:
            continue  # too many small groups to check exhaustively: draw another split
        assert smallest is None, ([np.bincount(s).tolist() for s in slices], min_size)
        checked += 1
        shown_cells += sum(int(s.sum()) for s in shown)
        withheld_cells += sum(
            int((np.bincount(c) > 0).sum() - s.sum()) for c, s in zip(slices, shown, strict=True)
        )
    # Not vacuous: cells are published, and some are withheld.
    assert shown_cells > 0
    assert withheld_cells > 0


def test_a_split_of_many_small_atoms_publishes_every_cell_safely():
    rng = np.random.default_rng(7)
    rows = 200
    slices = [rng.choice(3, rows, p=[0.6, 0.3, 0.1]) for _ in range(3)]
    slices += [(rng.random(rows) < 0.08).astype(np.int64)]
    shown = publishable(slices, 5)
    assert all(s.all() for s in shown)
    assert isolable(published(slices, shown), 5, budget=4000) is None


@pytest.mark.parametrize("seed", range(5))
def test_skipping_dependent_blocks_picks_the_same_basis(seed):
    rng = np.random.default_rng(seed)
    # Rows that are mostly combinations of a few, with rare new directions far down the order.
    dimension = int(rng.integers(5, 30))
    common = rng.integers(0, 2, (int(rng.integers(1, dimension)), dimension)).astype(float)
    rows = rng.integers(-1, 2, (int(rng.integers(100, 3000)), len(common))) @ common
    rare = rng.choice(len(rows), int(rng.integers(0, 5)), replace=False)
    rows[rare] = rng.integers(0, 2, (len(rare), dimension))
    rank, span = _row_span(rows)
    assert rank == np.linalg.matrix_rank(rows, tol=1e-8)
    order = rng.permutation(len(rows))

    def project(indices):
        return rows[indices] @ span

    plain = _greedy_basis(rows, order, rank)
    skipping = _greedy_basis(rows, order, rank, (span, project))
    assert plain is not None and skipping is not None
    assert plain.tolist() == skipping.tolist()
    assert np.linalg.matrix_rank(rows[skipping]) == rank
    assert _greedy_basis(rows, order, rank + 1, (span, project)) is None


def test_atoms_agree_with_unique_rows_beyond_direct_keys():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 7, (5000, 40))
    codes[:2500] = codes[2500:]  # every row twice
    atoms, sizes = _atoms(codes)
    expected, counts = np.unique(codes, axis=0, return_counts=True)
    assert np.array_equal(atoms, expected)
    assert np.array_equal(sizes, counts)
