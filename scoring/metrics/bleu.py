"""Corpus BLEU and chrF from sacreBLEU's own per-sentence sufficient statistics.

sacreBLEU scores a corpus from statistics summed over sentences, so the statistics are extracted
once per sentence (by sacreBLEU itself, so tokenisation and n-gram matching are its own) and every
aggregate — the split, each slice cell, each bootstrap resample — is a sum of rows. The point
values come from sacreBLEU's `_compute_score_from_stats`; resamples use vectorised copies of the
same formulas (tested equal). BLEU's statistics are extracted for the whole corpus at once with
numpy (`bleu_sentence_stats`, tested equal to sacreBLEU's per-sentence extraction).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import datasets
import evaluate
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from scoring.intervals import cell_sums
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


# sacreBLEU's 13a tokenizer (its default) as RE2 rules that pyarrow applies to a whole column;
# the same patterns and replacements as sacrebleu.tokenizers.TokenizerRegexp, in its order.
RULES_13A = (
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),
    (r"([^0-9])([\.,])", r"\1 \2 "),
    (r"([\.,])([^0-9])", r" \1 \2"),
    (r"([0-9])(-)", r"\1 \2 "),
)


def _unescape_13a(line: str) -> str:
    """Tokenizer13a's language-independent part (always replacing the entities is the same as
    replacing them only when the line has an '&')."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
    return f" {line.replace('&gt;', '>')} "


def tokenize_segments(metric: BLEU, texts: Sequence[str]) -> list[list[str]]:
    """Each text as sacreBLEU's `_preprocess_segment` then `.split()` would give it. The default
    13a tokenizer runs column-wise in pyarrow (tested equal); other tokenizers run per text."""
    texts = [(t.lower() if metric.lowercase else t).rstrip() for t in texts]
    if not isinstance(metric.tokenizer, Tokenizer13a):
        return [metric.tokenizer(t).split() for t in texts]
    column = pa.array([_unescape_13a(t) for t in texts], pa.string())
    for pattern, replacement in RULES_13A:
        column = pc.replace_substring_regex(column, pattern, replacement)
    return [line.split() for line in column.to_pylist()]


def _dense_ids(values: np.ndarray) -> tuple[np.ndarray, int]:
    unique, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64), len(unique)


def _max_per_key(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys, each with the largest of its counts."""
    if len(keys) == 0:
        return keys, counts
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.maximum.reduceat(counts, starts)


def _closest_ref_lengths(
    hyp_lengths: np.ndarray, ref_lengths: np.ndarray, ref_example: np.ndarray
) -> np.ndarray:
    """For each hypothesis, the reference length closest to its own, ties going to the shorter
    (sacreBLEU's `_get_closest_ref_len`). An example without references gets 0."""
    out = np.zeros(len(hyp_lengths), dtype=np.int64)
    if len(ref_lengths) == 0:
        return out
    diff = np.abs(hyp_lengths[ref_example] - ref_lengths)
    order = np.lexsort((ref_lengths, diff, ref_example))
    sorted_examples = ref_example[order]
    first = order[np.r_[True, sorted_examples[1:] != sorted_examples[:-1]]]
    out[ref_example[first]] = ref_lengths[first]
    return out


def bleu_sentence_stats(metric: BLEU, predictions: Sequence[str], references) -> np.ndarray:
    """sacreBLEU's per-sentence BLEU statistics — [hyp_len, closest ref_len, matches per order,
    n-grams per order] — computed with numpy over the whole corpus instead of a Counter per
    sentence. Tokenisation is sacreBLEU's own (`_preprocess_segment`). N-grams get exact dense
    ids order by order (an n-gram is its (n-1)-gram prefix plus one token), so nothing hashes or
    collides; matches are clipped by the largest count in any one reference, as in sacreBLEU."""
    order = metric.max_ngram_order
    n = len(predictions)
    stats = np.zeros((n, 2 + 2 * order), dtype=np.float64)
    if n == 0:
        return stats
    texts, ref_example = list(predictions), []
    for stream in reference_streams(references):
        for example, ref in enumerate(stream):
            if ref is not None:
                texts.append(ref)
                ref_example.append(example)
    segments = tokenize_segments(metric, texts)
    # Segment s is hypothesis s for s < n, else a reference of example example_of[s].
    example_of = np.concatenate([np.arange(n), np.asarray(ref_example, dtype=np.int64)])
    lengths = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    encoded = pa.array(itertools.chain.from_iterable(segments), pa.string()).dictionary_encode()
    tokens = np.asarray(encoded.indices, dtype=np.int64)
    vocabulary = max(len(encoded.dictionary), 1)
    segment_of_token = np.repeat(np.arange(len(segments)), lengths)
    segment_end = np.cumsum(lengths)[segment_of_token]  # one past the end, per token

    stats[:, 0] = lengths[:n]
    stats[:, 1] = _closest_ref_lengths(lengths[:n], lengths[n:], example_of[n:])
    position = np.arange(len(tokens))  # where each n-gram of the current order starts
    gram = tokens
    for k in range(1, order + 1):
        if k > 1:
            fits = position + k - 1 < segment_end[position]
            position, prefix = position[fits], gram[fits]
            gram, _ = _dense_ids(prefix * vocabulary + tokens[position + k - 1])
        width = int(gram.max()) + 1 if len(gram) else 1
        segment = segment_of_token[position]
        is_hyp = segment < n
        hyp_keys, hyp_counts = np.unique(segment[is_hyp] * width + gram[is_hyp], return_counts=True)
        per_ref, ref_counts = np.unique(
            segment[~is_hyp] * width + gram[~is_hyp], return_counts=True
        )
        ref_keys, ref_counts = _max_per_key(
            example_of[per_ref // width] * width + per_ref % width, ref_counts
        )
        matched = np.zeros(len(hyp_keys), dtype=np.int64)
        if len(ref_keys):
            found = np.minimum(np.searchsorted(ref_keys, hyp_keys), len(ref_keys) - 1)
            hit = ref_keys[found] == hyp_keys
            matched[hit] = np.minimum(hyp_counts[hit], ref_counts[found[hit]])
        example = hyp_keys // width
        stats[:, 1 + k] = np.bincount(example, weights=matched, minlength=n)
        stats[:, 1 + order + k] = np.bincount(example, weights=hyp_counts, minlength=n)
    return stats


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
    BOUNDS = (0.0, 100.0)
    extract = staticmethod(sentence_stats)

    def __init__(self, spec: dict, predictions: Sequence[str], references: Sequence):
        self.metric = self.make_metric(spec)
        self.stats = self.extract(self.metric, predictions, references)

    def values(self) -> dict[str, float | None]:
        if len(self.stats) == 0:
            return {self.KEY: None}
        return {self.KEY: self.exact(self.stats.sum(axis=0))}

    def cell_values(self, codes: np.ndarray, n_cells: int) -> list[dict[str, float | None]]:
        sums = cell_sums(self.stats, codes, n_cells)
        counts = np.bincount(codes, minlength=n_cells)
        return [{self.KEY: self.exact(sums[i]) if counts[i] else None} for i in range(n_cells)]

    def exact(self, sums: np.ndarray) -> float | None:
        return as_float(self.metric._compute_score_from_stats(np.rint(sums).astype(int)).score)


class BleuScorer(_CorpusScorer):
    KEY = "bleu"
    versions = {"bleu": VERSION}
    make_metric = staticmethod(bleu_metric)
    extract = staticmethod(bleu_sentence_stats)

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

    def example_scores(self) -> tuple[np.ndarray, None]:
        """Each sentence's chrF (0-100): sacreBLEU's sentence score is the corpus formula on
        that sentence's statistics."""
        return self.finalize(self.stats)["chrf"], None


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
