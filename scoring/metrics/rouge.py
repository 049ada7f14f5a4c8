"""ROUGE-1/2/L/Lsum F-measures per example, as Google's `rouge_score` computes them, averaged over
examples (Hugging Face evaluate's `rouge` with use_aggregator=False, then the mean).

Same tokeniser (lowercase, runs of [a-z0-9], optional Porter stemming of words longer than three
letters), same n-gram and LCS definitions. ROUGE-L's LCS length uses a bit-parallel algorithm
(Hyyrö 2004) over Python integers instead of the O(n·m) table; the length is unique, so the value
is identical. ROUGE-Lsum (summary-level LCS, sentences split on newlines) depends on the *union* of
particular LCS paths, so it replays rouge_score's table and backtracking exactly — but only for
texts that have several lines; for single-line texts it equals ROUGE-L.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

import datasets
import evaluate
import numpy as np

from scoring.metrics.base import SumScorer, make_info

VERSION = "1.0.0"
KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def make_tokenizer(use_stemmer: bool = False) -> Callable[[str], list[str]]:
    """rouge_score's default tokenizer: `[a-z0-9]+` runs of the lowercased text."""
    if not use_stemmer:
        return lambda text: _TOKEN_RE.findall(text.lower())
    from nltk.stem import porter  # rouge_score's own stemmer

    stem = lru_cache(maxsize=1 << 16)(porter.PorterStemmer().stem)

    def tokenize(text: str) -> list[str]:
        tokens = [stem(t) if len(t) > 3 else t for t in _TOKEN_RE.findall(text.lower())]
        # rouge_score drops tokens that stop being [a-z0-9]+ after stemming.
        return [t for t in tokens if _TOKEN_RE.fullmatch(t)]

    return tokenize


def fmeasure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def ngram_f(target: list[str], prediction: list[str], n: int) -> float:
    if n == 1:
        t_grams, p_grams = Counter(target), Counter(prediction)
    else:
        t_grams = Counter(zip(*(target[i:] for i in range(n)), strict=False))
        p_grams = Counter(zip(*(prediction[i:] for i in range(n)), strict=False))
    overlap = sum(min(count, p_grams[gram]) for gram, count in t_grams.items() if gram in p_grams)
    t_total = max(len(target) - n + 1, 0)
    p_total = max(len(prediction) - n + 1, 0)
    return fmeasure(overlap / max(p_total, 1), overlap / max(t_total, 1))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of a longest common subsequence, bit-parallel: one big-int step per token of b."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        match = masks.get(token)
        if match is not None:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def lcs_f(target: list[str], prediction: list[str]) -> float:
    if not target or not prediction:
        return 0.0
    lcs = lcs_length(target, prediction)
    return fmeasure(lcs / len(prediction), lcs / len(target))


def _lcs_indices(ref: list[str], can: list[str]) -> list[int]:
    """rouge_score's `lcs_ind`: the table and the backtracking that picks one particular LCS."""
    rows, cols = len(ref), len(can)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        row, above, token = table[i], table[i - 1], ref[i - 1]
        for j in range(1, cols + 1):
            if token == can[j - 1]:
                row[j] = above[j - 1] + 1
            else:
                row[j] = max(above[j], row[j - 1])
    i, j, out = rows, cols, []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        elif table[i][j - 1] > table[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out[::-1]


def summary_lcs_f(ref_sents: list[list[str]], can_sents: list[list[str]]) -> float:
    """rouge_score's `_summary_level_lcs` F-measure (union LCS, no double counting)."""
    if not ref_sents or not can_sents:
        return 0.0
    m = sum(map(len, ref_sents))
    n = sum(map(len, can_sents))
    if not n or not m:
        return 0.0
    ref_counts: Counter[str] = Counter()
    can_counts: Counter[str] = Counter()
    for sent in ref_sents:
        ref_counts.update(sent)
    for sent in can_sents:
        can_counts.update(sent)
    hits = 0
    for ref in ref_sents:
        union = sorted(set().union(*(_lcs_indices(ref, can) for can in can_sents)))
        for token in (ref[i] for i in union):
            if can_counts[token] > 0 and ref_counts[token] > 0:
                hits += 1
                can_counts[token] -= 1
                ref_counts[token] -= 1
    return fmeasure(hits / n, hits / m)


def example_scores(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    rouge_types: Sequence[str] = KEYS,
    use_stemmer: bool = False,
) -> np.ndarray:
    """(n, len(rouge_types)) per-example F-measures; a list of references takes, per type, the
    best F-measure (rouge_score's score_multi)."""
    tokenize = make_tokenizer(use_stemmer)
    out = np.zeros((len(predictions), len(rouge_types)), dtype=np.float64)
    for row, (prediction, refs) in enumerate(zip(predictions, references, strict=True)):
        if isinstance(refs, str):
            refs = [refs]
        pred_tokens = tokenize(prediction)
        pred_sents = None
        for target in refs:
            target_tokens = tokenize(target)
            for col, rouge_type in enumerate(rouge_types):
                if rouge_type == "rougeL":
                    value = lcs_f(target_tokens, pred_tokens)
                elif rouge_type == "rougeLsum":
                    if "\n" not in target and "\n" not in prediction:
                        value = lcs_f(target_tokens, pred_tokens)
                    else:
                        if pred_sents is None:
                            pred_sents = [tokenize(s) for s in prediction.split("\n") if s]
                        target_sents = [tokenize(s) for s in target.split("\n") if s]
                        value = summary_lcs_f(target_sents, pred_sents)
                else:
                    value = ngram_f(target_tokens, pred_tokens, int(rouge_type[5:]))
                if value > out[row, col]:
                    out[row, col] = value
    return out


def compute_from_arrays(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    rouge_types: Sequence[str] = KEYS,
    use_stemmer: bool = False,
) -> dict[str, float]:
    scores = example_scores(predictions, references, rouge_types, use_stemmer)
    return {key: float(scores[:, i].mean()) for i, key in enumerate(rouge_types)}


class Rouge(evaluate.Metric):
    VERSION = VERSION

    def _info(self) -> evaluate.MetricInfo:
        return make_info(
            type(self),
            description="ROUGE F-measures per example (rouge_score semantics), averaged",
            features=[
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                },
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")},
            ],
            reference_urls=(
                "https://github.com/google-research/google-research/tree/master/rouge",
            ),
        )

    def _compute(self, predictions, references, rouge_types=None, use_stemmer=False):
        return compute_from_arrays(predictions, references, rouge_types or KEYS, use_stemmer)


class RougeScorer(SumScorer):
    """Per-example F-measures as statistics: every key is a mean over rows."""

    versions = {"rouge": VERSION}
    BOUNDS = (0.0, 1.0)

    def __init__(self, spec: dict, predictions: Sequence[str], references: Sequence):
        self.keys = [k for k in KEYS if k in (spec.get("rouge_types") or KEYS)]
        scores = example_scores(predictions, references, self.keys, bool(spec.get("use_stemmer")))
        self.stats = np.column_stack([np.ones(len(scores)), scores])

    def example_scores(self) -> tuple[np.ndarray, None]:
        """Each row's ROUGE-L F-measure (0-1), or its first computed type's without rougeL."""
        column = self.keys.index("rougeL") if "rougeL" in self.keys else 0
        return self.stats[:, column + 1].copy(), None

    def row_means(self) -> dict[str, np.ndarray]:
        return {key: self.stats[:, i + 1] for i, key in enumerate(self.keys)}

    def finalize(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        count = sums[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            return {key: sums[..., i + 1] / count for i, key in enumerate(self.keys)}
