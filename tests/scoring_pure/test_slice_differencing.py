"""No sum over fewer than MIN_SLICE_SIZE rows follows from a hidden split's published cells and
its overall score by adding and subtracting them: within a slice, across slices, or against the
whole split (docs/formats.md, "Breakdowns and leakage rules").

The checks here do not trust the rule's own reasoning: `smallest_derivable` searches every set
of rows, up to the minimum, for one that a combination of published cells isolates."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from scoring.slices import hidden_publication, publishable, slice_cells


def published(partitions, shown) -> np.ndarray:
    """Rows x published sums: the whole split, then every published cell."""
    columns = [np.ones(len(partitions[0]))]
    for codes, allowed in zip(partitions, shown, strict=True):
        columns += [(codes == cell).astype(float) for cell in np.flatnonzero(allowed)]
    return np.stack(columns, axis=1)


def smallest_derivable(sums: np.ndarray, min_size: int) -> int | None:
    """The fewest rows (under `min_size`) whose total some combination of the published sums
    gives alone, or None. A combination covering exactly a set of rows T exists when dropping
    T lowers the rank of the published sums; rows in the same published cells go together."""
    full = np.linalg.matrix_rank(sums)
    groups, inverse, counts = np.unique(sums, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    light = [g for g in range(len(groups)) if counts[g] < min_size]
    best = None
    for size in range(1, min(min_size, len(light) + 1)):
        for chosen in itertools.combinations(light, size):
            rows = int(counts[list(chosen)].sum())
            if rows >= (best or min_size):
                continue
            if np.linalg.matrix_rank(sums[~np.isin(inverse, chosen)]) < full:
                best = rows
    return best


def shown_lists(shown) -> list[list[bool]]:
    return [s.tolist() for s in shown]


def test_overlapping_bins_that_differ_by_one_row_are_not_both_shown():
    # The reported attack: 41 and 40 rows differing by te-0115, whose value is 25.
    values = np.concatenate([np.full(50, 5.0), np.full(40, 15.0), [25.0], np.full(60, 40.0)])
    lo = np.searchsorted([0, 10, 25], values, side="right")
    hi = np.searchsorted([0, 10, 26], values, side="right")
    assert (np.bincount(lo)[2], np.bincount(hi)[2]) == (40, 41)
    shown = publishable([lo, hi], 20)
    assert not (shown[0][2] and shown[1][2])
    assert smallest_derivable(published([lo, hi], shown), 20) is None
    # Everything the second slice adds is already known from the first.
    assert shown_lists(shown) == [[False, True, True, True], [False, True, False, False]]


def test_nested_bins_do_not_reveal_the_rows_between_their_edges():
    values = np.concatenate([np.full(47, 5.0), np.full(3, 9.7), np.full(60, 40.0)])
    outer = np.searchsorted([0, 10], values, side="right")
    inner = np.searchsorted([0, 9.5], values, side="right")
    shown = publishable([outer, inner], 20)
    assert smallest_derivable(published([outer, inner], shown), 20) is None


def test_three_slices_can_isolate_a_row_that_no_pair_of_them_can():
    # Rows in two of three binary slices (30 of each kind) and one row in all three: every cell
    # and every intersection of two cells holds at least 30 rows, yet the three "in" cells
    # together minus twice the whole split leave that one row.
    rows = np.array([(1, 1, 0)] * 30 + [(1, 0, 1)] * 30 + [(0, 1, 1)] * 30 + [(1, 1, 1)])
    slices = list(rows.T)
    everything = [np.ones(2, dtype=bool)] * 3
    assert smallest_derivable(published(slices, everything), 20) == 1
    shown = publishable(slices, 20)
    assert smallest_derivable(published(slices, shown), 20) is None
    # The first two slices are shown; the third, which completes the combination, is not.
    assert shown_lists(shown) == [[True, True], [True, True], [False, False]]


def test_a_small_intersection_that_no_combination_isolates_is_shown():
    # Three binary slices with every combination present: a lone row in one corner cannot be
    # isolated (combinations of cells are sums of one value per slice, and such a sum that
    # vanishes on the seven other corners vanishes on the eighth), so nothing is withheld.
    corners = list(itertools.product([0, 1], repeat=3))
    rows = np.array([c for c in corners for _ in range(1 if c == (1, 1, 1) else 30)])
    shown = publishable(list(rows.T), 20)
    assert all(s.all() for s in shown)
    assert smallest_derivable(published(list(rows.T), shown), 20) is None


def test_a_slice_with_many_cells_is_shown_when_its_cells_are_large():
    # Every cell of `fine` (25 to 35 rows) meets every cell of `coarse` in a few rows only; still
    # nothing smaller than a whole cell can be isolated.
    rng = np.random.default_rng(0)
    fine = np.repeat(np.arange(40), rng.integers(25, 36, 40))
    coarse = rng.integers(0, 4, len(fine))
    shown = publishable([fine, coarse], 20)
    assert all(s.all() for s in shown)


def test_value_slices_that_nearly_coincide_are_not_both_shown():
    topic = np.arange(150) % 3
    channel = topic.copy()
    channel[[1, 4]] = 2  # two rows of topic 1 are on channel 2
    shown = publishable([topic, channel], 20)
    assert smallest_derivable(published([topic, channel], shown), 20) is None
    # The slice listed first wins; of the other, only the cell that equals one of its cells.
    assert shown_lists(shown) == [[True, True, True], [True, False, False]]
    assert shown_lists(publishable([channel, topic], 20)) == [
        [True, True, True],
        [True, False, False],
    ]


def test_the_outcome_does_not_depend_on_the_order_of_rows():
    rng = np.random.default_rng(1)
    slices = [rng.integers(0, 5, 300), rng.integers(0, 3, 300), rng.random(300) < 0.1]
    slices = [s.astype(np.int64) for s in slices]
    order = rng.permutation(300)
    assert shown_lists(publishable(slices, 20)) == shown_lists(
        publishable([s[order] for s in slices], 20)
    )


@pytest.mark.parametrize("seed", range(4))
def test_no_small_group_is_derivable_from_random_slices(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        rows = int(rng.integers(8, 60))
        min_size = int(rng.integers(2, 7))
        slices = []
        for _ in range(int(rng.integers(1, 5))):
            cells = int(rng.integers(2, 6))
            weights = rng.dirichlet(np.ones(cells) * rng.choice([0.3, 1.0, 3.0]))
            slices.append(rng.choice(cells, rows, p=weights))
        shown = publishable(slices, min_size)
        assert smallest_derivable(published(slices, shown), min_size) is None, (
            [np.bincount(s).tolist() for s in slices],
            min_size,
        )


def test_the_publication_of_a_table_follows_its_slice_specs():
    score = [5.0] * 50 + [15.0] * 40 + [25.0] + [40.0] * 60
    gold = pa.table({"score": score, "id": [f"te-{i:04d}" for i in range(len(score))]})
    specs = [
        {"name": "lo", "column": "score", "measure": "value", "bins": [0, 10, 25]},
        {"name": "hi", "column": "score", "measure": "value", "bins": [0, 10, 26]},
    ]
    publication = hidden_publication(specs, gold, 20)
    assert publication.sizes == {
        "lo": {"[0,10)": 50, "[10,25)": 40, "[25,inf)": 61},
        "hi": {"[0,10)": 50, "[10,26)": 41, "[26,inf)": 60},
    }
    assert not {("lo", "[10,25)"), ("hi", "[10,26)")} <= publication.shown
    partitions = [slice_cells(spec, gold)[0] for spec in specs]
    names = [slice_cells(spec, gold)[1] for spec in specs]
    shown = [
        np.array([(spec["name"], name) in publication.shown for name in cell_names])
        for spec, cell_names in zip(specs, names, strict=True)
    ]
    assert smallest_derivable(published(partitions, shown), 20) is None
