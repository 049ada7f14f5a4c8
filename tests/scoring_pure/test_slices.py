"""Slice cells and the suppression of small cells (docs/formats.md)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from scoring import slices
from scoring.slices import bin_names, slice_cells, suppress_hidden_cells

GOLD = pa.table(
    {
        "text": ["a b c", "not good", "", "one two three four five six", "never again", None],
        "topic": ["x", "y", "x", None, "y", "x"],
        "tokens": [["a"], ["b", "c"], [], ["d"] * 40, ["e"], ["f"]],
        "score": [0.5, -1.0, 3.0, 10.0, 2.0, None],
    }
)


def cells_of(spec):
    codes, names = slice_cells(spec, GOLD)
    return [names[c] for c in codes]


def test_a_column_slice_has_one_cell_per_value():
    assert cells_of({"name": "t", "column": "topic"}) == ["x", "y", "x", "(missing)", "y", "x"]


def test_word_bins():
    spec = {"name": "len", "column": "text", "measure": "words", "bins": [0, 2, 5]}
    assert cells_of(spec) == ["[2,5)", "[2,5)", "[0,2)", "[5,inf)", "[2,5)", "[0,2)"]


def test_char_bins():
    spec = {"name": "len", "column": "text", "measure": "chars", "bins": [1, 10]}
    assert cells_of(spec) == ["[1,10)", "[1,10)", "(-inf,1)", "[10,inf)", "[10,inf)", "(-inf,1)"]


def test_value_bins_add_a_below_cell_and_a_missing_cell():
    spec = {"name": "s", "column": "score", "measure": "value", "bins": [0, 2.5]}
    assert cells_of(spec) == [
        "[0,2.5)",
        "(-inf,0)",
        "[2.5,inf)",
        "[2.5,inf)",
        "[0,2.5)",
        "(missing)",
    ]


def test_word_bins_of_a_token_list_count_tokens():
    spec = {"name": "len", "column": "tokens", "measure": "words", "bins": [0, 30]}
    assert cells_of(spec) == ["[0,30)"] * 3 + ["[30,inf)"] + ["[0,30)"] * 2


def test_bin_names():
    assert bin_names([0, 10, 30]) == ["(-inf,0)", "[0,10)", "[10,30)", "[30,inf)"]


def test_pattern_slices():
    spec = {"name": "neg", "column": "text", "pattern": r"\b(not|never|no)\b"}
    assert cells_of(spec) == ["no match", "match", "no match", "no match", "match", "no match"]


def test_pattern_slices_fall_back_to_python_regexes():
    spec = {"name": "neg", "column": "text", "pattern": r"n(?=o)"}
    assert cells_of(spec)[:2] == ["no match", "match"]


def cell(name, n, slice_name="s"):
    return {"slice": slice_name, "cell": name, "n": n, "metrics": {"accuracy": {"value": 1.0}}}


def suppressed(cells, min_size=20):
    return [c["cell"] for c in suppress_hidden_cells(cells, min_size) if c["suppressed"]]


def test_large_cells_are_left_alone():
    out = suppress_hidden_cells([cell("a", 20), cell("b", 30)], 20)
    assert [c["suppressed"] for c in out] == [False, False]
    assert out[0]["n"] == 20


def test_a_small_cell_takes_the_next_smallest_with_it():
    cells = [cell("a", 100), cell("b", 5), cell("c", 30), cell("d", 25)]
    assert suppressed(cells) == ["b", "d"]
    out = suppress_hidden_cells(cells, 20)
    assert out[1] == {**cells[1], "n": None, "metrics": None, "suppressed": True}


def test_small_cells_that_together_reach_the_minimum_suffice():
    assert suppressed([cell("a", 100), cell("b", 12), cell("c", 9)]) == ["b", "c"]


def test_a_slice_may_be_withheld_entirely():
    assert suppressed([cell("a", 10), cell("b", 5)]) == ["a", "b"]


def test_slices_are_suppressed_independently():
    cells = [cell("a", 100), cell("b", 3), cell("x", 50, "t"), cell("y", 60, "t")]
    assert suppressed(cells) == ["a", "b"]


@pytest.mark.parametrize("min_size", [1, 0])
def test_a_minimum_of_one_suppresses_nothing(min_size):
    assert suppressed([cell("a", 1), cell("b", 2)], min_size) == []


@pytest.mark.parametrize("block_bytes", [3, 1 << 20])
def test_word_counts_agree_with_str_split(monkeypatch, block_bytes):
    monkeypatch.setattr(slices, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(0)
    alphabet = list(" \t\na\u00a0b\u3000c\x1c.é\x85\u2028")
    for trial in range(200):
        pool = alphabet if trial % 2 else alphabet[:5]
        texts = ["".join(rng.choice(pool, rng.integers(0, 12))) for _ in range(rng.integers(1, 30))]
        array = pa.array(texts)
        if trial % 3 == 0:
            array, texts = array.slice(1), texts[1:]
        expected = [len(t.split()) for t in texts]
        assert slices.word_counts(array).tolist() == expected
