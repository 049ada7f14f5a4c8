"""Classification metrics agree with scikit-learn (zero_division=0) to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from scoring.metrics import classification as clf
from scoring.metrics import load

TOL = 1e-9


def sklearn_values(y, p, spec, labels):
    name = spec["name"]
    if name == "accuracy":
        return accuracy_score(y, p)
    if name == "matthews_correlation":
        return matthews_corrcoef(y, p)
    average = spec.get("average") or clf.default_average(len(labels))
    kwargs = {"average": average, "zero_division": 0}
    if average == "binary":
        kwargs["pos_label"] = spec.get("pos_label", 1)
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, **kwargs)
    return {"precision": prec, "recall": rec, "f1": f1}[name]


def our_values(y, p, spec, n_labels):
    counts = clf.class_counts(clf.confusion_matrix(y, p, n_labels))
    labels = [str(i) for i in range(n_labels)]
    return float(next(iter(clf.scores_from_counts([spec], labels, *counts).values())))


SPECS = [
    {"name": "accuracy"},
    {"name": "matthews_correlation"},
    *[
        {"name": name, "average": average}
        for name in ("precision", "recall", "f1")
        for average in ("micro", "macro", "weighted")
    ],
]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['name']}-{s.get('average')}")
def test_it_matches_sklearn_on_random_multiclass_inputs(seed, spec):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    n = int(rng.integers(1, 400))
    # Skewed class frequencies so that some classes are absent from y or p.
    y = rng.choice(k, n, p=rng.dirichlet(np.ones(k) * 0.5))
    p = np.where(rng.random(n) < rng.random(), y, rng.integers(0, k, n))
    assert our_values(y, p, spec, k) == pytest.approx(sklearn_values(y, p, spec, None), abs=TOL)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
@pytest.mark.parametrize("pos_label", [0, 1])
def test_binary_average_matches_sklearn_for_either_positive_label(seed, name, pos_label):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.6, y, 1 - y)
    spec = {"name": name, "average": "binary", "pos_label": pos_label}
    assert our_values(y, p, spec, 2) == pytest.approx(sklearn_values(y, p, spec, [0, 1]), abs=TOL)


EDGE_CASES = {
    "one class only, all right": ([1, 1, 1], [1, 1, 1]),
    "one class in gold, all wrong": ([0, 0, 0, 0], [1, 1, 1, 1]),
    "all wrong, both classes": ([0, 1, 0, 1], [1, 0, 1, 0]),
    "constant prediction": ([0, 1, 2, 2, 1], [2, 2, 2, 2, 2]),
    "single row": ([2], [0]),
    "perfect multiclass": ([0, 1, 2, 3], [0, 1, 2, 3]),
}


@pytest.mark.parametrize("case", EDGE_CASES, ids=str)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['name']}-{s.get('average')}")
def test_it_matches_sklearn_on_edge_cases(case, spec):
    y, p = (np.array(a) for a in EDGE_CASES[case])
    assert our_values(y, p, spec, 4) == pytest.approx(sklearn_values(y, p, spec, None), abs=TOL)


def test_batched_confusion_matrices_score_like_separate_calls():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    cells = rng.integers(0, 3, 500)
    scorer = clf.ClassificationScorer(SPECS, ["a", "b", "c", "d"], y, p)
    per_cell = scorer.cell_values(cells, 3)
    for cell in range(3):
        mask = cells == cell
        for spec in SPECS:
            key = clf.spec_key(spec, 4)
            expected = sklearn_values(y[mask], p[mask], spec, None)
            assert per_cell[cell][key] == pytest.approx(expected, abs=TOL)


def test_the_evaluate_modules_compute_like_sklearn():
    rng = np.random.default_rng(2)
    y, p = rng.integers(0, 3, 200).tolist(), rng.integers(0, 3, 200).tolist()
    assert load("accuracy").compute(predictions=p, references=y)["accuracy"] == pytest.approx(
        accuracy_score(y, p), abs=TOL
    )
    f1 = load("f1").compute(predictions=p, references=y, average="macro")["f1"]
    assert f1 == pytest.approx(sklearn_values(y, p, {"name": "f1", "average": "macro"}, 0), abs=TOL)
    mcc = load("matthews_correlation").compute(predictions=p, references=y)
    assert mcc["matthews_correlation"] == pytest.approx(matthews_corrcoef(y, p), abs=TOL)


def test_the_evaluate_modules_accept_label_names():
    y = ["pos", "neg", "pos", "neg"]
    p = ["pos", "pos", "pos", "neg"]
    result = load("precision").compute(predictions=p, references=y, pos_label="pos")
    prec, *_ = precision_recall_fscore_support(y, p, average="binary", pos_label="pos")
    assert result["precision"] == pytest.approx(prec, abs=TOL)
