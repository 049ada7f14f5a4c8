"""Task specs for the scoring tests: the dict `score_split` takes, built from a few arguments."""

from __future__ import annotations


def task(task_type, label, inputs, labels=(), metrics=None, slices=()):
    return {
        "slug": "t",
        "type": task_type,
        "columns": {
            "id": "id",
            "inputs": list(inputs),
            "label": label,
            "labels": list(labels),
            "metadata": [],
        },
        "metrics": metrics,
        "slices": list(slices),
    }
