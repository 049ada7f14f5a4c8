"""Entity-level metrics agree with seqeval's default mode to 1e-9."""

from __future__ import annotations

import random
import warnings

import pytest
from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score

from scoring.metrics import load
from scoring.metrics.tagging import compute_from_arrays

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC", "I-MISC", "B-MISC"]
# Tags outside IOB2 that seqeval still reads in its own way (prefix = first character).
ODD_TAGS = ["B", "I", "PER", ".", "E-LOC", "S-PER", "B-", "I-x-y"]


def seqeval_values(refs, preds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "seems not to be NE tag", undefined precision
        return {
            "overall_precision": precision_score(refs, preds),
            "overall_recall": recall_score(refs, preds),
            "overall_f1": f1_score(refs, preds),
            "overall_accuracy": accuracy_score(refs, preds),
        }


def random_case(rng, tags, noise):
    refs = [[rng.choice(tags) for _ in range(rng.randint(0, 12))] for _ in range(rng.randint(1, 9))]
    preds = [[rng.choice(tags) if rng.random() < noise else t for t in s] for s in refs]
    if not any(refs):
        refs[0] = preds[0] = ["O"]
    return refs, preds


@pytest.mark.parametrize("seed", range(40))
def test_it_matches_seqeval_on_random_bio_tags(seed):
    rng = random.Random(seed)
    refs, preds = random_case(rng, TAGS, noise=rng.random())
    ours = compute_from_arrays(preds, refs)
    assert ours == pytest.approx(seqeval_values(refs, preds), abs=1e-9)


@pytest.mark.parametrize("seed", range(20))
def test_it_matches_seqeval_on_odd_tags(seed):
    rng = random.Random(1000 + seed)
    refs, preds = random_case(rng, TAGS + ODD_TAGS, noise=0.5)
    assert compute_from_arrays(preds, refs) == pytest.approx(seqeval_values(refs, preds), abs=1e-9)


EDGE = {
    "no entities anywhere": ([["O", "O"], ["O"]], [["O", "O"], ["O"]]),
    "no predicted entities": ([["B-PER", "I-PER", "O"]], [["O", "O", "O"]]),
    "all wrong types": ([["B-PER", "O"], ["B-LOC"]], [["B-LOC", "O"], ["B-PER"]]),
    "entity at sentence ends": ([["O", "B-PER"], ["I-PER", "O"]], [["O", "B-PER"], ["B-PER", "O"]]),
    "empty sentence between": ([["B-PER"], [], ["B-LOC"]], [["B-PER"], [], ["I-LOC"]]),
    "perfect": ([["B-PER", "I-PER", "B-LOC"]], [["B-PER", "I-PER", "B-LOC"]]),
}


@pytest.mark.parametrize("case", EDGE, ids=str)
def test_it_matches_seqeval_on_edge_cases(case):
    refs, preds = EDGE[case]
    assert compute_from_arrays(preds, refs) == pytest.approx(seqeval_values(refs, preds), abs=1e-9)


def test_the_evaluate_module_computes_like_seqeval():
    refs, preds = random_case(random.Random(5), TAGS, noise=0.3)
    result = load("seqeval").compute(predictions=preds, references=refs)
    assert result == pytest.approx(seqeval_values(refs, preds), abs=1e-9)
