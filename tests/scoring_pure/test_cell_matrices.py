"""Cells by gold or predicted label take their confusion matrices from the rows or columns of
the overall matrix, and cell sizes are read off the matrices: the same numbers as one pass
over the rows."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.metrics.classification import ClassificationScorer


def by_rows(scorer: ClassificationScorer, codes: np.ndarray, n_cells: int) -> np.ndarray:
    k = len(scorer.labels)
    flat = np.asarray(codes, np.int64) * (k * k) + scorer.flat
    return np.bincount(flat, minlength=n_cells * k * k).reshape(n_cells, k, k)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 5), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_label_cells_equal_a_pass_over_the_rows(k, n, seed):
    rng = np.random.default_rng(seed)
    true, pred = rng.integers(0, k, n), rng.integers(0, k, n)
    scorer = ClassificationScorer([{"name": "accuracy"}], [str(i) for i in range(k)], true, pred)
    other = rng.integers(0, k, n)  # a partition with k cells that is neither
    for codes in (scorer.pred_codes, true.copy(), other):
        scorer._last_cells = None
        found = scorer._cell_matrices(codes, k)
        assert np.array_equal(found, by_rows(scorer, codes, k))
        assert np.array_equal(scorer.cell_sizes(codes, k), np.bincount(codes, minlength=k))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 4),
    st.integers(0, 80),
    st.lists(st.integers(1, 70), min_size=1, max_size=5),
    st.integers(0, 2**32 - 1),
)
def test_crossed_slices_count_as_a_pass_per_slice(k, n, widths, seed):
    """Slices crossed (`scoring.joint`): each slice's matrices summed out of one count over the
    crossed cells equal a pass over the rows per slice, whatever the crossings' sizes."""
    from scoring import joint

    rng = np.random.default_rng(seed)
    true, pred = rng.integers(0, k, n), rng.integers(0, k, n)
    scorer = ClassificationScorer([{"name": "accuracy"}], [str(i) for i in range(k)], true, pred)
    dtypes = [np.int64, np.uint8]  # as measured, and as read back from a split's store
    partitions = [rng.integers(0, w, n).astype(dtypes[w % 2]) for w in widths]
    with mock.patch.object(joint, "CROSSED_CELLS", 100):  # several crossings, some left out
        found = joint.crossings(list(zip(partitions, widths, strict=True)))
    scorer.count_crossed(found)
    for codes, width in zip(partitions, widths, strict=True):
        scorer._last_cells = None
        found = scorer._cell_matrices(codes, width)
        assert np.array_equal(found, by_rows(scorer, codes, width))
        assert found.dtype == np.int64
        assert np.array_equal(scorer.cell_sizes(codes, width), np.bincount(codes, minlength=width))
