"""Slices (docs/formats.md): named partitions of a split's rows into cells, computed from the gold
table's input and metadata columns only, and which cells a hidden split may publish."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.linalg

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


def question_word_cells(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """The first wh-word of each question (case-insensitive, whole words; whom and whose count
    as who), or "other"."""
    text = pc.utf8_lower(pc.fill_null(_texts(_decoded(column)), ""))
    found = pc.extract_regex(text, _QUESTION_WORD)
    words = pc.if_else(found.is_valid(), pc.struct_field(found, "w"), "other")
    words = pc.replace_substring_regex(words, "^who(m|se)$", "who")
    codes = pc.index_in(words, value_set=pa.array(QUESTION_WORDS))
    return np.asarray(pc.fill_null(codes, len(QUESTION_WORDS) - 1), dtype=np.int64), list(
        QUESTION_WORDS
    )


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


def question_overlap(question: pa.Array, context: pa.Array) -> np.ndarray:
    """Per row, the fraction of the question's word types (lowercased, punctuation removed)
    that are words of the context; NaN for a question without words. O(words): each distinct
    context is split once (QA data asks several questions of one paragraph), words are
    interned against the questions' vocabulary, and (context, word) keys matched by isin."""
    n = len(question)
    q_words, q_rows = _word_types(question)
    if not len(q_words):
        return np.full(n, math.nan)
    encoded = pc.dictionary_encode(q_words)
    width = len(encoded.dictionary)
    contexts = pc.dictionary_encode(pc.fill_null(_texts(_decoded(context)), ""))
    context_of_row = np.asarray(contexts.indices, dtype=np.int64)
    # (row, word type) pairs of the questions, then looked up as (row's context, word type).
    pairs = np.sort(q_rows * width + np.asarray(encoded.indices, dtype=np.int64))
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]  # (sorting beats np.unique's hash)
    rows, types_ = np.divmod(pairs, width)
    c_words, c_rows = _word_types(contexts.dictionary)
    c_ids = np.asarray(pc.fill_null(pc.index_in(c_words, value_set=encoded.dictionary), -1))
    known = c_ids >= 0
    c_keys = c_rows[known] * width + c_ids[known]
    hit = np.isin(context_of_row[rows] * width + types_, c_keys).astype(np.float64)
    counts = np.bincount(rows, minlength=n).astype(np.float64)
    hits = np.bincount(rows, weights=hit, minlength=n)
    out = np.full(n, math.nan)
    np.divide(hits, counts, out=out, where=counts > 0)
    return out


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


@dataclass(frozen=True)
class Publication:
    """What of a hidden split's slices may be shown (docs/formats.md): every nonempty cell's
    row count per slice, and the cells that may be published. It depends on the split's rows and
    the slice specs only, never on labels or predictions, so one is computed per split and
    applies to every evaluation of it."""

    sizes: dict[str, dict[str, int]]
    shown: frozenset[tuple[str, str]]


def hidden_publication(specs: Sequence[dict], gold: pa.Table, min_size: int) -> Publication:
    """The cells of `specs` that a hidden split may publish (see `publishable`). A spec whose
    cells cannot be computed, or whose name is used twice, publishes nothing.

    Row partitions (author and automatic slices, in the order given) are checked together.
    A spec with `unit: entities` partitions the split's gold entities instead: it is checked on
    its own, by the same rule over entities (types under `min_size` entities suppressed, then
    the smallest others until the suppressed ones hold `min_size` together, else all).
    Predicted-label cells depend on predictions: they have no spec and are never published."""
    names = [spec.get("name") for spec in specs]
    computed, entity_specs = [], []
    for spec, name in zip(specs, names, strict=True):
        if not isinstance(name, str) or names.count(name) != 1:
            continue
        try:
            codes, cell_names = slice_cells(spec, gold)
        except (KeyError, IndexError, TypeError, ValueError, re.error, pa.ArrowException):
            continue
        if spec.get("unit") == "entities":
            entity_specs.append((name, codes, cell_names))
        else:
            computed.append((name, codes, cell_names))
    flags = publishable([codes for _, codes, _ in computed], min_size)
    flags += [publishable([codes], min_size)[0] for _, codes, _ in entity_specs]
    sizes, shown = {}, set()
    for (name, codes, cell_names), allowed in zip(computed + entity_specs, flags, strict=True):
        counts = np.bincount(codes, minlength=len(cell_names))
        sizes[name] = {cell: int(counts[i]) for i, cell in enumerate(cell_names) if counts[i]}
        shown |= {(name, cell_names[i]) for i in np.flatnonzero(allowed[: len(cell_names)])}
    return Publication(sizes=sizes, shown=frozenset(shown))


def publishable(partitions: Sequence[np.ndarray], min_size: int) -> list[np.ndarray]:
    """Which cells of several slices of one split may be published, so that no sum over fewer
    than `min_size` rows follows from the published cells and the whole split by adding and
    subtracting (docs/formats.md, "Breakdowns and leakage rules").

    `partitions` holds one array of per-row cell codes per slice, over the same rows. Returns,
    per slice, a bool per cell code (`bincount` length): True where the cell may be shown.

    Slices are added in their order, each to what the slices before it publish: its cells under
    `min_size` rows are suppressed; then, while `_isolable_atoms` cannot rule out a small
    combination, one more of its cells that holds a row it blames (or, when the slice's
    suppressed rest holds that row, its smallest published cell, which enlarges the rest): the
    smallest whose suppression settles the matter, else the smallest. Last, its cells
    suppressed on the way that later suppressions made unnecessary are shown again, largest
    first. So a slice gives way to those before it, and the outcome depends on the partitions
    and their order alone."""
    sizes = [np.bincount(codes) if len(codes) else np.zeros(0, np.int64) for codes in partitions]
    if min_size <= 1:
        return [counts > 0 for counts in sizes]
    shown = [np.zeros(len(counts), dtype=bool) for counts in sizes]
    if not partitions or not len(partitions[0]):
        return shown
    fine = _atoms(np.stack(partitions, axis=1))
    for current, counts in enumerate(sizes):
        shown[current] = counts >= min_size
        withdrawn = []
        while candidates := _candidates(fine, shown, sizes, min_size, current):
            choice = candidates[0]
            for candidate in candidates:
                shown[current][candidate[1]] = False
                settled = not _candidates(fine, shown, sizes, min_size, current)
                shown[current][candidate[1]] = True
                if settled:
                    choice = candidate
                    break
            shown[current][choice[1]] = False
            withdrawn.append(choice)
        for _, cell in sorted(withdrawn, reverse=True):
            shown[current][cell] = True
            if _candidates(fine, shown, sizes, min_size, current):
                shown[current][cell] = False
    return shown


def _candidates(
    fine: tuple[np.ndarray, np.ndarray],
    shown: list[np.ndarray],
    sizes: list[np.ndarray],
    min_size: int,
    current: int,
) -> list[tuple[int, int]]:
    """(size, cell) of the published cells of slice `current` whose suppression may help
    against the atoms `_isolable_atoms` blames, smallest first; empty when it blames none."""
    fine_codes, fine_sizes = fine
    blocks = np.stack(
        [
            np.where(allowed[column], column, len(allowed))
            for allowed, column in zip(shown, fine_codes.T, strict=True)
        ],
        axis=1,
    )
    atoms, atom_sizes = _atoms(blocks, fine_sizes)
    # Blocks numbered densely per slice, so that a withheld slice counts as one block.
    dense = np.stack([_renumbered(column) for column in atoms.T], axis=1)
    widths = [int(column.max()) + 1 for column in dense.T]
    blamed = _isolable_atoms(dense, atom_sizes, widths, min_size)
    if not len(blamed):
        return []
    allowed = shown[current]
    cells = set(atoms[blamed, current][atoms[blamed, current] < len(allowed)].tolist())
    if (atoms[blamed, current] == len(allowed)).any() and allowed.any():
        # A blamed row in the suppressed rest: the smallest published cell enlarges the rest.
        cells.add(min(np.flatnonzero(allowed), key=lambda c: (sizes[current][c], c)))
    return sorted((int(sizes[current][c]), int(c)) for c in cells)


def _atoms(codes: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a (rows x slices) code matrix and how many rows (or how much weight)
    each stands for."""
    widths = [int(column.max()) + 1 for column in codes.T]
    if math.prod(widths) <= _DIRECT_KEYS:
        key = np.ravel_multi_index(tuple(codes.T), widths)
        counts = np.bincount(key, weights=weights, minlength=math.prod(widths))
        present = np.flatnonzero(counts)
        return np.stack(np.unravel_index(present, widths), axis=1), counts[present].astype(np.int64)
    key = np.zeros(len(codes), dtype=np.int64)
    span = 1
    for column, width in zip(codes.T, widths, strict=True):
        if span * width > _KEY_LIMIT:
            # Renumbered densely (in the same order) only when the mixed-radix key could overflow.
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1)
            span = int(key.max()) + 1
        key = key * width + column
        span *= width
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(first))
    return codes[first], counts.astype(np.int64)


_DIRECT_KEYS = 1 << 22
_KEY_LIMIT = 1 << 62


def _renumbered(column: np.ndarray) -> np.ndarray:
    """Nonnegative codes renumbered 0, 1, ... in their order, without gaps."""
    present = np.bincount(column) > 0
    return (np.cumsum(present) - 1)[column]


def _isolable_atoms(
    atoms: np.ndarray, sizes: np.ndarray, widths: list[int], min_size: int
) -> np.ndarray:
    """Indices of atoms that some combination of published sums over fewer than `min_size`
    rows may reach; empty when no such combination exists.

    An atom is a set of rows that lie in the same block of every slice (a block: a published
    cell, or a slice's suppressed cells together, known as the whole split minus its published
    cells). Row `a` of the incidence of atoms in blocks is `r_a`; a combination of published
    sums with block coefficients `x` gives every row of atom `a` the weight `r_a . x`. Weights
    that vanish on every row except fewer than `min_size` exist exactly when removing fewer than
    `min_size` rows lowers the rank of the incidence. Large atoms (`min_size` rows or more)
    cannot be removed so cheaply, so they are contracted: only the small atoms outside their
    span, the exposed ones, are left, as elements of the quotient by it. No removal of fewer
    than `min_size` rows lowers the rank if `min_size` disjoint bases of that quotient can be
    made of exposed rows (the removal would have to hit every one); such a packing is searched
    for greedily, preferring the atoms with the most rows left, and if none is found the atoms
    whose rows ran out are blamed. (The search may miss a packing that exists: it errs on the
    side of suppressing.)

    The slice with the most blocks is kept apart: every atom has exactly one of its blocks, so
    eliminating them leaves linear algebra over the other slices' blocks only, which stays
    small when one slice has hundreds of cells."""
    small = sizes < min_size
    if not small.any():
        return np.zeros(0, dtype=np.int64)
    wide = int(np.argmax(widths))
    rest = [s for s in range(len(widths)) if s != wide]
    offsets = np.cumsum([0, *(widths[s] for s in rest)])
    vectors = np.zeros((len(atoms), int(offsets[-1])))
    for j, s in enumerate(rest):
        vectors[np.arange(len(atoms)), offsets[j] + atoms[:, s]] = 1.0
    group = atoms[:, wide]
    # Contracting a large atom identifies its wide block with minus its other blocks; any
    # further large atom of that block then ties other blocks together (the span `ties`).
    anchor = np.full(widths[wide], -1)
    large = np.flatnonzero(~small)
    anchor[group[large[::-1]]] = large[::-1]
    ties = _orthonormal_rows(vectors[large] - vectors[anchor[group[large]]])

    def reduced(rows: np.ndarray) -> np.ndarray:
        return rows - (rows @ ties) @ ties.T if ties.shape[1] else rows

    members = np.flatnonzero(small)
    free = anchor[group[members]] < 0  # wide block without a large atom: a basis element of its own
    tied = np.zeros((len(members), vectors.shape[1]))
    tied[~free] = reduced(vectors[members[~free]] - vectors[anchor[group[members[~free]]]])
    exposed = free | (np.abs(tied).max(axis=1, initial=0.0) > _TOLERANCE)
    if not exposed.any():
        return np.zeros(0, dtype=np.int64)
    members, free, tied = members[exposed], free[exposed], tied[exposed]
    blocks = group[members]
    # Within a free wide block, differences of atoms are what remains once the block's first
    # atom is a basis element; they span the same space whichever atom comes first.
    free_rows = np.flatnonzero(free)
    free_blocks, first = np.unique(blocks[free_rows], return_index=True)
    starts = free_rows[first][np.searchsorted(free_blocks, blocks[free_rows])]
    tied[free_rows] = reduced(vectors[members[free_rows]] - vectors[members[starts]])
    rank, span = _row_span(tied)
    # Every row is a difference of two atoms' incidence (less its part in `ties`, which is
    # orthogonal to `span`), so its coordinates in `span` are differences of theirs.
    coordinates = vectors @ span
    references = np.where(free, 0, anchor[group[members]])
    left = sizes[members].copy()
    lead_rows = np.zeros(len(members), dtype=np.int64)
    is_lead = np.zeros(len(members), dtype=bool)

    def differences(rows: np.ndarray) -> np.ndarray:
        # Rows of `tied`, but free atoms counted by their difference from their block's lead.
        out = tied[rows]
        on = free[rows]
        if on.any():
            rows = rows[on]
            out[on] = reduced(vectors[members[rows]] - vectors[members[lead_rows[rows]]])
        return out

    needed = min_size
    while needed > 0:
        order = np.argsort(-left, kind="stable")
        order = order[left[order] > 0]
        # The first atom of each free block in this order leads it; the rest count by their
        # difference from it.
        ordered_free = order[free[order]]
        lead_blocks, first = np.unique(blocks[ordered_free], return_index=True)
        if len(lead_blocks) < len(free_blocks):
            return _ran_out(members, left)
        leads = ordered_free[np.sort(first)]
        lead_rows[free_rows] = ordered_free[first][np.searchsorted(lead_blocks, blocks[free_rows])]
        is_lead[:] = False
        is_lead[leads] = True
        candidates = order[~is_lead[order]]
        references[free_rows] = members[lead_rows[free_rows]]

        def project(rows: np.ndarray) -> np.ndarray:
            return coordinates[members[rows]] - coordinates[references[rows]]

        chosen = _greedy_basis(differences, candidates, rank, (span, project))
        if chosen is None:
            return _ran_out(members, left)
        basis = np.concatenate([leads, chosen])
        outside = np.delete(left, basis)
        # Use this basis until its scarcest atom is no richer than the best atom outside it,
        # so that the packing stays balanced.
        uses = max(1, int(left[basis].min()) - int(outside.max(initial=0)))
        uses = min(uses, needed)
        left[basis] -= uses
        needed -= uses
    return np.zeros(0, dtype=np.int64)


_TOLERANCE = 1e-8


def _ran_out(members: np.ndarray, left: np.ndarray) -> np.ndarray:
    # Should rounding ever fail a basis with no atom used up, blame them all: never none.
    return members[left == 0] if (left == 0).any() else members


def _orthonormal_rows(rows: np.ndarray) -> np.ndarray:
    """An orthonormal basis (columns) of the span of `rows`."""
    if not len(rows) or not rows.shape[1]:
        return np.zeros((rows.shape[1], 0))
    _, singular, vt = np.linalg.svd(rows, full_matrices=False)
    return vt[singular > _TOLERANCE * max(1.0, singular.max(initial=0.0))].T


def _row_span(rows: np.ndarray) -> tuple[int, np.ndarray]:
    """The rank of `rows` (singular values over `_TOLERANCE`, as `np.linalg.matrix_rank`) and
    an orthonormal basis (columns) of their span.

    Many rows and few columns: the Gram matrix's eigenvectors split the columns' space into
    directions the rows clearly have and the rest, whose share of the rows is then measured
    exactly (singular values of the rows projected onto them), so that no direction the rows
    have beyond the tolerance is lost to the Gram matrix's rounding."""
    if not len(rows) or not rows.shape[1]:
        return 0, np.zeros((rows.shape[1], 0))
    if len(rows) <= 4 * rows.shape[1]:
        _, singular, vt = np.linalg.svd(rows, full_matrices=False)
        clear = singular > _TOLERANCE
        return int(clear.sum()), vt[clear].T
    values, vectors = np.linalg.eigh(rows.T @ rows)
    clear = values > _GRAM_CLEAR * max(values.max(initial=0.0), 1.0)
    rest = vectors[:, ~clear]
    basis = vectors[:, clear]
    if rest.shape[1]:
        # What the rows have in the rest is small next to the clear part, so its own Gram
        # matrix resolves it to well within the tolerance.
        projected = rows @ rest
        values, inner = np.linalg.eigh(projected.T @ projected)
        basis = np.hstack([basis, rest @ inner[:, values > _TOLERANCE**2]])
    return basis.shape[1], basis


_GRAM_CLEAR = 1e-9  # relative eigenvalue above which a direction is far beyond rounding


def _greedy_basis(vectors, order: np.ndarray, rank: int, span=None) -> np.ndarray | None:
    """`rank` independent rows of `vectors` taken in `order`, a block at a time (pivoted QR
    picks within a block), or None if those rows do not span that many dimensions.

    `vectors` is an array or a function giving the rows of given indices. With `span`, an
    orthonormal basis (columns) of a space holding all the rows and a function giving rows'
    coordinates in it, blocks whose rows all lie in the span of those taken so far are skipped
    without a QR: they would add none. The rows ahead are checked against what of `span` is
    left uncovered, a window at a time (doubling while nothing is found), so that a long walk
    over dependent rows costs few products."""
    rows = vectors if callable(vectors) else vectors.__getitem__
    basis: list[int] = []
    q = np.zeros((span[0].shape[0] if span is not None else vectors.shape[1], 0))
    uncovered = np.eye(span[0].shape[1]) if span is not None else None  # coordinates
    pending = np.zeros(0, dtype=np.int64)  # positions ahead whose rows may add (if stale: did)
    stale = False
    scanned, window = 0, _BLOCK
    start = 0
    while len(basis) < rank and start < len(order):
        if uncovered is not None:
            project = span[1]
            pending = pending[pending >= start]
            if stale and len(pending):
                pending = pending[_outside(project(order[pending]), uncovered)]
            stale = False
            while not len(pending) and scanned < len(order):
                low = max(scanned, start)
                high = min(len(order), low + window)
                ahead = np.arange(low, high)
                pending = ahead[_outside(project(order[ahead]), uncovered)]
                scanned = high
                window = _BLOCK if len(pending) else min(2 * window, _WINDOW)
            if not len(pending):
                break
            start += (int(pending[0]) - start) // _BLOCK * _BLOCK
        chosen = order[start : start + _BLOCK]
        block = rows(chosen).T
        residual = block - q @ (q.T @ block)
        r_q, r_r, pivots = scipy.linalg.qr(
            residual, mode="economic", pivoting=True, check_finite=False
        )
        found = min(int((np.abs(np.diag(r_r)) > _TOLERANCE).sum()), rank - len(basis))
        basis += chosen[pivots[:found]].tolist()
        if found:
            q = np.hstack([q, r_q[:, :found]])
            if uncovered is not None:
                uncovered = _uncovered(uncovered, span[0].T @ r_q[:, :found])
                stale = True
        start += _BLOCK
    return np.asarray(basis, dtype=np.int64) if len(basis) == rank else None


_BLOCK = 64
_WINDOW = 1 << 14


def _outside(coordinates: np.ndarray, uncovered: np.ndarray) -> np.ndarray:
    """Whether each row (its coordinates) has a part in the space `uncovered` (orthonormal
    columns) that a block's pivoted QR could count: far below `_TOLERANCE` is taken as none."""
    if not uncovered.shape[1]:
        return np.zeros(len(coordinates), dtype=bool)
    return np.linalg.norm(coordinates @ uncovered, axis=1) > _TOLERANCE / 16


def _uncovered(uncovered: np.ndarray, added: np.ndarray) -> np.ndarray:
    """An orthonormal basis (columns) of the part of span(`uncovered`) (orthonormal columns)
    orthogonal to the orthonormal columns `added`, which lie in it (near enough: the result
    only decides which rows are worth a QR)."""
    inside = uncovered.T @ added
    if inside.shape[1] >= inside.shape[0]:
        return uncovered[:, :0]
    basis, _ = np.linalg.qr(inside, mode="complete")
    return uncovered @ basis[:, inside.shape[1] :]


def suppress_hidden_cells(cells: list[dict], publication: Publication) -> list[dict]:
    """Stored cells of a hidden split's evaluation as they may be shown: a cell is published when
    `publication` allows it and its slice was scored with the cells it has now (every nonempty
    cell's row count as recomputed), so that cells of a slice since removed or changed are never
    shown. Cells by predicted label (`by_prediction`) have no spec, so they are never shown.
    Returns new dicts: suppressed cells get `n` and `metrics` None; every cell gets
    `suppressed`."""
    stored: dict[str, dict[str, int]] = {}
    clashes = set()
    for cell in cells:
        if cell.get("n"):
            sizes = stored.setdefault(cell["slice"], {})
            if cell["cell"] in sizes:
                clashes.add(cell["slice"])
            sizes[cell["cell"]] = cell["n"]
    current = {
        name
        for name, sizes in stored.items()
        if name not in clashes and publication.sizes.get(name) == sizes
    }
    out = []
    for cell in cells:
        key = (cell["slice"], cell["cell"])
        shown = cell["slice"] in current and key in publication.shown
        if cell.get("n") and shown and not cell.get("by_prediction"):
            out.append({**cell, "suppressed": False})
        else:
            out.append({**cell, "n": None, "metrics": None, "suppressed": True})
    return out
