"""score_split for token classification, QA, generation and regression."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from scoring.evaluation import score_split
from scoring.metrics.rouge import compute_from_arrays as rouge_values
from scoring.metrics.squad import compute_from_arrays as squad_values
from scoring.metrics.tagging import compute_from_arrays as seqeval_values
from scoring.predictions import PredictionFileError


def spec(task_type, label, inputs, metrics=None, slices=()):
    return {
        "slug": "t",
        "type": task_type,
        "columns": {"id": "id", "inputs": inputs, "label": label, "labels": [], "metadata": []},
        "metrics": metrics,
        "slices": list(slices),
    }


def preds(ids, values, type_=None):
    return pa.table({"id": ids, "prediction": pa.array(values, type_)})


def test_token_classification():
    gold = pa.table(
        {
            "id": ["a", "b", "c"],
            "tokens": [["John", "lives"], ["in", "New", "York"], ["x"]],
            "tags": [["B-PER", "O"], ["O", "B-LOC", "I-LOC"], ["O"]],
        }
    )
    tags = [["B-PER", "O"], ["O", "B-LOC", "O"], ["B-PER"]]
    task = spec(
        "token-classification",
        "tags",
        ["tokens"],
        slices=[{"name": "len", "column": "tokens", "measure": "words", "bins": [0, 3]}],
    )
    result = score_split(task, gold, preds(["a", "b", "c"], tags), resamples=50)
    expected = seqeval_values(tags, gold["tags"].to_pylist())
    assert {k: v["value"] for k, v in result["metrics"].items()} == pytest.approx(expected)
    assert [s["cell"] for s in result["slices"] if not s.get("auto")] == ["[0,3)", "[3,inf)"]
    assert result["confusion"] is None


def test_token_classification_rejects_tag_lists_of_the_wrong_length():
    gold = pa.table({"id": ["a", "b"], "tokens": [["x", "y"], ["z"]], "tags": [["O", "O"], ["O"]]})
    with pytest.raises(PredictionFileError) as excinfo:
        score_split(
            spec("token-classification", "tags", ["tokens"]),
            gold,
            preds(["a", "b"], [["O"], ["O"]]),
        )
    assert "row id a: 1 tags for 2 tokens" in str(excinfo.value)
    assert "O" not in str(excinfo.value).replace("row", "")  # no tag is shown


def test_question_answering_v2():
    answers = [["Paris", "paris, France"], [], ["42"], []]
    gold = pa.table(
        {
            "id": ["1", "2", "3", "4"],
            "question": ["q"] * 4,
            "context": ["c"] * 4,
            "answers": pa.array(answers, pa.list_(pa.string())),
        }
    )
    predictions = ["The Paris", "", "41", "something"]
    result = score_split(
        spec("question-answering", "answers", ["question", "context"]),
        gold,
        preds(["4", "3", "2", "1"], predictions[::-1]),
        resamples=100,
    )
    expected = squad_values(predictions, answers)
    assert {k: v["value"] for k, v in result["metrics"].items()} == pytest.approx(expected)
    assert set(result["metrics"]) == {
        "exact_match",
        "f1",
        "HasAns_exact_match",
        "HasAns_f1",
        "NoAns_exact_match",
        "NoAns_f1",
    }
    assert result["metrics"]["exact_match"]["value"] == 50.0


def test_text_generation_reports_rouge_bleu_and_chrf():
    rng = np.random.default_rng(0)
    words = np.array(["the", "cat", "sat", "on", "a", "mat", "dog"])
    refs = [" ".join(rng.choice(words, 8)) for _ in range(30)]
    hyps = [" ".join(rng.choice(words, 7)) for _ in range(30)]
    ids = [str(i) for i in range(30)]
    gold = pa.table({"id": ids, "source": ["s"] * 30, "reference": refs})
    result = score_split(
        spec("text-generation", "reference", ["source"]), gold, preds(ids, hyps), resamples=100
    )
    keys = ["rouge1", "rouge2", "rougeL", "rougeLsum", "bleu", "chrf"]
    assert list(result["metrics"]) == keys
    assert result["metrics"]["rougeL"]["value"] == pytest.approx(rouge_values(hyps, refs)["rougeL"])
    for key in keys:
        lo, hi = result["metrics"][key]["ci"]
        assert lo <= result["metrics"][key]["value"] <= hi
    assert set(result["provenance"]["metrics"]) == {"rouge", "bleu", "chrf"}


def test_regression_with_a_constant_prediction_reports_null_correlations():
    gold = pa.table({"id": ["1", "2", "3"], "text": ["a", "b", "c"], "score": [1.0, 2.0, 4.0]})
    result = score_split(
        spec("regression", "score", ["text"]),
        gold,
        preds(["1", "2", "3"], [2.0, 2.0, 2.0]),
        resamples=50,
    )
    assert result["metrics"]["pearson"] == {"value": None, "ci": None}
    assert result["metrics"]["mse"]["value"] == pytest.approx((1 + 0 + 4) / 3)
    json.dumps(result)
