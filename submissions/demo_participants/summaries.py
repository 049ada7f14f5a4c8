"""Predictors for summarisation: a paraphrase of the reference, or the source's lead.

`_summarise` applies a per-row rule; `_paraphrase` drops a word or two from the first reference
(close, rarely exact) and `_lead` copies the first words of the source, the failure the demo's
summarisers show on long or untemplated items.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from submissions.demo_participants.base import Predictor, Row


def _summarise(rule: Callable[[Row, random.Random], str]) -> Predictor:
    def predict(task, rows, rng):
        return [rule(row, rng) for row in rows]

    return predict


def _lead(row: Row, words: int) -> str:
    return " ".join(row["source"].split()[:words])


def _reference(row: Row) -> str:
    reference = row["reference"]
    return reference if isinstance(reference, str) else reference[0]


def _paraphrase(row: Row, rng: random.Random) -> str:
    """The first reference with a word or two dropped: close, rarely exact."""
    words = _reference(row).split()
    for _ in range(rng.randint(0, 2)):
        if len(words) > 4:
            words.pop(rng.randrange(1, len(words) - 1))
    return " ".join(words)
