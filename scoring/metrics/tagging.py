"""Entity-level precision/recall/F1 and token accuracy for BIO/IOB2 tagging, as `seqeval` computes
them in its default (conlleval-compatible, lenient) mode.

seqeval flattens the sentences with an "O" after each, walks the tags once and cuts chunks where
conlleval's `end_of_chunk` / `start_of_chunk` rules say so. Those rules only look at the previous
and current (prefix, type) pair, so they are evaluated here for all positions at once with numpy;
the chunk begin is the last start before the end (a running maximum). Entities are (type, begin,
end) keys; correct ones are the intersection of the reference and predicted key sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import datasets
import evaluate
import numpy as np

from scoring.intervals import Z95, Intervals, bounded, gradients
from scoring.metrics.base import SumScorer, as_float, make_info, safe_divide

VERSION = "1.0.0"
KEYS = ("overall_precision", "overall_recall", "overall_f1", "overall_accuracy")

# Prefix codes: the first character of a tag, as seqeval reads it.
_O, _B, _I, _E, _S, _DOT, _OTHER = range(7)
_PREFIX = {"O": _O, "B": _B, "I": _I, "E": _E, "S": _S, ".": _DOT}


class TagCodes:
    """Interns tag strings into (prefix code, type code) arrays."""

    def __init__(self) -> None:
        self.types: dict[str, int] = {}
        self.tags: dict[str, int] = {"O": 0}
        self.prefix: list[int] = [_O]
        self.type: list[int] = [self._type_code("_")]

    def _type_code(self, name: str) -> int:
        return self.types.setdefault(name, len(self.types))

    def encode(self, tags: Sequence[str]) -> np.ndarray:
        codes = np.empty(len(tags), dtype=np.int64)
        table = self.tags
        for i, tag in enumerate(tags):
            code = table.get(tag)
            if code is None:
                code = table[tag] = len(table)
                # seqeval: prefix = chunk[0]; type = chunk[1:].split("-", 1)[-1] or "_".
                self.prefix.append(_PREFIX.get(tag[:1], _OTHER))
                self.type.append(self._type_code(tag[1:].split("-", maxsplit=1)[-1] or "_"))
            codes[i] = code
        return codes


def _flatten(sentences: Sequence[Sequence[str]], codes: TagCodes) -> tuple[np.ndarray, np.ndarray]:
    """Tag codes of all sentences, each followed by "O" (code 0), plus a final "O" — seqeval's
    layout — and each sentence's start offset in it."""
    lengths = np.fromiter((len(s) + 1 for s in sentences), np.int64, len(sentences))
    flat = np.zeros(int(lengths.sum()) + 1, dtype=np.int64)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    for start, sentence in zip(starts.tolist(), sentences, strict=True):
        flat[start : start + len(sentence)] = codes.encode(sentence)
    return flat, starts


def entities(flat: np.ndarray, codes: TagCodes) -> tuple[np.ndarray, np.ndarray]:
    """(keys, end positions) of seqeval's chunks in a flattened tag sequence."""
    prefix = np.asarray(codes.prefix)[flat]
    type_ = np.asarray(codes.type)[flat]
    prev = np.r_[_O, prefix[:-1]]
    prev_type = np.r_[-1, type_[:-1]]
    tag_bso = (prefix == _B) | (prefix == _S) | (prefix == _O)
    tag_ei = (prefix == _E) | (prefix == _I)
    type_changed = prev_type != type_
    end = (
        (prev == _E)
        | (prev == _S)
        | (((prev == _B) | (prev == _I)) & tag_bso)
        | ((prev != _O) & (prev != _DOT) & type_changed)
    )
    start = (
        (prefix == _B)
        | (prefix == _S)
        | (((prev == _E) | (prev == _S) | (prev == _O)) & tag_ei)
        | ((prefix != _O) & (prefix != _DOT) & type_changed)
    )
    positions = np.arange(len(flat))
    last_start = np.maximum.accumulate(np.where(start, positions, 0))
    ends = np.flatnonzero(end)  # a chunk (prev_type, begin, i - 1) is closed at each i
    begin = last_start[ends - 1]
    n_types = max(len(codes.types), 1)
    keys = ((begin * len(flat)) + (ends - 1)) * n_types + prev_type[ends]
    return keys, ends - 1


def gold_entity_types(references: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str]]:
    """The type code of every entity of the reference sentences (seqeval's chunks, in order)
    and the type names by code."""
    codes = TagCodes()
    flat, _ = _flatten(references, codes)
    keys, _ = entities(flat, codes)
    names = list(codes.types)
    return keys % max(len(names), 1), names


def example_stats(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
) -> np.ndarray:
    """Per sentence: [true entities, predicted entities, correct entities, tokens, right tokens].
    Sentences must have as many predicted tags as reference tags."""
    return _analyse(predictions, references)[0]


class Entities(NamedTuple):
    """The entities behind `example_stats`: type codes of every true and predicted entity,
    whether each true entity was predicted, and the sentence each one is in."""

    names: list[str]
    true_types: np.ndarray
    pred_types: np.ndarray
    hit: np.ndarray
    true_sentences: np.ndarray
    pred_sentences: np.ndarray
    sentences: int


def _analyse(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
) -> tuple[np.ndarray, Entities]:
    """`example_stats` and the entities behind them."""
    codes = TagCodes()
    true_flat, starts = _flatten(references, codes)
    pred_flat, _ = _flatten(predictions, codes)
    if len(true_flat) != len(pred_flat):
        raise ValueError("every sentence needs as many predicted tags as reference tags")
    true_keys, true_ends = entities(true_flat, codes)
    pred_keys, pred_ends = entities(pred_flat, codes)
    hit = np.isin(true_keys, pred_keys, assume_unique=True)
    n = len(references)

    def sentence_of(ends: np.ndarray) -> np.ndarray:
        return np.searchsorted(starts, ends, side="right") - 1

    def per_sentence(ends: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(sentence_of(ends), weights=weights, minlength=n)[:n]

    separators = np.zeros(len(true_flat), dtype=bool)
    separators[starts[1:] - 1] = True
    separators[-2:] = True  # the last sentence's "O" and the final "O"
    right = (true_flat == pred_flat) & ~separators
    tokens = np.fromiter((len(s) for s in references), np.float64, n)
    width = max(len(codes.types), 1)
    found = Entities(
        list(codes.types),
        true_keys % width,
        pred_keys % width,
        hit,
        sentence_of(true_ends),
        sentence_of(pred_ends),
        n,
    )
    stats = np.column_stack(
        [
            per_sentence(true_ends),
            per_sentence(pred_ends),
            per_sentence(true_ends, hit.astype(float)),
            tokens,
            per_sentence(np.flatnonzero(right)),
        ]
    ).astype(np.float64)
    return stats, found


def from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    true, pred, correct, tokens, right = np.moveaxis(sums, -1, 0)
    precision = safe_divide(correct, pred)
    recall = safe_divide(correct, true)
    return {
        "overall_precision": precision,
        "overall_recall": recall,
        "overall_f1": safe_divide(2 * precision * recall, precision + recall),
        "overall_accuracy": np.where(tokens > 0, right / np.where(tokens > 0, tokens, 1), np.nan),
    }


class SeqevalScorer(SumScorer):
    versions = {"seqeval": VERSION}
    BOUNDS = (0.0, 1.0)

    def __init__(self, spec: dict, predictions: Sequence, references: Sequence):
        if spec.get("mode") not in (None, "default") or spec.get("scheme"):
            raise ValueError("only seqeval's default (conlleval) mode is supported")
        self.stats, self.entities = _analyse(predictions, references)

    def finalize(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        return from_sums(sums)

    def example_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Each sentence's token accuracy (NaN without tokens) and whether all its tags are
        right."""
        tokens, right = self.stats[:, 3], self.stats[:, 4]
        score = np.full(len(tokens), np.nan)
        np.divide(right, tokens, out=score, where=tokens > 0)
        return score, right == tokens

    def entity_type_cells(self) -> list[tuple[str, int, dict, dict]]:
        """(type, gold entities, metrics, intervals) per entity type of the references, sorted
        by type: precision, recall and F1 of that type's entities (seqeval's per-type report)
        under the overall keys, with delta-method 95% intervals over resampled sentences; token
        accuracy has no per-type meaning (None)."""
        found = self.entities
        k = max(len(found.names), 1)
        true = np.bincount(found.true_types, minlength=k).astype(np.float64)
        pred = np.bincount(found.pred_types, minlength=k).astype(np.float64)
        correct = np.bincount(found.true_types, weights=found.hit.astype(np.float64), minlength=k)
        sums = np.column_stack([true, pred, correct, np.zeros(k), np.zeros(k)])
        values = from_sums(sums)
        intervals = self._entity_type_intervals(sums, values)
        out = []
        for code in sorted(np.flatnonzero(true).tolist(), key=lambda c: found.names[c]):
            metrics = {key: as_float(values[key][code]) for key in KEYS[:3]}
            cis = {key: intervals[key][code] for key in KEYS[:3]}
            out.append(
                (found.names[code], int(true[code]), {**metrics, "overall_accuracy": None}, cis)
            )
        return out

    def _entity_type_intervals(self, sums: np.ndarray, values: dict) -> Intervals:
        """Per type, se² = Σ over sentences (g·(xᵢ − x̄))², xᵢ a sentence's (true, predicted,
        correct) entities of the type and g the gradient at the type's sums
        (`scoring.intervals.gradients`): only sentences holding the type add to Σ g·xᵢ and
        Σ (g·xᵢ)², so the cost is one pass over the entities."""
        found, k = self.entities, sums.shape[0]
        slopes = gradients(from_sums, sums, list(KEYS[:3]))
        # One row per (sentence, type) pair that holds an entity, as sentence·k + type.
        pairs = [
            found.true_sentences * k + found.true_types,
            found.pred_sentences * k + found.pred_types,
        ]
        keys, where = np.unique(np.concatenate(pairs), return_inverse=True)
        true_at, pred_at = where[: len(pairs[0])], where[len(pairs[0]) :]
        rows = np.column_stack(
            [
                np.bincount(true_at, minlength=len(keys)),
                np.bincount(pred_at, minlength=len(keys)),
                np.bincount(true_at, weights=found.hit.astype(np.float64), minlength=len(keys)),
            ]
        ).astype(np.float64)
        types = keys % k
        n = max(found.sentences, 1)
        out: Intervals = {}
        for key in KEYS[:3]:
            slope = slopes[key][:, :3]
            moved = np.einsum("ij,ij->i", rows, slope[types]) if len(keys) else np.zeros(0)
            with np.errstate(invalid="ignore"):
                total = np.bincount(types, weights=moved, minlength=k)
                squares = np.bincount(types, weights=moved * moved, minlength=k)
                se = np.sqrt(np.maximum(squares - total * total / n, 0.0))
            value = np.asarray(values[key], dtype=np.float64)
            usable = np.full(k, found.sentences >= 2)
            out[key] = bounded(value - Z95 * se, value + Z95 * se, usable, self.BOUNDS)
        return out


def compute_from_arrays(
    predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
) -> dict[str, float | None]:
    sums = example_stats(predictions, references).sum(axis=0)
    return {key: as_float(value) for key, value in from_sums(sums).items()}


class Seqeval(evaluate.Metric):
    VERSION = VERSION

    def _info(self) -> evaluate.MetricInfo:
        return make_info(
            type(self),
            description="entity precision/recall/F1 and token accuracy (seqeval default mode)",
            features={
                "predictions": datasets.Sequence(datasets.Value("string")),
                "references": datasets.Sequence(datasets.Value("string")),
            },
            reference_urls=("https://github.com/chakki-works/seqeval",),
        )

    def _compute(self, predictions, references):
        return compute_from_arrays(predictions, references)
