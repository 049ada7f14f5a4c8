"""Regression metrics agree with scikit-learn and scipy; undefined correlations are None."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr, rankdata, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error

from scoring.metrics import load
from scoring.metrics.regression import (
    RegressionScorer,
    _weighted_corr,
    _weighted_ranks,
    resample_pearson,
    weighted_pearson,
)

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


# scipy's own test inputs (scipy/stats/tests/test_stats.py: TestPearsonrWilkinson, TestPearsonr).
WILKINSON = {
    "X": np.arange(1.0, 10.0),
    "BIG": np.arange(99999991.0, 100000000.0),
    "LITTLE": np.array([0.99999991, 0.99999992, 0.99999993, 0.99999994, 0.99999995, 0.99999996,
                        0.99999997, 0.99999998, 0.99999999]),
    "HUGE": np.arange(1.0, 10.0) * 1e12,
    "TINY": np.arange(1.0, 10.0) * 1e-12,
    "ROUND": np.arange(0.5, 9.0),
}  # fmt: skip

SCIPY_CASES = {
    "basic": ([-1, 0, 1], [0, 0, 3]),
    "almost exactly +1": ([0, 1, 2], [0, 1, 2]),
    "almost exactly -1": ([0, 1, 2], [0, -1, -2]),
    "very small values": (
        [0.004434375, 0.004756007, 0.003911996, 0.0038005, 0.003409971],
        [2.48e-188, 7.41e-181, 4.09e-208, 2.08e-223, 2.66e-245],
    ),
    "very large values": (
        1e90 * np.array([0, 0, 0, 1, 1, 1, 1]),
        1e90 * np.arange(7),
    ),
    "extremely large values": (
        [2.3e200, 4.5e200, 6.7e200, 8e200],
        [1.2e199, 5.5e200, 3.3e201, 1.0e200],
    ),
    "near constant": ([2, 2, 2 + np.spacing(2.0)], [3, 3, 3 + 6 * np.spacing(3.0)]),
    "length two, positive": ([1, 2], [3, 5]),
    "length two, negative": ([2, 1], [3, 5]),
    "length three, exactly -1": ([1, 2, 3], [5, -4, -13]),
    "R example": ([1, 2, 3, 4], [0, 1, 0.5, 1]),
    "R example, negated": ([1, 2, 3, 4], [0, -1, -0.5, -1]),
    "negative correlation": (np.arange(10), -np.arange(10)),
    "1e-200 scale": (1e-200 * np.array([1, 2, 4, 3]), [1, 2, 3, 4]),
    "1e200 scale": (1e200 * np.array([1, 2, 4, 3]), [1, 2, 3, 4]),
    "1e-200 and 1e200": (1e-200 * np.array([1, 2, 4, 3]), 1e200 * np.array([4, 1, 3, 2])),
    "constant": ([0.667, 0.667, 0.667], [0.123, 0.456, 0.789]),
    "length two, constant": ([0.667, 0.667], [0.123, 0.456]),
    "zero": (np.zeros(9), np.arange(1.0, 10.0)),
    "constant gold": ([0.1, 0.2, 0.3], [0.1, 0.1, 0.1]),
}


def scipy_statistic(function, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Constant/NearConstantInputWarning
        value = function(np.asarray(x, float), np.asarray(y, float)).statistic
    return None if np.isnan(value) else float(value)


def assert_same(ours, expected):
    if expected is None:
        assert ours is None
    else:
        assert ours == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", SCIPY_CASES, ids=str)
def test_correlations_match_scipy_on_scipys_own_test_inputs(case):
    x, y = (np.asarray(a, float) for a in SCIPY_CASES[case])
    for xs, ys in ((x, y), (y, x)):
        ours = RegressionScorer(SPECS, xs, ys).values()
        assert_same(ours["pearson"], scipy_statistic(pearsonr, xs, ys))
        assert_same(ours["spearman"], scipy_statistic(spearmanr, xs, ys))


@pytest.mark.parametrize("first", WILKINSON)
@pytest.mark.parametrize("second", WILKINSON)
def test_wilkinsons_collinear_columns_correlate_exactly_as_in_scipy(first, second):
    x, y = WILKINSON[first], WILKINSON[second]
    ours = RegressionScorer(SPECS, x, y).values()
    assert_same(ours["pearson"], scipy_statistic(pearsonr, x, y))
    assert_same(ours["spearman"], scipy_statistic(spearmanr, x, y))
    assert ours["spearman"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("value", [0.1, 0.2, 0.3, 1 / 3, 0.7, -2.5, 123.456, 1e-200, 1e200, 0.0])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10, 101])
def test_pearson_of_a_constant_prediction_is_undefined(value, n):
    gold = np.random.default_rng(n).normal(size=n)
    constant = np.full(n, value)
    for pred, ref in ((constant, gold), (gold, constant)):
        scorer = RegressionScorer(SPECS, pred, ref)
        ours = scorer.values()
        assert ours["pearson"] is None and ours["spearman"] is None
        if n >= 2:
            assert scipy_statistic(pearsonr, pred, ref) is None
            assert scipy_statistic(spearmanr, pred, ref) is None
        intervals = scorer.intervals(50, 0)
        assert intervals["pearson"] is None and intervals["spearman"] is None


def test_two_rows_correlate_exactly_plus_or_minus_one():
    rng = np.random.default_rng(5)
    for _ in range(50):
        x = rng.normal(size=2) * 10.0 ** rng.integers(-200, 200)
        y = rng.normal(size=2) * 10.0 ** rng.integers(-200, 200)
        ours = RegressionScorer(SPECS, x, y).values()
        assert ours["pearson"] in (1.0, -1.0)
        assert ours["pearson"] == scipy_statistic(pearsonr, x, y)
        assert ours["spearman"] == ours["pearson"]


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300])
@pytest.mark.parametrize("seed", range(4))
def test_correlations_match_scipy_at_tiny_and_huge_magnitudes(scale, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 200))
    x = rng.normal(size=n)
    y = x + rng.normal(size=n)
    for xs, ys in ((x * scale, y), (x, y * scale), (x * scale, y * scale)):
        ours = RegressionScorer(SPECS, xs, ys).values()
        assert_same(ours["pearson"], scipy_statistic(pearsonr, xs, ys))
        assert_same(ours["spearman"], scipy_statistic(spearmanr, xs, ys))
        assert ours["pearson"] == pytest.approx(scipy_statistic(pearsonr, x, y), rel=1e-9)


EDGES = {
    "constant prediction": ([0.1] * 5, [1, 2, 3, 4, 5]),
    "constant gold": ([1, 2, 3, 4, 5], [0.1] * 5),
    "one row": ([1.5], [2.0]),
    "two rows": ([1, 2], [3, 5]),
    "tiny values": (1e-200 * np.array([1, 2, 4]), 1e-200 * np.array([3, 1, 2])),
    "large values": (1e150 * np.array([1, 2, 4]), 1e150 * np.array([3, 1, 2])),
    "near constant": ([2, 2, 2 + np.spacing(2.0)], [3, 3, 3 + 6 * np.spacing(3.0)]),
}


@pytest.mark.parametrize("case", EDGES, ids=str)
def test_mse_and_mae_match_sklearn_on_the_correlation_edge_cases(case):
    pred, ref = (np.asarray(a, float) for a in EDGES[case])
    ours = RegressionScorer(SPECS, pred, ref).values()
    assert ours["mse"] == pytest.approx(mean_squared_error(ref, pred), rel=1e-9, abs=0)
    assert ours["mae"] == pytest.approx(mean_absolute_error(ref, pred), rel=1e-9, abs=0)


def test_an_mse_beyond_the_float_range_is_reported_as_null():
    # scikit-learn returns inf (JSON has no inf); mae of the same rows is still finite.
    pred, ref = np.array([1e200, -1e200]), np.array([-1e200, 1e200])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mean_squared_error(ref, pred) == np.inf
    ours = RegressionScorer(SPECS, pred, ref).values()
    assert ours["mse"] is None
    assert ours["mae"] == pytest.approx(mean_absolute_error(ref, pred), rel=1e-12)


def resample_cases():
    """(x, y, weights): small n, so that many resamples repeat one row (constant), and for
    larger n predictions of one value but for two rows, so that about one resample in seven is
    constant."""
    rng = np.random.default_rng(6)
    for n in (2, 3, 4, 6, 40, 300):
        for scale in (1.0, 1e-200, 1e200):
            x = rng.normal(size=n) * scale
            y = np.round(x / scale + rng.normal(size=n), 1)
            if n >= 40:
                x = np.where(np.arange(n) < n - 2, 0.1 * scale, x)
            yield x, y, rng.multinomial(n, np.full(n, 1 / n), size=60).astype(float)


def test_every_bootstrap_resample_correlates_as_scipy_on_the_drawn_rows():
    undefined = 0
    for x, y, weights in resample_cases():
        pearsons = resample_pearson(x, y, weights)
        assert np.array_equal(np.isnan(pearsons), np.isnan(weighted_pearson(x, y, weights)))
        spearmans = _weighted_corr(
            _weighted_ranks(x, weights), _weighted_ranks(y, weights), weights
        )
        for row, w in enumerate(weights):
            sample = np.repeat(np.arange(len(x)), w.astype(int))
            for ours, function in ((pearsons[row], pearsonr), (spearmans[row], spearmanr)):
                expected = scipy_statistic(function, x[sample], y[sample])
                assert_same(None if np.isnan(ours) else float(ours), expected)
            undefined += np.isnan(pearsons[row])
    assert undefined > 100  # constant resamples were drawn and are undefined


def test_the_fast_resample_correlation_agrees_with_the_two_pass_one():
    rng = np.random.default_rng(8)
    for n in (3, 50, 2000):
        x = rng.normal(size=n) * 10.0 ** rng.integers(-200, 200)
        y = x * rng.normal() + rng.normal(size=n)
        weights = rng.multinomial(n, np.full(n, 1 / n), size=40).astype(float)
        assert resample_pearson(x, y, weights) == pytest.approx(
            weighted_pearson(x, y, weights), rel=1e-9, abs=1e-12, nan_ok=True
        )


def test_intervals_leave_out_undefined_resamples():
    # With two rows, a resample either repeats one row (undefined) or holds both (exactly ±1).
    scorer = RegressionScorer(SPECS, np.array([1.0, 2.0]), np.array([5.0, 3.0]))
    intervals = scorer.intervals(200, 0)
    assert intervals["pearson"] == [-1.0, -1.0]
    assert intervals["spearman"] == [-1.0, -1.0]


def test_intervals_do_not_depend_on_the_magnitude_of_the_values():
    rng = np.random.default_rng(7)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    plain = RegressionScorer(SPECS, x, y).intervals(200, 3)
    for scale in (1e-200, 1e200):
        scaled = RegressionScorer(SPECS, x * scale, y).intervals(200, 3)
        for key in ("pearson", "spearman"):
            assert scaled[key] == pytest.approx(plain[key], rel=1e-9), key


def test_the_evaluate_modules_report_an_undefined_correlation_as_none():
    for name in ("pearson", "spearman"):
        result = load(name).compute(predictions=[0.1] * 4, references=[1.0, 2.0, 3.0, 4.0])
        assert result == {name: None}
