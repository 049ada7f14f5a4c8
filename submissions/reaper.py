"""The reaper (queue `maintenance`): nothing stays stuck. Jobs that no live worker holds are
published again; runs that will not finish are failed as the platform's fault
(docs/queue.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from submissions.models import Submission
from submissions.pipeline import enqueue, job_options, submission_fail

logger = logging.getLogger(__name__)

Status = Submission.Status


def max_claims(submission: Submission) -> int:
    """How many times a job may be taken before the reaper gives up: MAX_CLAIMS per stage (a
    model submission's claims go on counting through its two stages)."""
    stages = 2 if submission.kind == Submission.Kind.MODEL else 1
    return settings.MAX_CLAIMS * stages


def republish_delay(attempts: int) -> timedelta:
    """How long a queued job waits before it is published again: REQUEUE_AFTER, doubling with
    every republish up to REQUEUE_MAX, so that a long backlog behind busy workers does not
    fill the queue with copies."""
    delay = settings.REQUEUE_AFTER * (2 ** min(attempts, 16))
    return min(delay, max(settings.REQUEUE_AFTER, settings.REQUEUE_MAX))


def submission_requeue_stale(*, now=None) -> list[int]:
    """Publish again the jobs that no live worker holds:
    - submissions still queued after their back-off (a publish that failed, a message lost
      with a broker);
    - runs whose lease expired (no heartbeat for LEASE: their worker died), at once after the
      death, then with the same back-off; a redelivered message would wait out the broker's
      visibility timeout, this does not.
    Claims are atomic, so a job that was only slow to start is still scored once. A queued
    submission is never failed for waiting: a backlog is not a fault, its page says it waits."""
    now = now or timezone.now()
    requeued = []
    waiting = Q(status=Status.QUEUED, created_at__lt=now - settings.REQUEUE_AFTER)
    dead = Q(status=Status.RUNNING, heartbeat_at__lt=now - settings.LEASE)
    candidates = Submission.objects.filter(waiting | dead).only(
        "pk",
        "status",
        "attempts",
        "created_at",
        "requeued_at",
        "heartbeat_at",
        "claims",
        "celery_task_id",
        "kind",
        "stage",
        "task_id",
        "benchmark_id",
    )
    for submission in candidates:
        if submission.status == Status.RUNNING:
            if submission.claims >= max_claims(submission):
                continue  # submission_reap_stuck fails it
            died_at = submission.heartbeat_at + settings.LEASE
            republished_since = submission.requeued_at and submission.requeued_at >= died_at
            due = not republished_since or (
                now - submission.requeued_at >= republish_delay(submission.attempts)
            )
        else:
            waiting_since = submission.requeued_at or submission.created_at
            due = now - waiting_since >= republish_delay(submission.attempts)
        # Conditional on what was read, so that two reapers never both republish.
        if due and Submission.objects.filter(
            pk=submission.pk, status=submission.status, attempts=submission.attempts
        ).update(attempts=submission.attempts + 1, requeued_at=now):
            enqueue(submission)
            requeued.append(submission.pk)
    if requeued:
        logger.warning("Published again the jobs no worker holds: %s", requeued)
    return requeued


def submission_reap_stuck(*, now=None) -> list[int]:
    """Fail the runs that will not finish: a run whose worker died MAX_CLAIMS times (its lease
    expired after its last claim), and a run past its job's hard time limit by REAPER_GRACE
    although its heartbeat goes on (a worker that does not enforce time limits). Both fail as
    the platform's fault: the quota is not charged."""
    now = now or timezone.now()
    reaped = []
    running = Submission.objects.filter(status=Status.RUNNING).select_related("task")
    for submission in running:
        limit = job_options(submission).time_limit + settings.REAPER_GRACE.total_seconds()
        lease_expired = submission.heartbeat_at and now - submission.heartbeat_at > settings.LEASE
        if lease_expired and submission.claims >= max_claims(submission):
            message = (
                f"The scorer stopped {submission.claims} times while scoring this submission, "
                "so it was given up. This was the platform's fault and does not count towards "
                "your quota; please tell the benchmark's authors if it happens again."
            )
        elif submission.started_at and now - submission.started_at > timedelta(seconds=limit):
            minutes = max(1, round(limit / 60))
            message = (
                f"Scoring did not finish within {minutes} minutes and was stopped. This was "
                "the platform's fault and does not count towards your quota; please submit "
                "again."
            )
        else:
            continue
        if submission_fail(submission_id=submission.pk, message=message, by_platform=True):
            reaped.append(submission.pk)
    if reaped:
        logger.warning("Reaped stuck submissions: %s", reaped)
    return reaped
