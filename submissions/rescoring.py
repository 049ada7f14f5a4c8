"""Rescoring: a scored submission's evaluations recomputed from its stored file and the frozen
splits (`manage.py rescore`, the admin's "Re-run" action through `tasks.rescore_submission`),
with every metric value that changed reported."""

from __future__ import annotations

from django.db import transaction

from submissions.board_entries import entries_refresh
from submissions.models import Evaluation, Submission
from submissions.pipeline import evaluations_compute, examples_discard


def submission_rescore(*, submission: Submission, save: bool = True) -> list[dict]:
    """Recompute a scored submission's evaluations from its stored file and the frozen splits,
    and report every metric value that changed (beyond float noise). With `save`, the new
    evaluations replace the old ones, so scores follow a metric fix."""
    old = {
        (e.split_id, key): entry.get("value")
        for e in submission.evaluations.all()
        for key, entry in e.metrics.items()
    }
    new_evaluations = evaluations_compute(submission=submission, examples=save)
    changes = []
    for evaluation in new_evaluations:
        for key, entry in evaluation.metrics.items():
            before, after = old.get((evaluation.split_id, key)), entry.get("value")
            same = (before is None and after is None) or (
                before is not None and after is not None and abs(before - after) <= 1e-12
            )
            if not same:
                changes.append(
                    {
                        "submission": submission.pk,
                        "task": evaluation.task.slug,
                        "split": evaluation.split.name,
                        "metric": key,
                        "before": before,
                        "after": after,
                    }
                )
    if save:
        replaced = list(Evaluation.objects.filter(submission=submission))
        with transaction.atomic():
            Evaluation.objects.filter(submission=submission).delete()
            Evaluation.objects.bulk_create(new_evaluations)
            entries_refresh([submission.pk])
            transaction.on_commit(lambda: examples_discard(replaced))
    return changes
