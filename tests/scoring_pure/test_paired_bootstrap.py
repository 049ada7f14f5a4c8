"""Paired bootstrap and win/tie/loss counts (scoring/compare.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import accuracy_score, f1_score

from scoring.bootstrap import weight_chunks
from scoring.compare import paired_bootstrap, paired_p_value, win_tie_loss

LABELS = ["a", "b", "c"]


def cls_task(metrics=("accuracy", {"name": "f1", "average": "macro"})):
    return {
        "slug": "t",
        "type": "text-classification",
        "columns": {"id": "id", "inputs": ["text"], "label": "label", "labels": LABELS},
        "metrics": list(metrics),
        "slices": [],
    }


def cls_data(n, seed, *rates):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    gold = pa.table(
        {"id": np.arange(n).astype(str), "text": ["t"] * n, "label": np.array(LABELS)[y]}
    )
    systems = [
        pa.array(np.array(LABELS)[np.where(rng.random(n) < r, y, rng.integers(0, 3, n))])
        for r in rates
    ]
    return gold, y, systems


def test_identical_predictions_give_zero_deltas_and_p_one():
    gold, _, (system,) = cls_data(300, 0, 0.6)
    result = paired_bootstrap(cls_task(), gold, [system, system, system], resamples=200)
    for entry in result.values():
        assert entry["deltas"] == [None, 0.0, 0.0]
        assert entry["ci"] == [None, [0.0, 0.0], [0.0, 0.0]]
        assert entry["p_value"] == [None, 1.0, 1.0]
        assert entry["values"][0] == entry["values"][1]


def test_a_clearly_better_system_is_significant():
    gold, _, systems = cls_data(2000, 1, 0.6, 0.75)
    result = paired_bootstrap(cls_task(), gold, systems, resamples=1000, seed=3)
    for key in ("accuracy", "f1_macro"):
        entry = result[key]
        assert entry["deltas"][1] > 0.05
        assert entry["p_value"][1] < 0.01
        assert entry["p_value"][1] == pytest.approx(2 / 1001)  # never 0: (0 + 1) / (R + 1)
        lo, hi = entry["ci"][1]
        assert 0 < lo < entry["deltas"][1] < hi


def test_a_tiny_difference_on_few_rows_is_not():
    gold, y, (first,) = cls_data(30, 2, 0.6)
    second = first.to_pylist()
    wrong = next(i for i, p in enumerate(second) if p != LABELS[y[i]])
    second[wrong] = LABELS[y[wrong]]  # one more row right
    result = paired_bootstrap(cls_task(), gold, [first, pa.array(second)], resamples=1000)
    assert result["accuracy"]["deltas"][1] == pytest.approx(1 / 30)
    assert result["accuracy"]["p_value"][1] > 0.3


def reference(gold_codes, system_codes, resamples, seed, metric):
    """The slow way: each resample's row indices from the same weights, scored by
    scikit-learn, differences against the first system."""
    n = len(gold_codes)
    diffs = [[] for _ in system_codes[1:]]
    for chunk in weight_chunks(n, resamples, seed):
        for weights in chunk:
            rows = np.repeat(np.arange(n), weights)
            base = metric(gold_codes[rows], system_codes[0][rows])
            for j, codes in enumerate(system_codes[1:]):
                diffs[j].append(metric(gold_codes[rows], codes[rows]) - base)
    return [np.asarray(d) for d in diffs]


@pytest.mark.parametrize(
    ("key", "metric"),
    [
        ("accuracy", accuracy_score),
        ("f1_macro", lambda t, p: f1_score(t, p, average="macro", zero_division=0)),
    ],
)
def test_agrees_with_a_slow_reference(key, metric):
    gold, y, systems = cls_data(120, 4, 0.5, 0.7, 0.55)
    codes = [np.array([LABELS.index(v) for v in s.to_pylist()]) for s in systems]
    resamples, seed = 150, 9
    result = paired_bootstrap(cls_task(), gold, systems, resamples=resamples, seed=seed)[key]
    slow = reference(y, codes, resamples, seed, metric)
    for j, diffs in enumerate(slow, start=1):
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        assert result["ci"][j] == pytest.approx([lo, hi], abs=1e-12)
        assert result["p_value"][j] == pytest.approx(paired_p_value(diffs), abs=1e-12)
        below = ((diffs <= 1e-12).sum() + 1) / (resamples + 1)
        above = ((diffs >= -1e-12).sum() + 1) / (resamples + 1)
        assert result["p_value"][j] == pytest.approx(min(1, 2 * min(below, above)))


def test_p_value_formula():
    assert paired_p_value(np.zeros(9)) == 1.0
    assert paired_p_value(np.ones(9)) == pytest.approx(2 * 1 / 10)
    assert paired_p_value(np.array([1.0] * 7 + [-1.0] * 2)) == pytest.approx(2 * 3 / 10)


def test_every_task_type_compares():
    rng = np.random.default_rng(0)
    n = 60
    ids = np.arange(n).astype(str)
    y = rng.normal(size=n)
    regression = {
        "type": "regression",
        "columns": {"id": "id", "inputs": ["text"], "label": "y"},
        "metrics": ["mse", "mae", "pearson", "spearman"],
    }
    gold = pa.table({"id": ids, "text": ["t"] * n, "y": y})
    result = paired_bootstrap(
        regression, gold, [pa.array(y + rng.normal(size=n)), pa.array(y + 0.1 * rng.normal(size=n))]
    )
    assert set(result) == {"mse", "mae", "pearson", "spearman"}
    assert result["mse"]["deltas"][1] < 0 and result["pearson"]["deltas"][1] > 0
    assert result["pearson"]["p_value"][1] < 0.01

    words = ["the cat sat on the mat", "a dog ran", "it was fine", "we said no"]
    refs = [words[i % 4] for i in range(n)]
    generation = {
        "type": "text-generation",
        "columns": {"id": "id", "inputs": ["source"], "label": "ref"},
        "metrics": ["rouge", "bleu", "chrf"],
    }
    gold = pa.table({"id": ids, "source": ["s"] * n, "ref": refs})
    worse = [r.split()[0] for r in refs]
    result = paired_bootstrap(generation, gold, [pa.array(worse), pa.array(refs)], resamples=100)
    assert {"rougeL", "bleu", "chrf"} <= set(result)
    assert result["bleu"]["deltas"][1] > 0 and result["chrf"]["p_value"][1] < 0.05

    tags = [["B-PER", "O"], ["O", "B-LOC"]] * (n // 2)
    tagging = {
        "type": "token-classification",
        "columns": {"id": "id", "inputs": ["tokens"], "label": "tags"},
        "metrics": ["seqeval"],
    }
    gold = pa.table({"id": ids, "tokens": [["x", "y"]] * n, "tags": tags})
    none = [["O", "O"]] * n
    result = paired_bootstrap(tagging, gold, [pa.array(none), pa.array(tags)], resamples=100)
    assert result["overall_f1"]["values"] == [0.0, 1.0]
    assert result["overall_f1"]["p_value"][1] < 0.05

    qa = {
        "type": "question-answering",
        "columns": {"id": "id", "inputs": ["q", "c"], "label": "answers"},
        "metrics": ["squad"],
    }
    answers = [["Paris"] if i % 3 else [] for i in range(n)]
    gold = pa.table(
        {
            "id": ids,
            "q": ["q"] * n,
            "c": ["c"] * n,
            "answers": pa.array(answers, pa.list_(pa.string())),
        }
    )
    guess = ["Paris"] * n
    right = [a[0] if a else "" for a in answers]
    result = paired_bootstrap(qa, gold, [pa.array(guess), pa.array(right)], resamples=100)
    assert result["exact_match"]["deltas"][1] == pytest.approx(100 / 3, abs=1)
    assert result["NoAns_f1"]["values"] == [0.0, 100.0]


def test_confusion_metrics_under_weights_match_point_values():
    gold, _, systems = cls_data(50, 5, 0.5, 0.8)
    task = cls_task(["accuracy", {"name": "f1", "average": "weighted"}, "matthews_correlation"])
    result = paired_bootstrap(task, gold, systems, resamples=50)
    assert set(result) == {"accuracy", "f1_weighted", "matthews_correlation"}
    assert all(entry["ci"][1][0] <= entry["ci"][1][1] for entry in result.values())


def test_two_to_four_systems():
    gold, _, systems = cls_data(20, 6, 0.5, 0.5, 0.5, 0.5, 0.5)
    with pytest.raises(ValueError):
        paired_bootstrap(cls_task(), gold, systems[:1])
    with pytest.raises(ValueError):
        paired_bootstrap(cls_task(), gold, systems)
    result = paired_bootstrap(cls_task(), gold, systems[:4], resamples=20)
    assert len(result["accuracy"]["p_value"]) == 4


def test_win_tie_loss():
    a = np.array([1.0, 0.0, 0.5, 0.5, np.nan, 0.3])
    b = np.array([0.0, 1.0, 0.5, 0.7, 1.0, 0.1 + 0.2])  # 0.1 + 0.2 ties 0.3
    assert win_tie_loss(a, b, lower_is_better=False) == {
        "wins": 2,
        "ties": 2,
        "losses": 1,
        "undefined": 1,
    }
    assert win_tie_loss(a, b, lower_is_better=True) == {
        "wins": 1,
        "ties": 2,
        "losses": 2,
        "undefined": 1,
    }
