"""Slice cells and the suppression of small cells (docs/formats.md)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from scoring import slices
from scoring.slices import (
    bin_names,
    hidden_publication,
    publishable,
    slice_cells,
    suppress_hidden_cells,
)

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


def partition(*sizes):
    """Per-row cell codes: the first `sizes[0]` rows in cell 0, and so on."""
    return np.repeat(np.arange(len(sizes)), sizes)


def suppressed(*sizes, min_size=20):
    """Indices of the cells of a lone slice that a hidden split may not show."""
    (shown,) = publishable([partition(*sizes)], min_size)
    return np.flatnonzero(~shown).tolist()


def test_large_cells_are_left_alone():
    assert suppressed(20, 30) == []


def test_a_small_cell_takes_the_next_smallest_with_it():
    # 5 rows could be recovered from the overall score minus the others: 25 more go with them.
    assert suppressed(100, 5, 30, 25) == [1, 3]


def test_small_cells_that_together_reach_the_minimum_suffice():
    assert suppressed(100, 12, 9) == [1, 2]


def test_a_slice_may_be_withheld_entirely():
    assert suppressed(10, 5) == [0, 1]


def test_a_slice_over_unrelated_rows_is_not_dragged_along():
    withheld = partition(100, 3)
    other = np.tile([0, 1], 52)[:103]
    shown = publishable([withheld, other], 20)
    assert [s.tolist() for s in shown] == [[False, False], [True, True]]


@pytest.mark.parametrize("min_size", [1, 0])
def test_a_minimum_of_one_suppresses_nothing(min_size):
    assert suppressed(1, 2, min_size=min_size) == []


def cell(slice_name, name, n, accuracy=0.5):
    return {"slice": slice_name, "cell": name, "n": n, "metrics": {"accuracy": {"value": accuracy}}}


TOPICS = pa.table({"topic": ["a"] * 30 + ["b"] * 25 + ["c"] * 5, "score": [1.0] * 60})


def shown_cells(stored, specs, min_size=20):
    publication = hidden_publication(specs, TOPICS, min_size)
    return [
        (c["slice"], c["cell"])
        for c in suppress_hidden_cells(stored, publication)
        if not c["suppressed"]
    ]


def test_stored_cells_are_shown_as_the_publication_allows():
    specs = [{"name": "topic", "column": "topic"}]
    stored = [cell("topic", "a", 30), cell("topic", "b", 25), cell("topic", "c", 5)]
    out = suppress_hidden_cells(stored, hidden_publication(specs, TOPICS, 20))
    assert [c["suppressed"] for c in out] == [False, True, True]
    assert out[1] == {**stored[1], "n": None, "metrics": None, "suppressed": True}
    assert out[0] == {**stored[0], "suppressed": False}


def test_cells_of_a_slice_no_longer_specified_are_suppressed():
    stored = [cell("old", "x", 30), cell("old", "y", 30)]
    assert shown_cells(stored, [{"name": "topic", "column": "topic"}]) == []


def test_a_slice_scored_with_other_cells_is_suppressed_entirely():
    # Same name, but the cells (and so the rows) differ from what the current spec gives.
    specs = [{"name": "topic", "column": "topic"}]
    stored = [cell("topic", "a", 30), cell("topic", "b", 30)]
    assert shown_cells(stored, specs) == []


def test_a_spec_that_cannot_be_computed_or_is_named_twice_shows_nothing():
    stored = [cell("topic", "a", 30), cell("topic", "b", 25), cell("topic", "c", 5)]
    assert shown_cells(stored, [{"name": "topic", "column": "nope"}]) == []
    twice = [{"name": "topic", "column": "topic"}, {"name": "topic", "column": "score"}]
    assert shown_cells(stored, twice) == []


@pytest.mark.parametrize("block_bytes", [3, 1 << 20])
def test_word_counts_agree_with_str_split(monkeypatch, block_bytes):
    monkeypatch.setattr(slices.cells, "_BLOCK_BYTES", block_bytes)
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
