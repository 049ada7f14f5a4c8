"""Predictors for extractive question answering: the gold answer, a wrong span, or nothing.

`_answer` applies a per-row rule; `_qa_rule` builds one from the probability of answering an
answerable question right and of abstaining on an unanswerable one, and `_distractor` picks a
confident wrong answer: a short span of the context that is no gold answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from submissions.demo_participants.base import Predictor, Row


def _answer(rule: Callable[[Row, random.Random], str]) -> Predictor:
    def predict(task, rows, rng):
        return [rule(row, rng) for row in rows]

    return predict


def _distractor(row: Row, rng: random.Random) -> str:
    """A confident wrong answer: a short span of the context that is no gold answer."""
    words = row["context"].split()
    gold = set(row["answers"])
    for _ in range(10):
        start = rng.randrange(max(1, len(words) - 3))
        span = " ".join(words[start : start + rng.randint(1, 3)]).strip(".,")
        if span and span not in gold:
            return span
    return words[0]


def _qa_rule(
    right: Callable[[Row], float], abstain: Callable[[Row], float]
) -> Callable[[Row, random.Random], str]:
    """Answerable rows: the first gold answer with probability `right(row)`, else a wrong
    span (or nothing, half the time). Unanswerable rows: "" with probability `abstain(row)`."""

    def rule(row, rng):
        if not row["answers"]:
            return "" if rng.random() < abstain(row) else _distractor(row, rng)
        if rng.random() < right(row):
            return row["answers"][0]
        return "" if rng.random() < 0.5 else _distractor(row, rng)

    return rule
