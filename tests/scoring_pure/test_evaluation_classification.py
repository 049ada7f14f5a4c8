"""score_split for classification, end to end from a prediction file."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from scoring.evaluation import score_split
from scoring.predictions import PredictionFileError, check_predictions, read_prediction_file

LABELS = ["negative", "neutral", "positive"]
SPEC = {
    "slug": "sst",
    "type": "text-classification",
    "columns": {
        "id": "id",
        "inputs": ["text"],
        "label": "label",
        "labels": LABELS,
        "metadata": ["topic"],
    },
    "metrics": ["accuracy", {"name": "f1", "average": "macro"}, {"name": "matthews_correlation"}],
    "primary_metric": "accuracy",
    "slices": [
        {"name": "topic", "column": "topic"},
        {"name": "length", "column": "text", "measure": "words", "bins": [0, 3, 6]},
        {"name": "negation", "column": "text", "pattern": r"\b(not|never)\b"},
    ],
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 3, n)
    p = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    words = np.array(["good", "not", "bad", "never", "fine"])
    gold = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [" ".join(rng.choice(words, rng.integers(1, 9))) for _ in range(n)],
            "label": np.array(LABELS)[y],
            "topic": rng.choice(["billing", "delivery"], n),
        }
    )
    # Predictions in shuffled order, half as names, half as indices, plus another split's ids.
    order = rng.permutation(n)
    lines = ["id,prediction"]
    lines += [f"r{i},{LABELS[p[i]] if i % 2 else p[i]}" for i in order]
    lines += ["other1,neutral"]
    table = read_prediction_file(io.BytesIO("\n".join(lines).encode()), "preds.csv")
    all_ids = pa.concat_arrays([gold["id"].combine_chunks(), pa.array(["other1"])])
    checked = check_predictions(SPEC, all_ids, table)
    return gold, checked, y, p


def test_it_reports_the_metrics_of_scikit_learn(data):
    gold, checked, y, p = data
    result = score_split(SPEC, gold, checked, resamples=200)
    metrics = result["metrics"]
    assert list(metrics) == ["accuracy", "f1_macro", "matthews_correlation"]
    assert metrics["accuracy"]["value"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
    assert metrics["f1_macro"]["value"] == pytest.approx(f1_score(y, p, average="macro"), abs=1e-9)
    assert metrics["matthews_correlation"]["value"] == pytest.approx(
        matthews_corrcoef(y, p), abs=1e-9
    )
    for entry in metrics.values():
        lo, hi = entry["ci"]
        assert lo <= entry["value"] <= hi


def test_it_breaks_the_scores_down_by_slice(data):
    gold, checked, y, p = data
    result = score_split(SPEC, gold, checked, resamples=0)
    topic = [s for s in result["slices"] if s["slice"] == "topic"]
    assert [s["cell"] for s in topic] == ["billing", "delivery"]
    mask = np.asarray(gold["topic"]) == "billing"
    assert topic[0]["n"] == mask.sum()
    assert topic[0]["metrics"]["f1_macro"]["value"] == pytest.approx(
        f1_score(y[mask], p[mask], average="macro"), abs=1e-9
    )
    assert {s["cell"] for s in result["slices"] if s["slice"] == "negation"} == {
        "match",
        "no match",
    }
    assert sum(s["n"] for s in result["slices"] if s["slice"] == "length") == gold.num_rows


def test_it_returns_the_confusion_matrix_and_provenance(data):
    gold, checked, y, p = data
    result = score_split(SPEC, gold, checked, resamples=50, seed=3)
    assert result["confusion"]["labels"] == LABELS
    assert np.array(result["confusion"]["matrix"])[1, 2] == ((y == 1) & (p == 2)).sum()
    assert result["provenance"]["resamples"] == 50
    assert result["provenance"]["seed"] == 3
    assert set(result["provenance"]["metrics"]) == {"accuracy", "f1", "matthews_correlation"}
    assert "numpy" in result["provenance"]["libraries"]
    json.dumps(result)  # plain data all the way down


def test_the_default_metrics_of_the_task_type_apply(data):
    gold, checked, _, _ = data
    spec = {**SPEC, "metrics": None, "slices": []}
    keys = list(score_split(spec, gold, checked, resamples=0)["metrics"])
    assert keys == [
        "accuracy",
        "f1_macro",
        "precision_macro",
        "recall_macro",
        "matthews_correlation",
    ]


def test_a_missing_prediction_for_the_split_is_a_prediction_file_error(data):
    gold, checked, _, _ = data
    with pytest.raises(PredictionFileError, match="have no prediction"):
        score_split(SPEC, gold, checked.slice(1), resamples=0)


def test_the_same_seed_gives_the_same_intervals(data):
    gold, checked, _, _ = data
    a = score_split(SPEC, gold, checked, resamples=100, seed=1)["metrics"]
    b = score_split(SPEC, gold, checked, resamples=100, seed=1)["metrics"]
    assert a == b
