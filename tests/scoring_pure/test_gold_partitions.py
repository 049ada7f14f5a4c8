"""The slices' cells of a gold table are computed once per live table and slice definition
(scoring.evaluation.gold_partitions): later submissions on the split read them, get the same
breakdown, cannot change them, and a changed definition or a new table computes afresh."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
import pytest

import scoring.evaluation as evaluation
from scoring.evaluation import gold_partitions, score_split
from tests.scoring_pure.task_specs import task

QA_GOLD = pa.table(
    {
        "id": [f"q{i}" for i in range(6)],
        "question": ["Who wrote it?", "When was it?", "What is a cat?", "Why?", "How so?", ""],
        "context": ["it was written by Ann"] * 3 + ["cats sit on mats"] * 3,
        "answers": pa.array(
            [["Ann"], [], ["a small animal"], ["because"], [], ["x"]], pa.list_(pa.string())
        ),
    }
)
QA_TASK = task("question-answering", "answers", ["question", "context"], (), ["squad"])
PREDICTIONS = pa.table(
    {"id": QA_GOLD["id"], "prediction": ["Ann", "", "a cat", "because", "no", "x"]}
)


@pytest.fixture
def counted(monkeypatch):
    """How many times the automatic slices are measured."""
    calls = []
    measure = evaluation.automatic_partitions

    def counting(*args, **kwargs):
        calls.append(1)
        return measure(*args, **kwargs)

    monkeypatch.setattr(evaluation, "automatic_partitions", counting)
    return calls


@pytest.fixture
def gold():
    """A table of its own per test: cells kept for another test's table are not in play."""
    return pa.Table.from_batches(QA_GOLD.to_batches())


def test_second_submission_on_the_same_table_reads_the_cells(counted, gold):
    first = score_split(QA_TASK, gold, PREDICTIONS, resamples=20)
    other = PREDICTIONS.set_column(1, "prediction", pa.array(["x"] * 6))
    score_split(QA_TASK, gold, other, resamples=20)
    again = score_split(QA_TASK, gold, PREDICTIONS, resamples=20)
    assert len(counted) == 1
    assert again["slices"] == first["slices"]
    assert {c["slice"] for c in first["slices"] if c.get("auto")} >= {
        "question word",
        "question-context overlap",
        "answerable",
    }


def test_a_new_table_or_a_changed_definition_is_measured_afresh(counted, gold):
    score_split(QA_TASK, gold, PREDICTIONS, resamples=20)
    copy = pa.Table.from_batches(gold.to_batches())  # same rows, another table
    score_split(QA_TASK, copy, PREDICTIONS, resamples=20)
    authored = {**QA_TASK, "slices": [{"name": "wh", "column": "question", "pattern": "^Wh"}]}
    result = score_split(authored, gold, PREDICTIONS, resamples=20)
    assert len(counted) == 3
    wh = {c["cell"]: c["n"] for c in result["slices"] if c["slice"] == "wh"}
    assert sum(wh.values()) == 6
    without = score_split(QA_TASK, gold, PREDICTIONS, resamples=20, automatic=False)
    assert len(counted) == 3 and not any(c.get("auto") for c in without["slices"])


def test_kept_cells_are_read_only_and_leave_with_their_table():
    gold = pa.Table.from_batches(QA_GOLD.to_batches())
    partitions = gold_partitions(QA_TASK, gold, automatic=True)
    assert partitions
    codes = partitions[0][1]
    with pytest.raises(ValueError):
        codes[0] = 99
    assert id(gold) in evaluation._PARTITIONS
    key = id(gold)
    del gold, partitions
    gc.collect()
    assert key not in evaluation._PARTITIONS
    np.testing.assert_array_equal(codes, codes)  # the caller's own reference still reads


def test_predicted_label_cells_follow_each_submission():
    gold = pa.table({"id": ["a", "b", "c"], "text": ["x", "y", "z"], "label": ["p", "n", "p"]})
    spec = task("text-classification", "label", ["text"], ["n", "p"], ["accuracy"])
    one = score_split(spec, gold, pa.table({"id": ["a", "b", "c"], "prediction": ["p"] * 3}))
    two = score_split(spec, gold, pa.table({"id": ["a", "b", "c"], "prediction": ["n"] * 3}))
    predicted = [
        {c["cell"]: c["n"] for c in r["slices"] if c["slice"] == "predicted label"}
        for r in (one, two)
    ]
    assert predicted == [{"p": 3}, {"n": 3}]


def test_stored_cells_read_back_score_as_measured_ones(counted, gold):
    from scoring.evaluation import (
        gold_partitions_known,
        gold_partitions_seed,
        partitions_dump,
        partitions_load,
    )

    measured = score_split(QA_TASK, gold, PREDICTIONS, resamples=20)
    stored = partitions_dump(gold_partitions(QA_TASK, gold, automatic=True))
    elsewhere = pa.Table.from_batches(QA_GOLD.to_batches())  # another worker's table
    assert not gold_partitions_known(QA_TASK, elsewhere)
    gold_partitions_seed(QA_TASK, elsewhere, partitions_load(stored))
    assert gold_partitions_known(QA_TASK, elsewhere)
    read = score_split(QA_TASK, elsewhere, PREDICTIONS, resamples=20)
    assert len(counted) == 1  # measured once, for the first table only
    assert read["slices"] == measured["slices"]
    seeded = gold_partitions(QA_TASK, elsewhere, automatic=True)
    with pytest.raises(ValueError):
        seeded[0][1][0] = 5  # seeded codes are read-only too
    original = gold_partitions(QA_TASK, gold, automatic=True)
    assert [(s, c.tolist(), n) for s, c, n in seeded] == [
        (s, c.tolist(), n) for s, c, n in original
    ]


def test_stored_classification_cells_read_back_narrow_and_score_as_measured_ones():
    """Codes read back stay in the narrow type they were stored in, and classification (whose
    slices are counted crossed, `scoring.joint`) scores the same breakdown from them."""
    from scoring.evaluation import gold_partitions_seed, partitions_dump, partitions_load

    rng = np.random.default_rng(5)
    n = 400
    words = np.array(["not", "good", "bad", "the", "film", "never", "fine"])
    gold = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [" ".join(rng.choice(words, rng.integers(1, 30))) for _ in range(n)],
            "label": rng.choice(["neg", "neu", "pos"], n).tolist(),
            "topic": rng.choice(["a", "b", "c", "d"], n).tolist(),
        }
    )
    spec = task("text-classification", "label", ["text"], ["neg", "neu", "pos"], ["accuracy"])
    spec["metrics"] = [{"name": "accuracy"}, {"name": "f1", "average": "macro"}]
    spec["slices"] = [
        {"name": "topic", "column": "topic"},
        {"name": "negation", "column": "text", "pattern": r"\b(not|never)\b"},
    ]
    predictions = pa.table(
        {"id": gold["id"], "prediction": rng.choice(["neg", "neu", "pos"], n).tolist()}
    )
    measured = score_split(spec, gold, predictions, resamples=50)
    stored = partitions_dump(gold_partitions(spec, gold, automatic=True))
    loaded = partitions_load(stored)
    assert {codes.dtype for _, codes, _ in loaded} == {np.dtype(np.uint8)}
    elsewhere = pa.Table.from_batches(gold.to_batches())
    gold_partitions_seed(spec, elsewhere, loaded)
    read = score_split(spec, elsewhere, predictions, resamples=50)
    assert read["slices"] == measured["slices"]
    assert {c["slice"] for c in read["slices"]} >= {"topic", "input length", "gold label"}
