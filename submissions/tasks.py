"""Celery tasks: thin wrappers that take ids and call one pipeline function. Queues and time
limits are chosen when a job is published (submissions.pipeline.job_options), not here."""

from __future__ import annotations

from celery import shared_task

from submissions import model_runs, pipeline, reaper


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
