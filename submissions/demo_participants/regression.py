"""Predictors for regression tasks: the gold score distorted by a per-row error, kept in 1 to 5.

`_regress` applies `error(gold, row, rng)` to each row's gold score and clips the result to the
star scale of the demo's regression benchmark, rounded to two decimals.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from submissions.demo_participants.base import Predictor, Row


def _regress(error: Callable[[float, Row, random.Random], float]) -> Predictor:
    def predict(task, rows, rng):
        return [
            round(min(5.0, max(1.0, error(float(row[task.label_column]), row, rng))), 2)
            for row in rows
        ]

    return predict
