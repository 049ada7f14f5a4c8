"""ROUGE agrees with rouge_score (averaged per example), BLEU and chrF with sacreBLEU."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from scoring.metrics import bleu as bleu_mod
from scoring.metrics import load
from scoring.metrics.rouge import KEYS, compute_from_arrays, lcs_length

WORDS = [
    "the",
    "The",
    "cat",
    "sat",
    "on",
    "mat,",
    "mat.",
    "über",
    "naïve",
    "42",
    "x-ray",
    "dog's",
    "running",
    "runs",
    "(hello)",
    "!",
    "",
    "\n",
    "日本",
    "ÉCOLE",
    "a.b",
    "—",
]


def text(rng, most=25):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, most)))


def rouge_reference(preds, refs, use_stemmer=False):
    scorer = rouge_scorer.RougeScorer(list(KEYS), use_stemmer=use_stemmer)
    rows = []
    for pred, ref in zip(preds, refs, strict=True):
        scores = scorer.score_multi(ref, pred) if isinstance(ref, list) else scorer.score(ref, pred)
        rows.append([scores[k].fmeasure for k in KEYS])
    return dict(zip(KEYS, np.mean(rows, axis=0), strict=True))


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_matches_rouge_score(seed, use_stemmer):
    rng = random.Random(seed)
    n = rng.randint(1, 40)
    preds = [text(rng) for _ in range(n)]
    refs = [text(rng) for _ in range(n)]
    ours = compute_from_arrays(preds, refs, use_stemmer=use_stemmer)
    assert ours == pytest.approx(rouge_reference(preds, refs, use_stemmer), abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_rouge_takes_the_best_of_several_references(seed):
    rng = random.Random(50 + seed)
    n = rng.randint(1, 20)
    preds = [text(rng) for _ in range(n)]
    refs = [[text(rng) for _ in range(rng.randint(1, 3))] for _ in range(n)]
    assert compute_from_arrays(preds, refs) == pytest.approx(rouge_reference(preds, refs), abs=1e-9)


@pytest.mark.parametrize(
    ("pred", "ref"),
    [("", ""), ("", "a b"), ("!!!", "a"), ("same text", "same text"), ("a\n\nb", "b\na")],
)
def test_rouge_edge_cases(pred, ref):
    assert compute_from_arrays([pred], [ref]) == pytest.approx(
        rouge_reference([pred], [ref]), abs=1e-9
    )


def test_bit_parallel_lcs_equals_the_dynamic_programme():
    rng = random.Random(0)
    for _ in range(300):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 30))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i][j] = (
                    table[i - 1][j - 1] + 1
                    if a[i - 1] == b[j - 1]
                    else max(table[i - 1][j], table[i][j - 1])
                )
        assert lcs_length(a, b) == table[-1][-1]


def sacre_case(rng):
    n = rng.randint(1, 30)
    preds = [text(rng).replace("\n", " ") for _ in range(n)]
    refs = [[text(rng).replace("\n", " ") for _ in range(rng.randint(1, 3))] for _ in range(n)]
    return preds, refs


def streams(refs):
    return bleu_mod.reference_streams(refs)


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("options", [{}, {"lowercase": True}, {"tokenize": "intl"}])
def test_bleu_matches_sacrebleu(seed, options):
    preds, refs = sacre_case(random.Random(seed))
    expected = sacrebleu.corpus_bleu(preds, streams(refs), **options).score
    scorer = bleu_mod.BleuScorer(options, preds, refs)
    assert scorer.values()["bleu"] == pytest.approx(expected, abs=1e-9)
    # The vectorised formula used for resamples agrees with sacreBLEU too.
    assert scorer.finalize(scorer.stats.sum(axis=0))["bleu"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(15))
@pytest.mark.parametrize("word_order", [0, 2])
def test_chrf_matches_sacrebleu(seed, word_order):
    preds, refs = sacre_case(random.Random(seed))
    expected = sacrebleu.corpus_chrf(preds, streams(refs), word_order=word_order).score
    scorer = bleu_mod.ChrfScorer({"word_order": word_order}, preds, refs)
    assert scorer.values()["chrf"] == pytest.approx(expected, abs=1e-9)
    assert scorer.finalize(scorer.stats.sum(axis=0))["chrf"] == pytest.approx(expected, abs=1e-9)


def test_a_single_reference_string_per_example_works():
    preds, refs = ["the cat sat on the mat", ""], ["the cat sat on a mat", "nothing"]
    expected = sacrebleu.corpus_bleu(preds, [refs]).score
    assert bleu_mod.BleuScorer({}, preds, refs).values()["bleu"] == pytest.approx(expected)


def test_the_vectorised_bleu_formula_matches_sacrebleu_on_random_statistics():
    rng = np.random.default_rng(0)
    metric = sacrebleu.metrics.BLEU()
    for _ in range(500):
        total = rng.integers(0, 6, 4).cumsum()[::-1]
        correct = np.minimum(rng.integers(0, 4, 4), total)
        stats = [int(rng.integers(0, 30)), int(rng.integers(0, 30)), *correct, *total]
        expected = metric._compute_score_from_stats(list(stats)).score
        assert bleu_mod.bleu_from_sums(np.array(stats, float)) == pytest.approx(expected, abs=1e-9)


def test_the_evaluate_modules_compute_like_sacrebleu_and_rouge_score():
    preds, refs = sacre_case(random.Random(3))
    assert load("bleu").compute(predictions=preds, references=refs)["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(preds, streams(refs)).score, abs=1e-9
    )
    assert load("chrf").compute(predictions=preds, references=refs)["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(preds, streams(refs)).score, abs=1e-9
    )
    single = [r[0] for r in refs]
    assert load("rouge").compute(predictions=preds, references=single) == pytest.approx(
        rouge_reference(preds, single), abs=1e-9
    )


# Punctuation, digits, entities, newlines, non-ASCII letters and spaces: everything the 13a
# rules treat specially.
NASTY = list("abcXYZ0123456789 .,-!?'\"&;<>{}[]()~`@/:+*^_|\\\n\téÉ中ü\u00a0\u2003$%#=") + [
    "&amp;",
    "&quot;",
    "&lt;",
    "&gt;",
    "<skipped>",
    "-\n",
    "the ",
    "cat ",
]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "options", [{}, {"lowercase": True}, {"tokenize": "intl"}, {"tokenize": "char"}]
)
def test_vectorised_bleu_statistics_equal_sacrebleus_per_sentence_ones(seed, options):
    rng = random.Random(seed)

    def sentence():
        return "".join(rng.choice(NASTY) for _ in range(rng.randint(0, 60)))

    predictions = [sentence() for _ in range(80)]
    references = [
        [sentence() for _ in range(rng.randint(1, 3))] if rng.random() < 0.5 else sentence()
        for _ in range(80)
    ]
    expected = bleu_mod.sentence_stats(bleu_mod.bleu_metric(options), predictions, references)
    actual = bleu_mod.bleu_sentence_stats(bleu_mod.bleu_metric(options), predictions, references)
    np.testing.assert_array_equal(actual, expected)
