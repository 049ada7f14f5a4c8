"""score_split(..., examples=True): the per-example table, per task type."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from scoring.evaluation import score_split
from scoring.metrics.bleu import CHRF
from scoring.predictions import check_predictions
from tests.scoring_pure.task_specs import task


def test_classification_examples_in_gold_order_with_cells():
    labels = ["neg", "pos"]
    gold = pa.table({"id": [3, 1, 2], "text": ["a b", "a", "c d e f g h"], "label": [1, 0, 1]})
    spec = task(
        "text-classification",
        "label",
        ["text"],
        labels,
        slices=[{"name": "neg?", "column": "text", "pattern": "a"}],
    )
    # Shuffled, as indices and names, checked as the pipeline does: dictionary-encoded.
    table = pa.table({"id": ["2", "3", "1"], "prediction": ["pos", "0", "neg"]})
    checked = check_predictions(spec, pa.array(["3", "1", "2"]), table)
    result = score_split(spec, gold, checked, resamples=10, examples=True)
    examples = result["examples"]
    assert examples.column_names == [
        "id",
        "prediction",
        "score",
        "correct",
        "cell:neg?",
        "cell:input length",
        "cell:gold label",
        "cell:predicted label",
    ]
    assert examples["id"].to_pylist() == ["3", "1", "2"]
    assert examples.schema.field("prediction").type == pa.string()
    assert examples["prediction"].to_pylist() == ["neg", "neg", "pos"]
    assert examples["score"].to_pylist() == [0.0, 1.0, 1.0]
    assert examples["correct"].to_pylist() == [False, True, True]
    assert examples["cell:neg?"].to_pylist() == ["match", "match", "no match"]
    assert examples["cell:gold label"].to_pylist() == ["pos", "neg", "pos"]
    assert examples["cell:predicted label"].to_pylist() == ["neg", "neg", "pos"]
    assert "examples" not in score_split(spec, gold, checked, resamples=10)


def test_token_classification_examples():
    gold = pa.table(
        {
            "id": ["a", "b", "c"],
            "tokens": [["J", "x"], ["in", "N", "Y"], []],
            "tags": [["B-PER", "O"], ["O", "B-LOC", "I-LOC"], []],
        }
    )
    tags = [["B-PER", "O"], ["O", "B-LOC", "O"], []]
    result = score_split(
        task("token-classification", "tags", ["tokens"]),
        gold,
        pa.table({"id": ["a", "b", "c"], "prediction": tags}),
        resamples=10,
        examples=True,
    )
    examples = result["examples"]
    assert examples.schema.field("prediction").type == pa.list_(pa.string())
    assert examples["prediction"].to_pylist() == tags
    score = examples["score"].to_pylist()
    assert score[:2] == [1.0, pytest.approx(2 / 3)] and math.isnan(score[2])
    assert examples["correct"].to_pylist() == [True, False, True]
    assert not any(name == "cell:entity type" for name in examples.column_names)


def test_question_answering_examples():
    gold = pa.table(
        {
            "id": ["a", "b", "c"],
            "question": ["who?", "what?", "when?"],
            "context": ["x", "y", "z"],
            "answers": pa.array([["John Smith"], ["the cat"], []], pa.list_(pa.string())),
        }
    )
    result = score_split(
        task("question-answering", "answers", ["question", "context"]),
        gold,
        pa.table({"id": ["a", "b", "c"], "prediction": ["John", "The cat!", ""]}),
        resamples=10,
        examples=True,
    )
    examples = result["examples"]
    assert examples["prediction"].to_pylist() == ["John", "The cat!", ""]
    # "John" vs "john smith": P 1, R 1/2, F1 2/3 → 66.7 on the 0-100 scale.
    assert examples["score"].to_pylist() == pytest.approx([200 / 3, 100.0, 100.0])
    assert examples["correct"].to_pylist() == [False, True, True]
    assert examples["cell:question word"].to_pylist() == ["who", "what", "when"]
    assert examples["cell:answerable"].to_pylist() == ["answerable", "answerable", "unanswerable"]


def test_generation_examples_rouge_then_chrf():
    gold = pa.table(
        {"id": ["a", "b"], "source": ["s t", "u"], "ref": ["the cat sat", "a dog ran far"]}
    )
    hyps = ["the cat sat", "a dog"]
    predictions = pa.table({"id": ["a", "b"], "prediction": hyps})
    with_rouge = score_split(
        task("text-generation", "ref", ["source"], metrics=["rouge", "bleu"]),
        gold,
        predictions,
        resamples=10,
        examples=True,
    )["examples"]
    # ROUGE-L of "a dog" against "a dog ran far": P 1, R 1/2 → F 2/3.
    assert with_rouge["score"].to_pylist() == pytest.approx([1.0, 2 / 3])
    assert with_rouge["correct"].null_count == 2
    chrf = CHRF()
    expected = [
        chrf.sentence_score(h, [r]).score
        for h, r in zip(hyps, gold["ref"].to_pylist(), strict=True)
    ]
    for metrics in (["chrf"], ["bleu"]):
        examples = score_split(
            task("text-generation", "ref", ["source"], metrics=metrics),
            gold,
            predictions,
            resamples=10,
            examples=True,
        )["examples"]
        assert examples["score"].to_pylist() == pytest.approx(expected)


def test_regression_examples():
    gold = pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"], "y": [1.0, 2.0, 3.5]})
    result = score_split(
        task("regression", "y", ["text"], metrics=["mse", "pearson"]),
        gold,
        pa.table({"id": ["c", "a", "b"], "prediction": [3, 1, 1]}),
        resamples=10,
        examples=True,
    )
    examples = result["examples"]
    assert examples.schema.field("prediction").type == pa.float64()
    assert examples["prediction"].to_pylist() == [1.0, 1.0, 3.0]
    assert examples["score"].to_pylist() == [0.0, 1.0, 0.5]
    assert examples["correct"].null_count == 3
    assert examples.schema.field("score").type == pa.float64()


def test_examples_of_a_large_split_are_vectorised():
    n = 200_000
    rng = np.random.default_rng(0)
    gold = pa.table(
        {"id": np.arange(n).astype(str), "text": ["a b c"] * n, "label": rng.integers(0, 3, n)}
    )
    spec = task("text-classification", "label", ["text"], ["x", "y", "z"], metrics=["accuracy"])
    predictions = pa.table({"id": gold["id"], "prediction": rng.integers(0, 3, n)})
    examples = score_split(spec, gold, predictions, resamples=10, examples=True)["examples"]
    assert examples.num_rows == n
    assert examples["score"].to_numpy().mean() == pytest.approx(
        (np.asarray(gold["label"]) == np.asarray(predictions["prediction"])).mean()
    )
