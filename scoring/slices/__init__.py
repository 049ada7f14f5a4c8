"""Slices (docs/formats.md): named partitions of a split's rows into cells (`cells`), and which
cells a hidden split may publish (`publication`)."""

from scoring.slices.cells import (
    ANSWERABLE,
    MISSING,
    QUESTION_WORDS,
    _bin_cells,
    answerable_cells,
    bin_names,
    distinct_texts,
    entity_cells,
    label_cells,
    measured,
    question_overlap,
    question_word_cells,
    slice_cells,
    word_counts,
)
from scoring.slices.publication import (
    Publication,
    _atoms,
    _greedy_basis,
    _row_span,
    hidden_publication,
    publishable,
    suppress_hidden_cells,
)

__all__ = [
    "ANSWERABLE", "MISSING", "QUESTION_WORDS", "Publication", "_atoms", "_bin_cells",
    "_greedy_basis", "_row_span", "answerable_cells", "bin_names", "distinct_texts",
    "entity_cells", "hidden_publication", "label_cells", "measured", "publishable",
    "question_overlap", "question_word_cells", "slice_cells", "suppress_hidden_cells",
    "word_counts",
]  # fmt: skip
