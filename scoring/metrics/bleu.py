"""Corpus BLEU and chrF from sacreBLEU's own per-sentence sufficient statistics.

sacreBLEU scores a corpus from statistics summed over sentences, so the statistics are extracted
once per sentence (by sacreBLEU itself, so tokenisation and n-gram matching are its own) and every
aggregate — the split, each slice cell, each bootstrap resample — is a sum of rows. The point
values come from sacreBLEU's `_compute_score_from_stats`; resamples use vectorised copies of the
same formulas (tested equal).
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets
import evaluate
import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from scoring.metrics.base import SumScorer, as_float, make_info

VERSION = "1.0.0"


def reference_streams(references: Sequence[str | Sequence[str]]) -> list[list[str | None]]:
    """sacreBLEU's layout: one stream per reference position, None where an example has fewer
    references than the most (sacreBLEU's variable-reference convention)."""
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    width = max((len(r) for r in refs), default=1) or 1
    return [[r[i] if i < len(r) else None for r in refs] for i in range(width)]


def bleu_metric(spec: dict) -> BLEU:
    return BLEU(tokenize=spec.get("tokenize"), lowercase=bool(spec.get("lowercase", False)))


def chrf_metric(spec: dict) -> CHRF:
    return CHRF(
        word_order=int(spec.get("word_order", 0)), lowercase=bool(spec.get("lowercase", False))
    )


def sentence_stats(metric: BLEU | CHRF, predictions: Sequence[str], references) -> np.ndarray:
    """(n, S) integer statistics, one row per sentence, as sacreBLEU extracts them."""
    if len(predictions) == 0:
        return np.zeros((0, 1), dtype=np.float64)
    stats = metric._extract_corpus_statistics(list(predictions), reference_streams(references))
    return np.asarray(stats, dtype=np.float64)


def bleu_from_sums(sums: np.ndarray, order: int = 4) -> np.ndarray:
    """sacreBLEU's `compute_bleu` with its defaults (exp smoothing, no effective order), batched
    over the leading dimensions of (..., 2 + 2·order) summed statistics."""
    sys_len, ref_len = sums[..., 0], sums[..., 1]
    correct, total = sums[..., 2 : 2 + order], sums[..., 2 + order : 2 + 2 * order]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bp = np.where(
            sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0), 1.0
        )
        # "exp" smoothing: the k-th order without matches gets precision 100 / (2^k · total).
        halvings = np.cumsum(correct == 0, axis=-1)
        precision = np.where(correct > 0, 100.0 * correct / total, 100.0 / (2.0**halvings * total))
        score = bp * np.exp(np.log(precision).mean(axis=-1))
    # No matches at all, or an order with no n-grams (sacreBLEU's floor log of 0): score 0.
    dead = ~(correct > 0).any(axis=-1) | (total == 0).any(axis=-1)
    return np.where(dead, 0.0, score)


def chrf_from_sums(sums: np.ndarray, order: int, beta: float = 2.0) -> np.ndarray:
    """sacreBLEU's `CHRF._compute_f_score` (default, no eps smoothing), batched."""
    stats = sums.reshape(*sums.shape[:-1], order, 3)
    n_hyp, n_ref, n_match = stats[..., 0], stats[..., 1], stats[..., 2]
    effective = (n_hyp > 0) & (n_ref > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(effective, n_match / np.where(n_hyp > 0, n_hyp, 1), 0.0)
        rec = np.where(effective, n_match / np.where(n_ref > 0, n_ref, 1), 0.0)
        count = effective.sum(axis=-1)
        avg_prec = np.where(count > 0, prec.sum(-1) / np.maximum(count, 1), 0.0)
        avg_rec = np.where(count > 0, rec.sum(-1) / np.maximum(count, 1), 0.0)
        factor = beta**2
        score = (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)
    return np.where(avg_prec + avg_rec > 0, 100 * score, 0.0)


class _CorpusScorer(SumScorer):
    KEY = ""

    def __init__(self, spec: dict, predictions: Sequence[str], references: Sequence):
        self.metric = self.make_metric(spec)
        self.stats = sentence_stats(self.metric, predictions, references)

    def values(self) -> dict[str, float | None]:
        if len(self.stats) == 0:
            return {self.KEY: None}
        return {self.KEY: self.exact(self.stats.sum(axis=0))}

    def cell_values(self, codes: np.ndarray, n_cells: int) -> list[dict[str, float | None]]:
        sums = np.stack(
            [np.bincount(codes, weights=col, minlength=n_cells) for col in self.stats.T], axis=-1
        )
        counts = np.bincount(codes, minlength=n_cells)
        return [{self.KEY: self.exact(sums[i]) if counts[i] else None} for i in range(n_cells)]

    def exact(self, sums: np.ndarray) -> float | None:
        return as_float(self.metric._compute_score_from_stats(np.rint(sums).astype(int)).score)


class BleuScorer(_CorpusScorer):
    KEY = "bleu"
    versions = {"bleu": VERSION}
    make_metric = staticmethod(bleu_metric)

    def finalize(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        return {"bleu": bleu_from_sums(sums, self.metric.max_ngram_order)}

    def exact(self, sums: np.ndarray) -> float | None:
        stats = [int(x) for x in np.rint(sums)]
        return as_float(self.metric._compute_score_from_stats(stats).score)


class ChrfScorer(_CorpusScorer):
    KEY = "chrf"
    versions = {"chrf": VERSION}
    make_metric = staticmethod(chrf_metric)

    def finalize(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        return {"chrf": chrf_from_sums(sums, self.metric.order, self.metric.beta)}

    def exact(self, sums: np.ndarray) -> float | None:
        stats = [int(x) for x in np.rint(sums)]
        return as_float(self.metric._compute_score_from_stats(stats).score)


def _features() -> list[dict]:
    return [
        {
            "predictions": datasets.Value("string"),
            "references": datasets.Sequence(datasets.Value("string")),
        },
        {"predictions": datasets.Value("string"), "references": datasets.Value("string")},
    ]


class SacreBleu(evaluate.Metric):
    VERSION = VERSION

    def _info(self) -> evaluate.MetricInfo:
        return make_info(
            type(self),
            description="corpus BLEU (sacreBLEU), 0-100",
            features=_features(),
            reference_urls=("https://github.com/mjpost/sacrebleu",),
        )

    def _compute(self, predictions, references, tokenize=None, lowercase=False):
        spec = {"tokenize": tokenize, "lowercase": lowercase}
        return BleuScorer(spec, predictions, references).values()


class Chrf(evaluate.Metric):
    VERSION = VERSION

    def _info(self) -> evaluate.MetricInfo:
        return make_info(
            type(self),
            description="corpus chrF (sacreBLEU), 0-100",
            features=_features(),
            reference_urls=("https://github.com/mjpost/sacrebleu",),
        )

    def _compute(self, predictions, references, word_order=0, lowercase=False):
        spec = {"word_order": word_order, "lowercase": lowercase}
        return ChrfScorer(spec, predictions, references).values()
