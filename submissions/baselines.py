"""Automatic baselines: computed by the scoring library from what participants may see (the
train split, else the public ones; never hidden labels) and submitted like any submission, so
the worker scores them through the pipeline."""

from __future__ import annotations

import io
import logging
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction

from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import benchmark_import
from scoring.baselines import baselines_for
from submissions.models import Submission
from submissions.pipeline import enqueue
from submissions.uploads import split_table

logger = logging.getLogger(__name__)

BASELINE_USERNAME = "baseline"


def baselines_create(*, task: Task) -> list[Submission]:
    """Compute the task's automatic baselines and submit them as baseline submissions (scored
    by the worker like any other). Baselines learn from the train split, else the public
    splits; hidden labels are never used."""
    splits = list(task.splits.all())
    train = [s for s in splits if s.role == Split.Role.TRAIN]
    learn_from = train or [s for s in splits if s.role == Split.Role.PUBLIC]
    learn = pa.concat_tables([split_table(s) for s in learn_from]) if learn_from else None
    input_columns = [task.id_column, *task.input_columns]
    inputs = pa.concat_tables([split_table(s).select(input_columns) for s in task.scored_splits])
    spec = task.spec()
    baselines = baselines_for(
        spec, has_train=bool(train), learn_rows=learn.num_rows if learn else 0
    )
    if not baselines:
        return []
    owner, created = get_user_model().objects.get_or_create(username=BASELINE_USERNAME)
    if created:
        owner.set_unusable_password()
        owner.save(update_fields=["password"])
    submissions = []
    with transaction.atomic():
        # A re-import recomputes the baselines: the earlier ones go.
        Submission.objects.filter(task=task, participant=owner, is_baseline=True).delete()
        for name, baseline in baselines.items():
            table = baseline(spec, learn, inputs)
            sink = io.BytesIO()
            pq.write_table(table, sink)
            submission = Submission(
                benchmark=task.benchmark,
                participant=owner,
                task=task,
                name=name,
                description="Computed by the platform when the benchmark was imported.",
                original_filename=f"{task.slug}.parquet",
                is_baseline=True,
                celery_task_id=str(uuid.uuid4()),
            )
            submission.file.save(
                f"{uuid.uuid4().hex}-{task.slug}.parquet", ContentFile(sink.getvalue()), save=False
            )
            submission.save()
            submissions.append(submission)
        for submission in submissions:
            transaction.on_commit(lambda s=submission: enqueue(s))
    return submissions


def benchmark_baselines_create(*, benchmark: Benchmark) -> None:
    """The automatic baselines of every task, after every successful import (an update
    replaces the earlier ones). A baseline that cannot be computed is logged and skipped: the
    import itself has succeeded."""
    for task in benchmark.tasks.all():
        try:
            baselines_create(task=task)
        except Exception as exc:  # the import stands; the log says which task and why
            logger.error("Baselines for %s failed: %s", task, type(exc).__name__)


def benchmark_import_with_baselines(**kwargs) -> Benchmark:
    """Import a bundle (benchmarks.services.benchmark_import, same arguments), then submit the
    automatic baselines of every task once the import has committed."""
    benchmark = benchmark_import(**kwargs)
    transaction.on_commit(lambda: benchmark_baselines_create(benchmark=benchmark))
    return benchmark
