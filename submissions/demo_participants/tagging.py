"""Predictors for token classification (NER): the gold tags with a deliberate distortion.

`_tag` applies a transform to each row's gold tag list: `_retype` relabels entities of one type
as another with some probability, `_ner_truncate` loses every entity past a token limit, and
`_ner_single_tokens` keeps only the first token of multi-token entities.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from submissions.demo_participants.base import Predictor, Row


def _tag(transform: Callable[[list[str], Row, random.Random], list[str]]) -> Predictor:
    def predict(task, rows, rng):
        return [transform(list(row[task.label_column]), row, rng) for row in rows]

    return predict


def _retype(source: str, target: str, rate: float):
    """Entities of type `source` tagged as `target` with probability `rate` each."""

    def transform(tags, row, rng):
        for i, tag in enumerate(tags):
            if tag == f"B-{source}":
                flip = rng.random() < rate
                j = i
                while flip and j < len(tags) and tags[j] in (f"B-{source}", f"I-{source}"):
                    if j > i and tags[j] == f"B-{source}":
                        break
                    tags[j] = tags[j][:2] + target
                    j += 1
        return tags

    return transform


def _ner_truncate(limit: int):
    def transform(tags, row, rng):
        return [tag if i < limit else "O" for i, tag in enumerate(tags)]

    return transform


def _ner_single_tokens(tags, row, rng):
    """Multi-token entities lose everything after their first token."""
    return ["O" if tag.startswith("I-") else tag for tag in tags]
