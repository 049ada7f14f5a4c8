"""Slice cells (docs/formats.md): named partitions of a split's rows into cells, computed from
the gold table's columns: values, numeric bins of a measure, regex matches, and the kinds the
automatic slices add (labels, answerability, question words, entities)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring.predictions import as_array

MISSING = "(missing)"


def slice_cells(
    spec: dict, gold: pa.Table, *, measures: dict | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per-row cell codes (int64, indices into the returned cell names) for one slice spec:
    `{name, column}` (one cell per value), `{name, column, measure, bins}` (numeric bins of
    words, chars or a numeric value) or `{name, column, pattern}` (regex match / no match).

    The automatic slices (`scoring.autoslices`) add: `kind: labels` (one cell per name of
    `labels`, in that order; integer values are indices into it), `kind: answerable`
    (answerable / unanswerable by whether the answer list is empty), `kind: question word`
    (`QUESTION_WORDS`), `kind: entities` (codes per gold *entity*, not per row: the spec carries
    `unit: entities`), the measures `first words` (words of a list's first item) and `overlap`
    (`question_overlap` of the column and the `context` column), and `missing`, the name of the
    cell of rows without a measure (default "(missing)").

    `measures`, a dict kept across the calls of one scoring, shares each (column, measure)'s
    values between slices that bin the same measure (an author's length slice and the
    automatic input length, say)."""
    column = as_array(gold[spec["column"]])
    kind = spec.get("kind")
    if kind is not None:
        if kind == "labels":
            return label_cells(column, spec["labels"])
        if kind == "answerable":
            return answerable_cells(column)
        if kind == "question word":
            return question_word_cells(column)
        if kind == "entities":
            return entity_cells(column)
        raise ValueError(f"unknown slice kind {kind!r}")
    if spec.get("pattern") is not None:
        return _pattern_cells(column, spec["pattern"])
    if spec.get("bins") is not None:
        measure = spec.get("measure", "value")
        if measure == "overlap":
            values = question_overlap(column, as_array(gold[spec["context"]]))
        else:
            values = measured(gold, spec["column"], measure, measures)
        return _bin_cells(values, spec["bins"], spec.get("missing") or MISSING)
    return _value_cells(column)


def _decoded(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _is_list(type_: pa.DataType) -> bool:
    return pa.types.is_list(type_) or pa.types.is_large_list(type_)


def label_cells(column: pa.Array, labels: Sequence) -> tuple[np.ndarray, list[str]]:
    """One cell per label name, in the task's order (integer values are indices into `labels`);
    values outside the list get cells of their own after them (sorted), missing values last."""
    labels = [str(label) for label in labels]
    column = _decoded(column)
    label_array = pa.array(labels, pa.string())
    if pa.types.is_integer(column.type):
        index = pc.fill_null(column, -1)
        inside = pc.and_(pc.greater_equal(index, 0), pc.less(index, len(labels)))
        named = pc.take(label_array, pc.if_else(inside, index, 0))
        text = pc.if_else(pc.and_(inside, pc.is_valid(column)), named, pc.cast(column, pa.string()))
    else:
        text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    codes = pc.index_in(text, value_set=label_array)
    names = list(labels)
    if codes.null_count:
        extra = pc.unique(text.filter(pc.and_(pc.is_null(codes), pc.is_valid(text))))
        names += sorted(str(value) for value in extra.to_pylist())
        if text.null_count:
            names.append(MISSING)
        codes = pc.index_in(pc.fill_null(text, MISSING), value_set=pa.array(names, pa.string()))
    return np.asarray(codes, dtype=np.int64), names


ANSWERABLE = ["answerable", "unanswerable"]


def answerable_cells(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Answerable (a nonempty answer list, or a text) or unanswerable (an empty or missing list),
    as the SQuAD scorer decides."""
    column = _decoded(column)
    if _is_list(column.type):
        has = np.asarray(pc.fill_null(pc.greater(pc.list_value_length(column), 0), False))
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        has = np.asarray(pc.is_valid(column))
    else:
        raise ValueError("an answerable slice needs a column of answer lists or texts")
    return np.where(has, 0, 1).astype(np.int64), list(ANSWERABLE)


QUESTION_WORDS = ["what", "who", "when", "where", "why", "how", "which", "other"]
_QUESTION_WORD = r"\b(?P<w>what|whom|whose|who|when|where|why|how|which)\b"


_QUESTION_WORD_FIRST = "^" + _QUESTION_WORD.removeprefix(r"\b")


def question_word_cells(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """The first wh-word of each question (case-insensitive, whole words; whom and whose count
    as who), or "other". Most questions open with theirs: an anchored match finds those, and
    only the rest are searched through."""
    text = pc.utf8_lower(pc.fill_null(_texts(_decoded(column)), ""))
    codes = _question_word_codes(pc.extract_regex(text, _QUESTION_WORD_FIRST))
    rest = np.flatnonzero(codes == len(QUESTION_WORDS) - 1)
    if len(rest):
        later = pc.extract_regex(pc.take(text, pa.array(rest)), _QUESTION_WORD)
        codes[rest] = _question_word_codes(later)
    return codes, list(QUESTION_WORDS)


def _question_word_codes(found: pa.StructArray) -> np.ndarray:
    words = pc.if_else(found.is_valid(), pc.struct_field(found, "w"), "other")
    words = pc.replace_substring_regex(words, "^who(m|se)$", "who")
    codes = pc.index_in(words, value_set=pa.array(QUESTION_WORDS))
    return np.asarray(pc.fill_null(codes, len(QUESTION_WORDS) - 1), dtype=np.int64).copy()


_PUNCTUATION = r"[\p{P}\p{S}]+"
# The same characters among ASCII ones (string.punctuation), for the ASCII fast path.
_ASCII_PUNCTUATION = r"[!-/:-@\[-`{-~]+"


def _word_types(column: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Every word of every text (lowercased, punctuation and symbols removed, split on
    whitespace) and the row it comes from. Pure-ASCII columns take pyarrow's ASCII kernels,
    about twice as fast and the same on such text."""
    text = as_array(pc.fill_null(_texts(_decoded(column)), ""))
    data = text.buffers()[2]
    ascii_only = data is None or not (np.frombuffer(data, np.uint8) >= 128).any()
    if ascii_only and pa.types.is_string(text.type):
        return _ascii_words_blocked(text)
    if ascii_only:
        text = pc.replace_substring_regex(pc.ascii_lower(text), _ASCII_PUNCTUATION, "")
        words = pc.ascii_split_whitespace(text)
    else:
        text = pc.replace_substring_regex(pc.utf8_lower(text), _PUNCTUATION, "")
        words = pc.utf8_split_whitespace(text)
    flat = pc.list_flatten(words)
    rows = np.asarray(pc.list_parent_indices(words), dtype=np.int64)
    keep = pc.greater(pc.utf8_length(flat), 0)  # splitting yields "" at the ends
    return flat.filter(keep), rows[np.asarray(keep, dtype=bool)]


def _ascii_punctuation(raw: np.ndarray) -> np.ndarray:
    """Which bytes are ASCII punctuation (string.punctuation, as _ASCII_PUNCTUATION): ranges
    compared, many times faster than a table lookup per byte."""
    return (
        ((raw >= 33) & (raw <= 47))
        | ((raw >= 58) & (raw <= 64))
        | ((raw >= 91) & (raw <= 96))
        | ((raw >= 123) & (raw <= 126))
    )


def _ascii_space(raw: np.ndarray) -> np.ndarray:
    """Which bytes are the ASCII whitespace pyarrow's ASCII kernels split on."""
    return (raw == 32) | ((raw >= 9) & (raw <= 13))


def _ascii_words_blocked(text: pa.StringArray) -> tuple[pa.Array, np.ndarray]:
    """`_ascii_words` a block of rows (about 512 kB of text) at a time: each pass's
    temporaries stay small and are reused, where whole-column ones would be fresh memory
    (page faults) on every call."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], np.int32, count=n + 1, offset=text.offset * 4)
    words, rows, row = [], [], 0
    while row < n:
        end = int(np.searchsorted(offsets, offsets[row] + _BLOCK_BYTES, side="right")) - 1
        end = min(max(end, row + 1), n)
        block_words, block_rows = _ascii_words(text.slice(row, end - row))
        words.append(block_words)
        rows.append(block_rows + row)
        row = end
    if not words:
        return pa.array([], pa.string()), np.zeros(0, dtype=np.int64)
    return pa.concat_arrays(words), np.concatenate(rows)


def _ascii_words(text: pa.StringArray) -> tuple[pa.Array, np.ndarray]:
    """`_word_types` of an ASCII string column, on its bytes: punctuation bytes dropped (the
    offsets moved by how many were dropped before each); a word starts where a non-space byte
    follows a space or opens its text and ends before a space or where its text ends; the
    non-space bytes, lowercased, are then the words end to end, at offsets summed from their
    lengths. A few passes over the bytes instead of a regex replacement and a split into
    lists (about half the time)."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], np.int32, count=n + 1, offset=text.offset * 4)
    offsets = offsets.astype(np.int64)
    data = text.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    raw, offsets = raw[offsets[0] : offsets[-1]], offsets - offsets[0]
    punctuation = _ascii_punctuation(raw)
    dropped = np.flatnonzero(punctuation)
    if len(dropped):
        raw = np.compress(~punctuation, raw)
        offsets = offsets - np.searchsorted(dropped, offsets)
    space = _ascii_space(raw)
    word = ~space
    nonempty = offsets[:-1] < offsets[1:]
    starts = word.copy()
    starts[1:] &= space[:-1]
    opens = offsets[:-1][nonempty]
    starts[opens] = word[opens]
    ends = word.copy()
    ends[:-1] &= space[1:]
    closes = offsets[1:][nonempty] - 1
    ends[closes] = word[closes]
    first = np.flatnonzero(starts)
    lengths = np.flatnonzero(ends) + 1 - first
    rows = np.repeat(np.arange(n), np.diff(np.searchsorted(first, offsets)))
    letters = np.compress(word, raw)
    letters += np.uint8(32) * ((letters >= 65) & (letters <= 90))  # ASCII lowercase
    bounds = np.zeros(len(first) + 1, dtype=np.int32)
    np.cumsum(lengths, out=bounds[1:])
    words = pa.StringArray.from_buffers(
        len(first), pa.py_buffer(bounds), pa.py_buffer(letters.tobytes())
    )
    return words, rows


def distinct_texts(column: pa.Array) -> pa.DictionaryArray:
    """The column's texts (a missing one as "") dictionary-encoded: work per distinct text is
    done once (QA data asks several questions of one paragraph)."""
    return pc.dictionary_encode(pc.fill_null(_texts(_decoded(column)), ""))


def question_overlap(
    question: pa.Array, context: pa.Array, *, contexts: pa.DictionaryArray | None = None
) -> np.ndarray:
    """Per row, the fraction of the question's word types (lowercased, punctuation removed)
    that are words of the context; NaN for a question without words. O(words): each distinct
    context is split once (`contexts`: `distinct_texts(context)`, if the caller has it),
    words are interned against the questions' vocabulary, and (context, word) keys matched
    in a table."""
    n = len(question)
    q_words, q_rows = _word_types(question)
    if not len(q_words):
        return np.full(n, math.nan)
    encoded = pc.dictionary_encode(q_words)
    width = len(encoded.dictionary)
    contexts = distinct_texts(context) if contexts is None else contexts
    context_of_row = np.asarray(contexts.indices, dtype=np.int64)
    # (row, word type) pairs of the questions, then looked up as (row's context, word type).
    pairs = _distinct(q_rows * width + np.asarray(encoded.indices, dtype=np.int64), n * width)
    rows, types_ = np.divmod(pairs, width)
    c_words, c_rows = _word_types(contexts.dictionary)
    c_ids = np.asarray(pc.fill_null(pc.index_in(c_words, value_set=encoded.dictionary), -1))
    known = c_ids >= 0
    c_keys = c_rows[known] * width + c_ids[known]
    hit = _member(context_of_row[rows] * width + types_, c_keys, len(contexts.dictionary) * width)
    counts = np.bincount(rows, minlength=n).astype(np.float64)
    hits = np.bincount(rows, weights=hit, minlength=n)
    out = np.full(n, math.nan)
    np.divide(hits, counts, out=out, where=counts > 0)
    return out


# Largest key space `_member` marks in a table (bytes) rather than sorting both sides.
MEMBER_TABLE_MAX = 1 << 26


def _distinct(keys: np.ndarray, space: int) -> np.ndarray:
    """The distinct `keys` (in [0, space)), sorted: marked in a table of `space` flags where
    that is small, else sorted (which beats np.unique's hash)."""
    if space <= MEMBER_TABLE_MAX:
        table = np.zeros(space, dtype=bool)
        table[keys] = True
        return np.flatnonzero(table)
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def _member(keys: np.ndarray, members: np.ndarray, space: int) -> np.ndarray:
    """`np.isin(keys, members)` as float64 (1.0 or 0.0), for keys in [0, space): a table of
    `space` flags where that is small, one pass each way instead of two sorts."""
    if space > MEMBER_TABLE_MAX:
        return np.isin(keys, members).astype(np.float64)
    table = np.zeros(space, dtype=bool)
    table[members] = True
    return table[keys].astype(np.float64)


def entity_cells(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Per gold *entity* (seqeval's chunks, default mode), the code of its type; cells are the
    types found, sorted. Not a partition of rows."""
    from scoring.metrics.tagging import gold_entity_types  # keeps `evaluate` out of web imports

    column = _decoded(column)
    if not _is_list(column.type):
        raise ValueError("an entity slice needs a column of tag lists")
    types, names = gold_entity_types([tags or [] for tags in column.to_pylist()])
    present = sorted(set(names[t] for t in types.tolist()))
    lookup = np.full(max(len(names), 1), -1, dtype=np.int64)
    for i, name in enumerate(present):
        lookup[names.index(name)] = i
    return lookup[types] if len(types) else np.zeros(0, np.int64), present


def _value_cells(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        raise ValueError("a value slice needs a column of single values, not lists")
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    text = pc.fill_null(text, MISSING)
    encoded = pc.dictionary_encode(text)
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable")
    # Cells in sorted order of their value, so that every evaluation lists them alike.
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[np.asarray(encoded.indices)]
    return codes, [str(n) for n in names[order]]


def _texts(column: pa.Array) -> pa.Array:
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return pc.binary_join(pc.cast(column, pa.list_(pa.string())), " ")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


def measured(gold: pa.Table, name: str, measure: str, cache: dict | None) -> np.ndarray:
    """`_measure` of a gold column, through `cache` when one is given."""
    if cache is None:
        return _measure(as_array(gold[name]), measure)
    key = (name, measure)
    if key not in cache:
        cache[key] = _measure(as_array(gold[name]), measure)
    return cache[key]


def _measure(column: pa.Array, measure: str) -> np.ndarray:
    if measure == "first words":
        # Words of a list's first item (a text counts as its own first item); none: missing.
        if _is_list(column.type):
            lengths = np.asarray(pc.fill_null(pc.list_value_length(column), 0), dtype=np.int64)
            starts = np.cumsum(lengths) - lengths
            firsts = pc.take(pc.list_flatten(column), pa.array(starts[lengths > 0]))
            counts = np.full(len(column), math.nan)
            counts[lengths > 0] = word_counts(pc.fill_null(_texts(firsts), ""))
            return counts
        counts = word_counts(pc.fill_null(_texts(column), ""))
        return np.where(np.asarray(pc.is_valid(column), dtype=bool), counts, math.nan)
    if measure == "words":
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            # Token lists: one word per token; a missing list has none.
            lengths = pc.fill_null(pc.list_value_length(column), 0)
        else:
            return word_counts(pc.fill_null(_texts(column), ""))
    elif measure == "chars":
        lengths = pc.utf8_length(pc.fill_null(_texts(column), ""))
    elif measure == "value":
        lengths = pc.cast(column, pa.float64())
    else:
        raise ValueError(f"unknown measure {measure!r} (words, chars or value)")
    return np.asarray(pc.fill_null(pc.cast(lengths, pa.float64()), math.nan), dtype=np.float64)


# The ASCII bytes that Python's str.split() splits on.
_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True


def word_counts(text: pa.Array) -> np.ndarray:
    """Whitespace-separated words per string, as `len(str.split())` counts them.

    Splitting a million texts into lists costs over a second; counting word starts on the raw
    UTF-8 bytes costs a fraction of that. Rows with non-ASCII bytes (which may hold Unicode
    spaces) or control bytes are counted by Python after all. (pyarrow's utf8_split_whitespace
    is no substitute: it yields empty strings at leading and trailing whitespace.)"""
    text = as_array(pc.cast(text, pa.string()))
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32, count=n + 1, offset=text.offset * 4)
    data = text.buffers()[2]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    counts = np.zeros(n, dtype=np.int64)
    odd = np.zeros(n, dtype=bool)
    # Blocks of rows holding about 512 kB of text: small temporaries stay in cache and are reused
    # by the allocator, where whole-column temporaries would be fresh memory (page faults) on
    # every call.
    row = 0
    while row < n:
        end = int(np.searchsorted(offsets, offsets[row] + _BLOCK_BYTES, side="right")) - 1
        end = min(max(end, row + 1), n)
        counts[row:end], odd[row:end] = _ascii_word_counts(raw, offsets[row : end + 1])
        row = end
    if odd.any():
        subset = text.filter(pa.array(odd)).to_pylist()
        counts[odd] = [len(item.split()) for item in subset]
    return counts.astype(np.float64)


_BLOCK_BYTES = 1 << 19


def _ascii_word_counts(raw: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(word counts, rows to recount) for the rows between `offsets`. A byte above 32 is taken
    for part of a word; rows holding any byte that this misjudges (a control byte that is not
    whitespace, or a non-ASCII byte) are flagged for Python to count."""
    rows = len(offsets) - 1
    chunk = raw[offsets[0] : offsets[-1]]
    bounds = offsets - offsets[0]
    if len(chunk) == 0:
        return np.zeros(rows, dtype=np.int64), np.zeros(rows, dtype=bool)
    word = chunk > 32
    # A word starts at a word byte that follows a space or opens its string.
    starts = np.empty(len(chunk), dtype=bool)
    starts[0] = word[0]
    np.greater(word[1:], word[:-1], out=starts[1:])
    nonempty = bounds[:-1] < bounds[1:]
    firsts = bounds[:-1][nonempty]
    starts[firsts] = word[firsts]
    # reduceat sums each string's slice; empty strings would read their neighbour, so skip them.
    # (Summing uint8 into int32 is several times faster than bool into int64.)
    counts = np.zeros(rows, dtype=np.int64)
    counts[nonempty] = np.add.reduceat(starts.view(np.uint8), firsts, dtype=np.int32)
    # Bytes below 32 as int8 are the control bytes (0-31) and, being negative, the non-ASCII ones
    # (128-255). Whitespace controls were judged right above; any other flags its row.
    outside = np.flatnonzero(chunk.view(np.int8) < 32)
    recount = np.zeros(rows, dtype=bool)
    if len(outside):
        outside = outside[~_ASCII_SPACE[chunk[outside]]]
        recount[np.searchsorted(bounds, outside, side="right") - 1] = True
    return counts, recount


def _edge(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def bin_names(bins: Sequence[float]) -> list[str]:
    """Cell names for bin edges: "(-inf,b0)", "[b0,b1)", ..., "[bk,inf)"."""
    edges = sorted(float(b) for b in bins)
    names = [f"(-inf,{_edge(edges[0])})"]
    names += [f"[{_edge(lo)},{_edge(hi)})" for lo, hi in zip(edges, edges[1:], strict=False)]
    return names + [f"[{_edge(edges[-1])},inf)"]


def _bin_cells(
    values: np.ndarray, bins: Sequence[float], missing: str = MISSING
) -> tuple[np.ndarray, list[str]]:
    edges = np.sort(np.asarray(bins, dtype=np.float64))
    # searchsorted(right) - 1 puts v in [edge_i, edge_i+1); +1 shifts "(-inf,b0)" to code 0.
    codes = np.searchsorted(edges, values, side="right").astype(np.int64, copy=False)
    names = bin_names(bins)
    absent = np.isnan(values)
    if absent.any():
        codes[absent] = len(names)
        names.append(missing)
    return codes, names


def _pattern_cells(column: pa.Array, pattern: str) -> tuple[np.ndarray, list[str]]:
    text = pc.fill_null(_texts(column), "")
    try:
        # RE2 through pyarrow: fast, and linear time whatever the pattern.
        matched = np.asarray(pc.match_substring_regex(text, pattern), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Patterns RE2 does not support (look-arounds, back-references) fall back to `re`.
        regex = re.compile(pattern)
        matched = np.fromiter(
            (regex.search(s) is not None for s in text.to_pylist()), bool, len(text)
        )
    return np.where(matched, 0, 1).astype(np.int64), ["match", "no match"]
