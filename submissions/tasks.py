"""Celery tasks: thin wrappers that take ids and call one pipeline function. Queues and time
limits are chosen when a job is published (submissions.pipeline.job_options), not here."""

from __future__ import annotations

import logging

from celery import shared_task

from submissions import model_runs, pipeline, reaper, rescoring
from submissions.models import Submission
from submissions.uploads import PredictionsRejected

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(ConnectionError,),  # infrastructure only: a bad file is an outcome
    retry_backoff=True,
    max_retries=3,
)
def score_submission(submission_id: int) -> None:
    pipeline.submission_score(submission_id=submission_id)


@shared_task(
    acks_late=True,
    autoretry_for=(ConnectionError,),  # infrastructure only: a model that fails is an outcome
    retry_backoff=True,
    max_retries=3,
)
def run_model(submission_id: int) -> None:
    """A model submission's run stage, on the `gpu` queue; it publishes the scoring job."""
    model_runs.submission_run(submission_id=submission_id)


@shared_task(acks_late=True)
def rescore_submission(submission_id: int) -> None:
    """Recompute a scored submission's evaluations from its stored file (the admin's action
    "Re-run", as `manage.py rescore` does), published with the scoring queue's time limits. A
    submission no longer scored is left alone; a file the checks now refuse keeps its scores."""
    submission = Submission.objects.scored().select_related("benchmark", "task")
    submission = submission.filter(pk=submission_id).first()
    if submission is None:
        return
    try:
        rescoring.submission_rescore(submission=submission)
    except PredictionsRejected as exc:
        logger.warning("Cannot rescore submission %s: %s", submission_id, "; ".join(exc.messages))


# On its own queue (`maintenance`, see settings), so that a scoring backlog cannot delay it; a
# few indexed queries, hence the short limits.
@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def reap_stuck_submissions() -> dict:
    """Nothing stays stuck: publish again the jobs that are slow to start, fail the runs whose
    worker died."""
    return {
        "requeued": reaper.submission_requeue_stale(),
        "reaped": reaper.submission_reap_stuck(),
    }
