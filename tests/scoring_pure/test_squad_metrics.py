"""SQuAD scores agree with the official v2.0 evaluation script, reimplemented here verbatim."""

from __future__ import annotations

import collections
import random
import re
import string

import pytest

from scoring.metrics import load
from scoring.metrics.squad import compute_from_arrays

# --- the official script's functions (evaluate-v2.0.py) ---------------------------------------


def normalize_answer(s):
    def remove_articles(text):
        regex = re.compile(r"\b(a|an|the)\b", re.UNICODE)
        return re.sub(regex, " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def get_tokens(s):
    if not s:
        return []
    return normalize_answer(s).split()


def compute_exact(a_gold, a_pred):
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold, a_pred):
    gold_toks = get_tokens(a_gold)
    pred_toks = get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def official(predictions, answers):
    exact, f1, has = {}, {}, {}
    for qid, (pred, golds) in enumerate(zip(predictions, answers, strict=True)):
        has[qid] = bool(golds)
        gold_answers = [a for a in golds if normalize_answer(a)]
        if not gold_answers:
            gold_answers = [""]
        exact[qid] = max(compute_exact(a, pred) for a in gold_answers)
        f1[qid] = max(compute_f1(a, pred) for a in gold_answers)

    def make(qids):
        return (
            100.0 * sum(exact[q] for q in qids) / len(qids),
            100.0 * sum(f1[q] for q in qids) / len(qids),
        )

    out = dict(zip(["exact_match", "f1"], make(list(exact)), strict=True))
    has_ids = [q for q in has if has[q]]
    no_ids = [q for q in has if not has[q]]
    if no_ids:
        if has_ids:
            out.update(zip(["HasAns_exact_match", "HasAns_f1"], make(has_ids), strict=True))
        out.update(zip(["NoAns_exact_match", "NoAns_f1"], make(no_ids), strict=True))
    return out


# --- tests ---------------------------------------------------------------------------------

WORDS = [
    "the",
    "The",
    "a",
    "an",
    "An",
    "cat",
    "Cat.",
    "naïve",
    "café",
    "¿qué?",
    "Ünïcode",
    "don't",
    "x-ray",
    "(1990)",
    "42",
    "42.0",
    "",
    " ",
    "!!",
    "ANd",
    "theater",
    "a.b",
    "—",
]


def phrase(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))


def case(rng, unanswerable):
    n = rng.randint(1, 40)
    answers = []
    for _ in range(n):
        if rng.random() < unanswerable:
            answers.append([])
        else:
            answers.append([phrase(rng) for _ in range(rng.randint(1, 3))])
    preds = [
        rng.choice(golds)
        if golds and rng.random() < 0.3
        else ("" if rng.random() < 0.2 else phrase(rng))
        for golds in answers
    ]
    return preds, answers


def check(preds, answers):
    ours = compute_from_arrays(preds, answers)
    expected = official(preds, answers)
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key
    extra = {k: v for k, v in ours.items() if k not in expected}
    assert all(v is None for v in extra.values())  # HasAns with no answerable question


@pytest.mark.parametrize("seed", range(30))
def test_it_matches_the_official_script_on_v2_data(seed):
    check(*case(random.Random(seed), unanswerable=0.3))


@pytest.mark.parametrize("seed", range(10))
def test_v1_data_reports_only_exact_match_and_f1(seed):
    preds, answers = case(random.Random(100 + seed), unanswerable=0.0)
    check(preds, answers)
    assert set(compute_from_arrays(preds, answers)) == {"exact_match", "f1"}


EDGE = {
    "empty prediction for unanswerable": ([""], [[]]),
    "answer for unanswerable": (["Paris"], [[]]),
    "empty prediction for answerable": ([""], [["Paris"]]),
    "only articles and punctuation": (["The!"], [["a"]]),
    "gold that normalises to nothing": (["x"], [["the", "x"]]),
    "all unanswerable": (["", "x"], [[], []]),
    "unicode and punctuation": (["Café, naïve!"], [["café naïve"]]),
}


@pytest.mark.parametrize("name", EDGE, ids=str)
def test_edge_cases_match_the_official_script(name):
    check(*EDGE[name])


def test_the_evaluate_module_computes_like_the_official_script():
    preds, answers = case(random.Random(9), unanswerable=0.3)
    result = load("squad").compute(predictions=preds, references=answers)
    for key, value in official(preds, answers).items():
        assert result[key] == pytest.approx(value, abs=1e-9)
