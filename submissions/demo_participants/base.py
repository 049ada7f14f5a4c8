"""What a simulated participant is: one entry (name, description, predictor) per benchmark.

A predictor maps a task, the rows of its scored splits and a seeded `random.Random` to one
prediction per row; the rows hold only the task's own columns (id, label, metadata and, but for
images, inputs). `_described` writes an entry's description: the system, its known weakness,
and the notice that it is a simulation of the demo.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.models import Task

# Every column a predictor may read, per task, is one of the task's own; the image bytes are
# not needed (the simulations work from the label and the metadata).
Row = dict
Predictor = Callable[[Task, list[Row], random.Random], list]


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    predict: Predictor


@dataclass(frozen=True)
class Participant:
    username: str
    entries: dict[str, Entry]  # benchmark slug -> entry


def _described(summary: str, pattern: str, slug: str) -> str:
    return (
        f"{summary}\n\n"
        f"**Known weakness:** {pattern}\n\n"
        "*A simulated participant of the demo: its predictions are derived from the gold data "
        "by `submissions/demo_participants/` to show a failure pattern in the breakdowns.* "
        f"[Paper](https://example.org/papers/{slug}) · [Code](https://example.org/code/{slug})"
    )
