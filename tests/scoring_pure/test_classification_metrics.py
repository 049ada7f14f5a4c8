"""Classification metrics agree with scikit-learn (zero_division=0) to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
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


# The evaluate modules follow scikit-learn's precision_score/recall_score/f1_score (and Hugging
# Face's modules), defaults included: average="binary", pos_label=1, zero_division="warn".
SKLEARN_SCORES = {"precision": precision_score, "recall": recall_score, "f1": f1_score}


def sklearn_score(name, refs, preds, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning
        value = SKLEARN_SCORES[name](refs, preds, **kwargs)
    return value.tolist() if isinstance(value, np.ndarray) else float(value)


def module_score(name, refs, preds, **kwargs):
    return load(name).compute(predictions=preds, references=refs, **kwargs)[name]


def assert_scores_equal(ours, expected):
    if isinstance(expected, list):
        assert len(ours) == len(expected)
        for a, b in zip(ours, expected, strict=True):
            assert_scores_equal(a, b)
    elif np.isnan(expected):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=TOL)


SINGLE_CLASS_CASES = {
    "all 0": ([0, 0, 0], [0, 0, 0]),
    "all 1": ([1, 1, 1], [1, 1, 1]),
    "predictions all 1, references all 0": ([0, 0, 0], [1, 1, 1]),
    "predictions all 0, references all 1": ([1, 1, 1], [0, 0, 0]),
    "all 2 (no positive class)": ([2, 2], [2, 2]),
    "one row": ([0], [0]),
    "references one class, predictions mixed": ([0, 0, 0, 0], [0, 1, 0, 1]),
    "references mixed, predictions one class": ([0, 1, 1, 0], [1, 1, 1, 1]),
    "binary": ([0, 1, 1, 0, 1], [0, 1, 0, 0, 1]),
    "one string label": (["a", "a"], ["a", "a"]),
}


@pytest.mark.parametrize("case", SINGLE_CLASS_CASES, ids=str)
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
def test_the_evaluate_modules_default_to_the_binary_average_of_label_1(case, name):
    refs, preds = SINGLE_CLASS_CASES[case]
    expected = sklearn_score(name, refs, preds)
    assert_scores_equal(module_score(name, refs, preds), expected)
    assert module_score(name, refs, preds, pos_label=1, average="binary") == expected


@pytest.mark.parametrize("case", SINGLE_CLASS_CASES, ids=str)
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
@pytest.mark.parametrize("zero_division", ["warn", 0, 1, np.nan])
def test_the_evaluate_modules_apply_zero_division_as_sklearn(case, name, zero_division):
    refs, preds = SINGLE_CLASS_CASES[case]
    for average in ("binary", "micro", "macro", "weighted", None):
        kwargs = {"average": average, "zero_division": zero_division}
        expected = sklearn_score(name, refs, preds, **kwargs)
        assert_scores_equal(module_score(name, refs, preds, **kwargs), expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
@pytest.mark.parametrize("average", ["micro", "macro", "weighted", None])
def test_the_evaluate_modules_match_sklearn_with_an_explicit_average(seed, name, average):
    rng = np.random.default_rng(seed)
    k, n = int(rng.integers(2, 6)), int(rng.integers(1, 60))
    refs = rng.choice(k, n, p=rng.dirichlet(np.ones(k) * 0.5)).tolist()
    preds = np.where(rng.random(n) < 0.5, refs, rng.integers(0, k, n)).tolist()
    label_lists = [None, list(range(k + 2)), [1, 0], list(range(k))[::-1]]
    for labels in label_lists:
        for zero_division in ("warn", 0, 1, np.nan):
            kwargs = {"average": average, "labels": labels, "zero_division": zero_division}
            expected = sklearn_score(name, refs, preds, **kwargs)
            assert_scores_equal(module_score(name, refs, preds, **kwargs), expected)


@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
def test_the_evaluate_modules_refuse_what_sklearn_refuses_with_default_arguments(name):
    for refs, preds in (([0, 1, 2], [0, 2, 2]), ([0, 2], [2, 0]), (["a", "b"], ["a", "a"])):
        with pytest.raises(ValueError) as sklearn_error:
            sklearn_score(name, refs, preds)
        with pytest.raises(ValueError) as our_error:
            module_score(name, refs, preds)
        assert str(our_error.value).split(".")[0] == str(sklearn_error.value).split(".")[0]
    with pytest.raises(ValueError, match="zero_division"):
        module_score(name, [0, 1], [0, 1], zero_division=2)
    with pytest.raises(ValueError, match="average"):
        module_score(name, [0, 1], [0, 1], average="samples")


def test_the_evaluate_modules_score_a_multiclass_input_with_an_average_only():
    refs, preds = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    with pytest.raises(ValueError, match="multiclass"):
        load("f1").compute(predictions=preds, references=refs)
    f1 = load("f1").compute(predictions=preds, references=refs, average="macro")["f1"]
    assert f1 == pytest.approx(f1_score(refs, preds, average="macro"), abs=TOL)


# The platform's macro average (ClassificationScorer, scores_from_counts) runs over the labels
# that occur in the gold or the predictions of the scored rows: a declared label with neither is
# left out, in a split and in every slice cell. That is scikit-learn with labels=None on those
# rows, not scikit-learn given the declared labels (which counts such a label as 0).
DECLARED = ["a", "b", "c", "d"]
MACRO_SPECS = [
    {"name": n, "average": a}
    for n in ("precision", "recall", "f1")
    for a in ("micro", "macro", "weighted")
]


def test_a_declared_label_absent_from_the_scored_rows_is_left_out_of_the_macro_average():
    y = np.array([0, 0, 1, 1, 2, 0, 1])  # "d" (3) is declared but never occurs
    p = np.array([0, 1, 1, 1, 2, 2, 0])
    values = clf.ClassificationScorer(MACRO_SPECS, DECLARED, y, p).values()
    for spec in MACRO_SPECS:
        key = clf.spec_key(spec, len(DECLARED))
        function = SKLEARN_SCORES[spec["name"]]
        present = function(y, p, average=spec["average"], zero_division=0)
        declared = function(y, p, average=spec["average"], labels=[0, 1, 2, 3], zero_division=0)
        assert values[key] == pytest.approx(present, abs=TOL)
        if spec["average"] == "macro":
            assert values[key] == pytest.approx(declared * 4 / 3, abs=TOL)  # d would count as 0
        else:
            assert values[key] == pytest.approx(declared, abs=TOL)  # d has no weight anyway


def test_a_label_only_predicted_or_only_in_gold_counts_in_the_macro_average():
    y = np.array([0, 0, 1, 1])  # "c" (2) only predicted: precision 0; "b" (1) never predicted
    p = np.array([0, 2, 0, 0])
    values = clf.ClassificationScorer(MACRO_SPECS, DECLARED, y, p).values()
    for name in ("precision", "recall", "f1"):
        expected = SKLEARN_SCORES[name](y, p, average="macro", labels=[0, 1, 2], zero_division=0)
        assert values[f"{name}_macro"] == pytest.approx(expected, abs=TOL)


def test_a_slice_cell_averages_over_the_labels_that_occur_in_it():
    y = np.array([0, 1, 0, 1, 2, 3, 2, 3])
    p = np.array([0, 1, 1, 1, 2, 2, 3, 3])
    cells = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # cell 0 holds only a and b, cell 1 only c and d
    per_cell = clf.ClassificationScorer(MACRO_SPECS, DECLARED, y, p).cell_values(cells, 2)
    for cell, present in ((0, [0, 1]), (1, [2, 3])):
        mask = cells == cell
        expected = f1_score(y[mask], p[mask], average="macro", labels=present, zero_division=0)
        assert per_cell[cell]["f1_macro"] == pytest.approx(expected, abs=TOL)
        assert expected == pytest.approx(f1_score(y[mask], p[mask], average="macro"), abs=TOL)
