"""Regression metrics agree with scikit-learn and scipy; undefined correlations are None."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr, rankdata, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error

from scoring.metrics import load
from scoring.metrics.regression import RegressionScorer, _weighted_corr, _weighted_ranks

SPECS = [{"name": n} for n in ("mse", "mae", "pearson", "spearman")]


def reference(pred, ref):
    """scikit-learn/scipy values, NaN (undefined) as None like ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConstantInputWarning
        values = {
            "mse": mean_squared_error(ref, pred),
            "mae": mean_absolute_error(ref, pred),
            "pearson": pearsonr(pred, ref).statistic,
            "spearman": spearmanr(pred, ref).statistic,
        }
    return {k: None if np.isnan(v) else float(v) for k, v in values.items()}


def assert_close(ours, expected):
    assert set(ours) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert ours[key] is None, key
        else:
            assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize("seed", range(20))
def test_it_matches_sklearn_and_scipy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 500))
    ref = rng.normal(size=n) * 10 ** rng.uniform(-3, 3)
    pred = ref + rng.normal(size=n) * rng.uniform(0, 2)
    if seed % 2:  # ties
        pred, ref = np.round(pred, 1), np.round(ref, 1)
    ours = RegressionScorer(SPECS, pred, ref).values()
    assert_close(ours, reference(pred, ref))


def test_a_constant_prediction_has_no_correlation():
    ours = RegressionScorer(SPECS, np.full(10, 2.0), np.arange(10.0)).values()
    assert ours["pearson"] is None and ours["spearman"] is None
    assert ours["mse"] == pytest.approx(mean_squared_error(np.arange(10.0), np.full(10, 2.0)))


def test_perfect_and_reversed_orderings():
    x = np.arange(20.0)
    assert RegressionScorer(SPECS, x, x**3).values()["spearman"] == pytest.approx(1.0)
    assert RegressionScorer(SPECS, -x, x).values()["pearson"] == pytest.approx(-1.0)


def test_cells_score_like_their_subsets():
    rng = np.random.default_rng(1)
    pred, ref = rng.normal(size=300), rng.normal(size=300)
    codes = rng.integers(0, 4, 300)
    cells = RegressionScorer(SPECS, pred, ref).cell_values(codes, 4)
    for c in range(4):
        mask = codes == c
        assert_close(cells[c], reference(pred[mask], ref[mask]))


def test_weighted_ranks_are_the_ranks_of_the_resample():
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(size=30), 1)
    y = rng.normal(size=30)
    weights = rng.multinomial(30, np.full(30, 1 / 30), size=5).astype(float)
    ranks = _weighted_ranks(x, weights)
    corr = _weighted_corr(_weighted_ranks(x, weights), _weighted_ranks(y, weights), weights)
    for row in range(5):
        sample = np.repeat(np.arange(30), weights[row].astype(int))
        expected = rankdata(x[sample])
        assert ranks[row][sample] == pytest.approx(expected)
        assert corr[row] == pytest.approx(spearmanr(x[sample], y[sample]).statistic)


def test_intervals_cover_the_values():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=400)
    scorer = RegressionScorer(SPECS, ref + rng.normal(size=400), ref)
    values, intervals = scorer.values(), scorer.intervals(300, 0)
    for key, value in values.items():
        lo, hi = intervals[key]
        assert lo <= value <= hi, key


def test_the_evaluate_modules_compute_like_scipy():
    rng = np.random.default_rng(4)
    pred, ref = rng.normal(size=50).tolist(), rng.normal(size=50).tolist()
    expected = reference(np.array(pred), np.array(ref))
    for name in ("mse", "mae", "pearson", "spearman"):
        result = load(name).compute(predictions=pred, references=ref)[name]
        assert result == pytest.approx(expected[name], rel=1e-9)
