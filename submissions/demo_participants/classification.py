"""Predictors for classification tasks (text and image): right with a probability per row.

`_classify` gives the gold label with probability `accuracy(row)` and otherwise another label,
or the `bias` label when one is given, so that a participant's errors concentrate where its
failure pattern says (negations, long inputs, dark images, ...).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from benchmarks.models import Task
from submissions.demo_participants.base import Predictor, Row


def _label(task: Task, row: Row) -> str:
    value = row[task.label_column]
    return task.label_names[value] if isinstance(value, int) else value


def _other(task: Task, label: str, rng: random.Random) -> str:
    return rng.choice([name for name in task.label_names if name != label])


def _classify(accuracy: Callable[[Row], float], bias: str | None = None) -> Predictor:
    """Right with probability `accuracy(row)`; wrong answers go to `bias` when given."""

    def predict(task, rows, rng):
        out = []
        for row in rows:
            gold = _label(task, row)
            if rng.random() < accuracy(row):
                out.append(gold)
            else:
                out.append(bias if bias and bias != gold else _other(task, gold, rng))
        return out

    return predict
