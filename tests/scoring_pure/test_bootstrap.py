"""Bootstrap intervals: seeded, and distributed like resampling rows."""

from __future__ import annotations

import numpy as np
import pytest

from scoring import bootstrap
from scoring.metrics import classification as clf


def accuracy_stat(tp, t_sum, p_sum):
    return {"accuracy": clf.accuracy(tp, t_sum, p_sum)}


def naive_accuracy_ci(y, p, resamples, seed):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), (resamples, len(y)))
    return np.percentile((y[idx] == p[idx]).mean(axis=1), [2.5, 97.5])


def test_confusion_resampling_matches_row_resampling_in_distribution():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    p = np.where(rng.random(2000) < 0.7, y, rng.integers(0, 3, 2000))
    cm = clf.confusion_matrix(y, p, 3)
    ours = bootstrap.confusion_intervals(cm, accuracy_stat, resamples=4000, seed=1)["accuracy"]
    naive = naive_accuracy_ci(y, p, 4000, 2)
    assert ours == pytest.approx(naive, abs=0.006)
    assert ours[0] < (y == p).mean() < ours[1]


def test_intervals_are_reproducible_with_a_seed():
    cm = np.array([[50, 10], [5, 35]])
    a = bootstrap.confusion_intervals(cm, accuracy_stat, resamples=200, seed=7)
    b = bootstrap.confusion_intervals(cm, accuracy_stat, resamples=200, seed=7)
    c = bootstrap.confusion_intervals(cm, accuracy_stat, resamples=200, seed=8)
    assert a == b
    assert a != c


def mean_stat(sums):
    return {"mean": sums[..., 1] / sums[..., 0]}


@pytest.mark.parametrize("distinct", [True, False], ids=["many-distinct", "few-distinct"])
def test_sum_resampling_matches_row_resampling(distinct):
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.random(n) if distinct else rng.integers(0, 2, n).astype(float)
    stats = np.column_stack([np.ones(n), x])
    ours = bootstrap.sum_intervals(stats, mean_stat, resamples=3000, seed=0)["mean"]
    idx = rng.integers(0, n, (3000, n))
    naive = np.percentile(x[idx].mean(axis=1), [2.5, 97.5])
    assert ours == pytest.approx(naive, abs=0.004)


def test_sum_resampling_in_small_chunks_gives_the_same_intervals(monkeypatch):
    stats = np.column_stack([np.ones(500), np.random.default_rng(0).random(500)])
    whole = bootstrap.sum_intervals(stats, mean_stat, resamples=2000, seed=0)["mean"]
    monkeypatch.setattr(bootstrap, "CHUNK_ENTRIES", 1000)
    chunked = bootstrap.sum_intervals(stats, mean_stat, resamples=2000, seed=0)["mean"]
    assert chunked == pytest.approx(whole, abs=0.005)
    assert bootstrap.sum_intervals(stats, mean_stat, resamples=2000, seed=0)["mean"] == chunked


def test_weights_are_multinomial_counts():
    weights = bootstrap.resample_weights(np.random.default_rng(0), 50, 7)
    assert weights.shape == (7, 50)
    assert (weights.sum(axis=1) == 50).all()


def test_undefined_resamples_are_ignored_and_all_undefined_gives_none():
    assert bootstrap.percentile_ci(np.array([np.nan, 1.0, 1.0])) == [1.0, 1.0]
    assert bootstrap.percentile_ci(np.array([np.nan, np.nan])) is None


def test_no_rows_means_no_intervals():
    assert bootstrap.sum_intervals(np.zeros((0, 2)), mean_stat) == {}
    assert bootstrap.confusion_intervals(np.zeros((2, 2), int), accuracy_stat) == {}


def test_cell_confusion_intervals_total_the_draws_as_reductions_would(monkeypatch):
    """Drawn matrices totalled by one product with a 0/1 matrix, and the cells' percentiles
    taken together: the same intervals as the diagonal and sums of each draw, one cell's
    percentiles at a time (undefined resamples included)."""
    rng = np.random.default_rng(3)
    specs = [{"name": "f1", "average": "macro"}, {"name": "recall", "average": "binary"}]
    for trial in range(40):
        k = int(rng.integers(2, 6))
        cms = rng.integers(0, 40, (int(rng.integers(1, 6)), k, k))
        cms[rng.random(cms.shape) < 0.4] = 0
        labels = [str(i) for i in range(k)]

        def statistic(tp, t_sum, p_sum, labels=labels):
            return clf.scores_from_counts(specs, labels, tp, t_sum, p_sum)

        found = bootstrap.cell_confusion_intervals(cms, statistic, resamples=150, seed=trial)
        with monkeypatch.context() as patched:
            patched.setattr(bootstrap, "TOTALS_CLASSES", 0)
            patched.setattr(bootstrap, "column_percentile_cis", _one_by_one)
            reduced = bootstrap.cell_confusion_intervals(cms, statistic, resamples=150, seed=trial)
        assert found == reduced


def _one_by_one(samples):
    return [bootstrap.percentile_ci(samples[:, column]) for column in range(samples.shape[1])]


def test_column_percentiles_are_each_columns_percentile_ci():
    rng = np.random.default_rng(4)
    samples = rng.normal(size=(301, 6))
    samples[::7, 1] = np.nan
    samples[:, 2] = np.inf
    samples[5, 4] = -np.inf
    assert bootstrap.column_percentile_cis(samples) == _one_by_one(samples)
