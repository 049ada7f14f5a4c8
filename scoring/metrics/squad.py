"""SQuAD exact match and F1 (0-100) with the official v2.0 evaluation script's rules.

Normalisation: lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse
whitespace. Gold answers that normalise to nothing are ignored; a question with no (remaining)
answer is unanswerable and only the empty prediction is right. Scores are the maximum over the
gold answers. On v2 data (some question unanswerable) HasAns_* and NoAns_* are reported too.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

import datasets
import evaluate
import numpy as np

from scoring.metrics.base import SumScorer, as_float, make_info

VERSION = "1.0.0"
KEYS = ("exact_match", "f1", "HasAns_exact_match", "HasAns_f1", "NoAns_exact_match", "NoAns_f1")

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """The official `normalize_answer` (same steps, same order)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def _f1(gold: list[str], pred: list[str]) -> float:
    if not gold or not pred:
        return float(gold == pred)
    common = Counter(gold) & Counter(pred)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def example_scores(
    predictions: Sequence[str], answers: Sequence[Sequence[str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exact, f1, has_answer) per question; exact and f1 in 0..1."""
    n = len(predictions)
    exact = np.zeros(n)
    f1 = np.zeros(n)
    has_answer = np.zeros(n, dtype=bool)
    for i, (prediction, golds) in enumerate(zip(predictions, answers, strict=True)):
        has_answer[i] = bool(golds)  # the official script: bool(qa["answers"])
        gold_tokens = [toks for toks in (normalize_answer(g).split() for g in golds) if toks]
        if not gold_tokens:
            gold_tokens = [[]]
        pred_tokens = normalize_answer(prediction).split()
        exact[i] = float(any(toks == pred_tokens for toks in gold_tokens))
        f1[i] = max(_f1(toks, pred_tokens) for toks in gold_tokens)
    return exact, f1, has_answer


class SquadScorer(SumScorer):
    """Statistics per question: [1, em, f1, has, has·em, has·f1, noans, noans·em, noans·f1]."""

    versions = {"squad": VERSION}
    BOUNDS = (0.0, 100.0)

    def __init__(self, spec: dict, predictions: Sequence[str], answers: Sequence[Sequence[str]]):
        exact, f1, has = example_scores(predictions, answers)
        no = (~has).astype(float)
        has = has.astype(float)
        self.v2 = bool(no.any())
        self.stats = np.column_stack(
            [np.ones(len(exact)), exact, f1, has, has * exact, has * f1, no, no * exact, no * f1]
        )

    def example_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Each question's F1 (0-100) and whether it is an exact match."""
        return 100.0 * self.stats[:, 2], self.stats[:, 1] == 1.0

    def row_means(self) -> dict[str, np.ndarray]:
        return {"exact_match": 100.0 * self.stats[:, 1], "f1": 100.0 * self.stats[:, 2]}

    def finalize(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        def pct(num: np.ndarray, den: np.ndarray) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1), np.nan)

        out = {
            "exact_match": pct(sums[..., 1], sums[..., 0]),
            "f1": pct(sums[..., 2], sums[..., 0]),
        }
        if self.v2:
            out["HasAns_exact_match"] = pct(sums[..., 4], sums[..., 3])
            out["HasAns_f1"] = pct(sums[..., 5], sums[..., 3])
            out["NoAns_exact_match"] = pct(sums[..., 7], sums[..., 6])
            out["NoAns_f1"] = pct(sums[..., 8], sums[..., 6])
        return out


def compute_from_arrays(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float | None]:
    scorer = SquadScorer({}, predictions, references)
    return {key: as_float(value) for key, value in scorer.values().items()}


class Squad(evaluate.Metric):
    VERSION = VERSION

    def _info(self) -> evaluate.MetricInfo:
        return make_info(
            type(self),
            description="SQuAD v2 exact match and F1 (0-100); references are lists of answers",
            features={
                "predictions": datasets.Value("string"),
                "references": datasets.Sequence(datasets.Value("string")),
            },
            reference_urls=("https://rajpurkar.github.io/SQuAD-explorer/",),
        )

    def _compute(self, predictions, references):
        return compute_from_arrays(predictions, references)
