"""Slices (docs/formats.md): named partitions of a split's rows into cells, computed from the gold
table's input and metadata columns only, and the suppression of small cells on hidden splits."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring.predictions import as_array

MISSING = "(missing)"


def slice_cells(spec: dict, gold: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Per-row cell codes (int64, indices into the returned cell names) for one slice spec:
    `{name, column}` (one cell per value), `{name, column, measure, bins}` (numeric bins of
    words, chars or a numeric value) or `{name, column, pattern}` (regex match / no match)."""
    column = as_array(gold[spec["column"]])
    if spec.get("pattern") is not None:
        return _pattern_cells(column, spec["pattern"])
    if spec.get("bins") is not None:
        return _bin_cells(_measure(column, spec.get("measure", "value")), spec["bins"])
    return _value_cells(column)


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


def _measure(column: pa.Array, measure: str) -> np.ndarray:
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


def _bin_cells(values: np.ndarray, bins: Sequence[float]) -> tuple[np.ndarray, list[str]]:
    edges = np.sort(np.asarray(bins, dtype=np.float64))
    # searchsorted(right) - 1 puts v in [edge_i, edge_i+1); +1 shifts "(-inf,b0)" to code 0.
    codes = np.searchsorted(edges, values, side="right").astype(np.int64, copy=False)
    names = bin_names(bins)
    missing = np.isnan(values)
    if missing.any():
        codes[missing] = len(names)
        names.append(MISSING)
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


def suppress_hidden_cells(slices: list[dict], min_size: int) -> list[dict]:
    """Suppression for hidden splits (docs/formats.md). Within each slice, cells under
    `min_size` rows are suppressed; then, so that they cannot be recovered by subtraction from
    the overall score, further cells are suppressed smallest first until the suppressed cells
    hold at least `min_size` rows together (or the whole slice is suppressed). Returns new
    dicts: suppressed cells get `n` and `metrics` None; every cell gets `suppressed`."""
    by_slice: dict[str, list[int]] = {}
    for index, cell in enumerate(slices):
        by_slice.setdefault(cell["slice"], []).append(index)
    hidden: set[int] = set()
    for indices in by_slice.values():
        # Smallest first; ties broken by position so the outcome is deterministic.
        ordered = sorted(indices, key=lambda i: (slices[i]["n"] or 0, i))
        small = [i for i in ordered if (slices[i]["n"] or 0) < min_size]
        if not small:
            continue
        chosen = set(small)
        total = sum(slices[i]["n"] or 0 for i in chosen)
        for i in ordered:
            if total >= min_size:
                break
            if i not in chosen:
                chosen.add(i)
                total += slices[i]["n"] or 0
        hidden |= chosen
    out = []
    for index, cell in enumerate(slices):
        if index in hidden:
            out.append({**cell, "n": None, "metrics": None, "suppressed": True})
        else:
            out.append({**cell, "suppressed": False})
    return out
