"""Intervals of slice cells for means over rows: Wilson for proportions, the normal
approximation for means of per-row scores; checked against hand-computed values. Corpus-level
metrics are in test_corpus_intervals.py."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from scoring.bootstrap import confusion_intervals
from scoring.evaluation import score_split
from scoring.intervals import cell_intervals, interval_bases
from scoring.metrics.classification import class_counts, confusion_matrix, scores_from_counts


def intervals(key: str, values: np.ndarray, codes: np.ndarray, n_cells: int) -> list:
    """The cells' intervals of one key, from per-row values, as score_split computes them (the
    cells' values being the means of their rows)."""
    sizes = np.bincount(codes, minlength=n_cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.bincount(codes, weights=values, minlength=n_cells) / sizes
    cells = [{key: float(m)} if size else {key: None} for m, size in zip(means, sizes, strict=True)]
    found = cell_intervals(interval_bases({key: values}), codes, sizes, cells)
    return found.get(key)


def test_a_proportion_gets_the_wilson_interval():
    # 50 of 100 right: the Wilson interval is 0.5 ± 0.0962 (textbook value).
    values = np.array([1.0] * 50 + [0.0] * 50)
    (bounds,) = intervals("accuracy", values, np.zeros(100, np.int64), 1)
    assert bounds == pytest.approx([0.40383, 0.59617], abs=1e-5)


def test_a_scaled_proportion_keeps_its_scale():
    values = np.array([100.0] * 9 + [0.0])  # exact match on 0-100: 9 of 10
    (bounds,) = intervals("exact_match", values, np.zeros(10, np.int64), 1)
    z = stats.norm.ppf(0.975)
    p, n = 0.9, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert bounds == pytest.approx([100 * (centre - half), 100 * (centre + half)])
    assert bounds[1] <= 100


def test_a_mean_of_scores_gets_the_normal_interval_per_cell():
    rng = np.random.default_rng(3)
    values = rng.random(300)
    codes = np.repeat([0, 1, 2], 100)
    found = intervals("f1", values, codes, 3)
    for cell in range(3):
        part = values[codes == cell]
        half = stats.norm.ppf(0.975) * part.std(ddof=1) / math.sqrt(len(part))
        assert found[cell] == pytest.approx([part.mean() - half, part.mean() + half])


def test_cells_of_one_row_and_non_finite_values_get_none():
    found = intervals("mae", np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]), 2)
    assert found[0] is not None and found[1] is None
    assert interval_bases({"mse": np.array([1.0, np.inf])}) == {}


def test_score_split_gives_every_cell_metric_an_interval():
    n = 60
    gold = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": ["x"] * n,
            "label": ["a" if i % 2 else "b" for i in range(n)],
            "topic": ["t1" if i < 30 else "t2" for i in range(n)],
        }
    )
    predictions = pa.table(
        {"id": [f"r{i}" for i in range(n)], "prediction": ["a" if i % 3 else "b" for i in range(n)]}
    )
    spec = {
        "type": "text-classification",
        "columns": {
            "id": "id", "inputs": ["text"], "label": "label", "labels": ["a", "b"],
            "metadata": ["topic"],
        },
        "metrics": [{"name": "accuracy"}, {"name": "f1", "average": "macro"}],
        "slices": [{"name": "topic", "column": "topic"}],
    }  # fmt: skip
    result = score_split(spec, gold, predictions, resamples=2000, automatic=False)
    labels = ["a", "b"]
    true = np.array([labels.index(x) for x in gold["label"].to_pylist()])
    pred = np.array([labels.index(x) for x in predictions["prediction"].to_pylist()])
    topics = np.array(gold["topic"].to_pylist())
    for cell in result["slices"]:
        accuracy = cell["metrics"]["accuracy"]
        low, high = accuracy["ci"]
        assert low <= accuracy["value"] <= high
        # Macro F1 is not a mean over rows: the cell's confusion matrix is bootstrapped, as
        # scoring the cell's rows alone would (other draws: equal up to resampling noise).
        rows = topics == cell["cell"]
        cm = confusion_matrix(true[rows], pred[rows], 2)

        def macro(tp, t_sum, p_sum):
            return {
                "f1_macro": scores_from_counts(spec["metrics"][1:], labels, tp, t_sum, p_sum)[
                    "f1_macro"
                ]
            }

        expected = confusion_intervals(cm, macro, resamples=2000, seed=1)["f1_macro"]
        width = expected[1] - expected[0]
        assert cell["metrics"]["f1_macro"]["ci"] == pytest.approx(expected, abs=0.1 * width)
        assert cell["metrics"]["f1_macro"]["value"] == pytest.approx(
            float(macro(*class_counts(cm))["f1_macro"])
        )
