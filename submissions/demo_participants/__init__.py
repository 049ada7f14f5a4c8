"""Simulated participants for the demo benchmarks (`manage.py setup_demo`): a few users whose
prediction files are derived from the gold data with a distinct, deliberate failure pattern
each, so that the demo's leaderboards, result pages and slice breakdowns have something to show
(one system bad on negation, one that loses long inputs, one biased toward a class, ...).

The predictions are computed here, deterministically (a `random.Random` seeded per participant
and benchmark), rather than stored as files: they follow the demo data whenever
`demo/generate.py` changes it, and each pattern reads as code. They are submitted through
`submission_create`, the path of any upload (checked, stored, queued and scored by the worker);
one submission per participant and benchmark stays well inside the demo benchmarks' quotas.
They are simulations, said so in every description: they never compete on a real benchmark.

The package: `base` defines entries and participants, one module per task family
(`classification`, `regression`, `qa`, `tagging`, `summaries`) holds its predictors, `roster`
the participants; this module computes the prediction files and submits them.
"""

from __future__ import annotations

import json
import random

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from benchmarks.models import Benchmark, Task
from submissions.demo_participants.base import Entry, Participant, Predictor, Row
from submissions.demo_participants.roster import ADA, GRACE, LINUS, MARGARET, PARTICIPANTS
from submissions.models import Submission
from submissions.services import submission_create
from submissions.uploads import split_table


def predictions_for(task: Task, entry: Entry, *, seed: str) -> bytes:
    """The entry's prediction file (JSONL: `id`, `prediction`) over the task's scored splits."""
    columns = [task.id_column, task.label_column, *task.metadata_columns]
    if task.type != "image-classification":
        columns += task.input_columns
    rows = []
    for split in task.scored_splits:
        rows += split_table(split, tuple(dict.fromkeys(columns))).to_pylist()
    predictions = entry.predict(task, rows, random.Random(seed))
    lines = (
        json.dumps({"id": row[task.id_column], "prediction": prediction})
        for row, prediction in zip(rows, predictions, strict=True)
    )
    return "".join(line + "\n" for line in lines).encode()


def demo_participants_create(*, benchmarks: list[Benchmark] | None = None) -> list[Submission]:
    """Create the simulated participants (unusable passwords) and submit each one's entry on
    every demo benchmark that is imported, unless they already have. Idempotent; the new
    submissions are queued for the worker once committed."""
    benchmarks = benchmarks if benchmarks is not None else list(Benchmark.objects.all())
    by_slug = {b.slug: b for b in benchmarks}
    created = []
    User = get_user_model()
    for participant in PARTICIPANTS:
        user, new = User.objects.get_or_create(username=participant.username)
        if new:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        for slug, entry in participant.entries.items():
            benchmark = by_slug.get(slug)
            if benchmark is None:
                continue
            if Submission.objects.filter(
                benchmark=benchmark, participant=user, name=entry.name
            ).exists():
                continue
            task = benchmark.tasks.get()
            data = predictions_for(task, entry, seed=f"{participant.username}/{slug}")
            upload = ContentFile(data, name=f"{participant.username}-{slug}.jsonl")
            created.append(
                submission_create(
                    benchmark=benchmark,
                    participant=user,
                    uploaded_file=upload,
                    task=task,
                    name=entry.name,
                    description=entry.description,
                )
            )
    return created


__all__ = [
    "ADA",
    "GRACE",
    "LINUS",
    "MARGARET",
    "PARTICIPANTS",
    "Entry",
    "Participant",
    "Predictor",
    "Row",
    "demo_participants_create",
    "predictions_for",
]
