"""The shortcuts of the scoring path give the answers of the general one: a file in gold order,
ids with and without surrounding whitespace, dictionary-encoded labels, word counts on bytes."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring import slices
from scoring.evaluation import score_split
from scoring.predictions import PredictionFileError, check_predictions, read_prediction_file

LABELS = ["negative", "neutral", "positive"]
SPEC = {
    "slug": "sst",
    "type": "text-classification",
    "columns": {"id": "id", "inputs": ["text"], "label": "label", "labels": LABELS},
    "metrics": ["accuracy", {"name": "f1", "average": "macro"}],
    "slices": [{"name": "length", "column": "text", "measure": "words", "bins": [0, 3]}],
}


def read_csv(lines: list[str]) -> pa.Table:
    return read_prediction_file(io.BytesIO("\n".join(lines).encode()), "p.csv")


@pytest.fixture(scope="module")
def gold_and_rows():
    rng = np.random.default_rng(1)
    n = 300
    y = rng.integers(0, 3, n)
    p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
    words = np.array(["good", "not", "bad", "fine"])
    gold = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [" ".join(rng.choice(words, rng.integers(0, 6))) for _ in range(n)],
            "label": np.array(LABELS)[y],
        }
    )
    # Names, indices and names with stray spaces, as participants write them.
    rows = [f"r{i},{[LABELS[p[i]], str(p[i]), f' {LABELS[p[i]]} '][i % 3]}" for i in range(n)]
    return gold, rows


def test_a_file_in_gold_order_is_checked_and_scored_as_a_shuffled_one(gold_and_rows):
    gold, rows = gold_and_rows
    shuffled = [rows[i] for i in np.random.default_rng(2).permutation(len(rows))]
    in_order = check_predictions(SPEC, gold["id"], read_csv(["id,prediction", *rows]))
    reordered = check_predictions(SPEC, gold["id"], read_csv(["id,prediction", *shuffled]))
    assert in_order.to_pylist() == reordered.to_pylist()
    a = score_split(SPEC, gold, in_order, resamples=100, seed=4)
    b = score_split(SPEC, gold, reordered, resamples=100, seed=4)
    assert a["metrics"] == b["metrics"] and a["slices"] == b["slices"]


def test_a_file_in_gold_order_still_gets_its_labels_checked(gold_and_rows):
    gold, rows = gold_and_rows
    with pytest.raises(PredictionFileError, match='not a label name or index: "great"'):
        check_predictions(SPEC, gold["id"], read_csv(["id,prediction", "r0,great", *rows[1:]]))


def test_a_file_with_one_id_out_of_place_is_still_complete(gold_and_rows):
    gold, rows = gold_and_rows
    swapped = [rows[1], rows[0], *rows[2:]]
    checked = check_predictions(SPEC, gold["id"], read_csv(["id,prediction", *swapped]))
    assert checked["id"].to_pylist() == gold["id"].to_pylist()


def test_classification_predictions_come_back_as_label_names():
    gold_ids = pa.array(["1", "2", "3", "4"])
    checked = check_predictions(
        SPEC, gold_ids, read_csv(["id,prediction", "1,positive", "2,0", "3, neutral", "4,2"])
    )
    prediction = checked["prediction"]
    assert pa.types.is_dictionary(prediction.type)
    assert prediction.to_pylist() == ["positive", "negative", "neutral", "positive"]


def test_dictionary_encoded_predictions_from_parquet_are_read_as_their_values():
    table = pa.table(
        {
            "id": ["2", "1"],
            "prediction": pa.array(["neutral", "positive"]).dictionary_encode(),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    read = read_prediction_file(io.BytesIO(sink.getvalue()), "p.parquet")
    checked = check_predictions(SPEC, pa.array(["1", "2"]), read)
    assert checked["prediction"].to_pylist() == ["positive", "neutral"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["a", "b c"], ["a", "b c"]),
        ([" a", "b\t"], ["a", "b"]),
        (['"\u00a0a\u3000"', "b"], ["a", "b"]),
        (["é", "b"], ["é", "b"]),
    ],
)
def test_ids_lose_surrounding_whitespace_only(cells, expected):
    table = read_csv(["id,prediction", *(f"{cell},0" for cell in cells)])
    assert table["id"].to_pylist() == expected


def test_word_counts_agree_with_str_split_on_control_bytes():
    rng = np.random.default_rng(5)
    alphabet = list(" a\x00\x07\x08\x0e\x1b\x7f\t\x1fb")
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 10))) for _ in range(2000)]
    assert slices.word_counts(pa.array(texts)).tolist() == [len(t.split()) for t in texts]
