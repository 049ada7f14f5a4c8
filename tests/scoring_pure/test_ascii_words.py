"""The byte-level word splitter of the question-context overlap (`cells._ascii_words`, a
block of rows at a time) gives
exactly what pyarrow's ASCII kernels give (lowercase, drop string.punctuation, split on ASCII
whitespace, no empty words), on any ASCII text, sliced arrays included."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.slices import cells


def kernels(text: pa.Array) -> tuple[list[str], list[int]]:
    lowered = pc.replace_substring_regex(pc.ascii_lower(text), cells._ASCII_PUNCTUATION, "")
    words = pc.ascii_split_whitespace(lowered)
    flat = pc.list_flatten(words)
    rows = np.asarray(pc.list_parent_indices(words), dtype=np.int64)
    keep = np.asarray(pc.greater(pc.utf8_length(flat), 0), dtype=bool)
    return flat.filter(pa.array(keep)).to_pylist(), rows[keep].tolist()


# Letters of both cases, digits, punctuation, every ASCII whitespace and control bytes that
# are not whitespace to pyarrow.
ALPHABET = st.sampled_from(list("aZbQxyz09_-?!.,'\"~{ \t\n\x0b\x0c\r\x1c\x01"))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.text(ALPHABET, max_size=12), max_size=8),
    st.integers(0, 3),
    st.sampled_from([1, 7, 1 << 19]),
)
def test_the_same_words_and_rows_as_the_kernels(texts, cut, block):
    column = pa.array(texts, pa.string())
    column = column.slice(min(cut, len(column)))
    original = cells._BLOCK_BYTES
    cells._BLOCK_BYTES = block  # blocks of a row or a few as well as one for everything
    try:
        words, rows = cells._ascii_words_blocked(column)
    finally:
        cells._BLOCK_BYTES = original
    assert (words.to_pylist(), rows.tolist()) == kernels(column)


def test_overlap_of_texts_ending_where_the_next_begins():
    question = pa.array(["Who?", "", "  A-B  c ", "the cat"])
    context = pa.array(["who", "x", "ab c", "The  Cat sat"])
    values = cells.question_overlap(question, context)
    assert values[0] == 1.0 and np.isnan(values[1]) and values[2] == 1.0 and values[3] == 1.0


def searched(column: pa.Array) -> list[int]:
    """The question word by one search of each whole question (the regex alone)."""
    text = pc.utf8_lower(pc.fill_null(column, ""))
    found = pc.extract_regex(text, cells._QUESTION_WORD)
    words = pc.if_else(found.is_valid(), pc.struct_field(found, "w"), "other")
    words = pc.replace_substring_regex(words, "^who(m|se)$", "who")
    codes = pc.index_in(words, value_set=pa.array(cells.QUESTION_WORDS))
    return pc.fill_null(codes, len(cells.QUESTION_WORDS) - 1).to_pylist()


PIECES = st.sampled_from(
    ["What", "what's", "WHO", "whom", "whose", "who-", "whoever", "When", "where", "Why",
     "how", "which", "somewhat", "In", " ", "?", ",", "'", "é", "the year", "does", "_who"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=6).map("".join), max_size=10))
def test_question_words_as_one_search_of_each_question_finds_them(questions):
    column = pa.array(questions, pa.string())
    codes, names = cells.question_word_cells(column)
    assert codes.tolist() == searched(column)
    assert names == cells.QUESTION_WORDS
