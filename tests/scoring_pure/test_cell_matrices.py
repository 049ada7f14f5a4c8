"""Cells by gold or predicted label take their confusion matrices from the rows or columns of
the overall matrix, and cell sizes are read off the matrices: the same numbers as one pass
over the rows."""

from __future__ import annotations

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
