"""Celery tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from scoring import services
from submissions import services as submission_services


# Limits: a prediction file of a million rows scores in seconds; ten minutes means something
# is wrong, and the soft limit leaves time to record the failure before the hard kill.
@shared_task(
    acks_late=True,
    soft_time_limit=600,
    time_limit=660,
    autoretry_for=(ConnectionError,),  # infrastructure only: a bad file is an outcome
    retry_backoff=True,
    max_retries=3,
)
def score_submission(submission_id: int) -> None:
    services.submission_score(submission_id=submission_id)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)  # a few indexed queries
def reap_stuck_submissions() -> list[int]:
    """Nothing stays stuck: republish jobs that are slow to start, fail what is past the limit."""
    submission_services.submission_requeue_stale()
    return submission_services.submission_reap_stuck()
