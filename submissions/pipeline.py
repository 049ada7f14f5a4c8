"""A submission's life, from upload to scores: publish the job, claim it, compute the
evaluations with the scoring library, record the outcome; baselines; rescoring; the reaper that
keeps anything from staying stuck. Reading and checking an upload is in submissions/uploads.py.
The submissions app's services alone change a submission's status, and this module is where
the worker's changes happen (docs/architecture.md)."""

from __future__ import annotations

import io
import logging
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from benchmarks.models import Split
from scoring.evaluation import score_split
from scoring.predictions import (
    PredictionFileError,
)
from submissions.models import Evaluation, Submission
from submissions.uploads import (
    PredictionsRejected,
    read_and_check,
    split_table,
    task_files,
)

logger = logging.getLogger(__name__)

Status = Submission.Status
SCORER_VERSION = "1"
PROGRESS_INTERVAL_S = 0.5


# Publishing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOptions:
    """Where a submission's job runs and for how long, decided when it is published."""

    queue: str
    soft_time_limit: int
    time_limit: int

    def as_celery(self) -> dict:
        return {
            "queue": self.queue,
            "soft_time_limit": self.soft_time_limit,
            "time_limit": self.time_limit,
        }


def job_options(submission: Submission) -> JobOptions:
    """Prediction files are scored on the CPU queue: a million rows take seconds, so the soft
    limit means something is wrong, and the hard limit leaves time to record the failure."""
    soft = settings.SCORING_TIME_LIMIT_SECONDS
    return JobOptions(queue="scoring", soft_time_limit=soft, time_limit=soft + 60)


def enqueue(submission: Submission) -> None:
    """Publish the scoring job. A broker that is down must not turn an accepted upload into an
    error page: the failure is logged and the reaper publishes the job again later."""
    from submissions.tasks import score_submission

    try:
        score_submission.apply_async(
            args=[submission.pk],
            task_id=submission.celery_task_id,
            **job_options(submission).as_celery(),
        )
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.error("Could not enqueue submission %s: %s", submission.pk, type(exc).__name__)


def job_revoke(submission: Submission) -> None:
    """Best effort: a revoked job is dropped by the worker that receives it; a running job also
    stops at its final check, since it records only over a running row."""
    from submissions.tasks import score_submission

    if not submission.celery_task_id:
        return
    try:
        score_submission.app.control.revoke(submission.celery_task_id)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.warning("Could not revoke %s: %s", submission.pk, type(exc).__name__)


# The worker's state changes --------------------------------------------------------------


def submission_claim(*, submission_id: int, now=None) -> int | None:
    """Atomically take a submission to run: a queued one, or a running one whose lease expired
    (its worker died: no heartbeat for LEASE). Returns this run's claim number, which the run's
    later writes are conditional on, or None when someone else has it, it was cancelled, or it
    is final: redelivered and duplicate messages do nothing."""
    now = now or timezone.now()
    dead = Q(status=Status.RUNNING, heartbeat_at__lt=now - settings.LEASE)
    claimable = Submission.objects.filter(Q(status=Status.QUEUED) | dead, pk=submission_id)
    if not claimable.update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        progress=0.0,
        claims=F("claims") + 1,
    ):
        return None
    return Submission.objects.values_list("claims", flat=True).get(pk=submission_id)


class Heartbeat:
    """While a run lasts, a thread renews its lease every HEARTBEAT; when the worker process
    dies, the heartbeats stop and the lease expires, so the job can be claimed again."""

    def __init__(self, *, submission_id: int, claim: int):
        self.submission_id, self.claim = submission_id, claim
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True, name="heartbeat")

    def beat(self) -> None:
        try:
            while not self.stopped.wait(settings.HEARTBEAT.total_seconds()):
                Submission.objects.filter(
                    pk=self.submission_id, status=Status.RUNNING, claims=self.claim
                ).update(heartbeat_at=timezone.now())
        except Exception as exc:  # the lease then expires: the job is run again, not lost
            logger.warning("Heartbeat of %s stopped: %s", self.submission_id, type(exc).__name__)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()


def submission_set_progress(*, submission_id: int, claim: int, progress: float) -> None:
    Submission.objects.filter(pk=submission_id, status=Status.RUNNING, claims=claim).update(
        progress=min(max(progress, 0.0), 1.0), heartbeat_at=timezone.now()
    )


def submission_fail(
    *, submission_id: int, message: str, by_platform: bool = False, claim: int | None = None
) -> bool:
    """Record a failure with a participant-safe message. Only unfinished submissions change;
    a run's own failure (`claim`) only while it still holds the submission."""
    rows = Submission.objects.filter(pk=submission_id).unfinished()
    if claim is not None:
        rows = rows.filter(status=Status.RUNNING, claims=claim)
    return bool(
        rows.update(
            status=Status.FAILED,
            error=message,
            failed_by_platform=by_platform,
            finished_at=timezone.now(),
        )
    )


def submission_record(*, submission_id: int, claim: int, evaluations: list[Evaluation]) -> bool:
    """Store the scores and mark the submission scored, only over a row this run still holds:
    a cancelled or reaped submission stays so, a run that lost its lease (claimed again after
    its heartbeats stopped) records nothing, and its scores are dropped."""
    with transaction.atomic():
        finished = Submission.objects.filter(
            pk=submission_id, status=Status.RUNNING, claims=claim
        ).update(status=Status.SCORED, progress=1.0, finished_at=timezone.now())
        if finished:
            # A running row has no evaluations: they are only ever stored together with the
            # change to scored (rescoring replaces those of scored rows).
            Evaluation.objects.bulk_create(evaluations)
    return bool(finished)


# Scoring ---------------------------------------------------------------------------------


def provenance_for(split: Split, result_provenance: dict) -> dict:
    return {
        **result_provenance,
        "split": {
            "name": split.name,
            "fingerprint": split.fingerprint,
            "rows": split.num_rows,
            "hub_repo_id": split.hub_repo_id or None,
            "hub_commit": split.hub_commit or None,
        },
        "scorer_version": SCORER_VERSION,
        "scored_at": timezone.now().isoformat(),
    }


def evaluations_compute(*, submission: Submission, on_progress=None) -> list[Evaluation]:
    """Score every task file of a submission on every scored split (unsaved Evaluations)."""
    with submission.file.open("rb") as f:
        files = task_files(
            benchmark=submission.benchmark,
            task=submission.task,
            fileobj=io.BytesIO(f.read()),
            filename=submission.original_filename or submission.file.name,
        )
    splits = {tf.task.pk: list(tf.task.scored_splits) for tf in files}
    total = sum(len(task_splits) for task_splits in splits.values())
    evaluations = []
    for tf in files:
        predictions = read_and_check(tf)
        spec = tf.task.spec()
        for split in splits[tf.task.pk]:
            try:
                result = score_split(
                    spec,
                    split_table(split),
                    predictions,
                    resamples=settings.BOOTSTRAP_RESAMPLES,
                    seed=0,
                )
            except PredictionFileError as exc:
                raise PredictionsRejected(exc.messages) from None
            evaluations.append(
                Evaluation(
                    submission=submission,
                    task=tf.task,
                    split=split,
                    metrics=result["metrics"],
                    slices=result["slices"],
                    confusion=result.get("confusion"),
                    provenance=provenance_for(split, result["provenance"]),
                )
            )
            if on_progress:
                on_progress(len(evaluations) / total)
    return evaluations


def submission_score(*, submission_id: int) -> None:
    """The scoring job: claim the submission, score it under a heartbeat, and record the
    outcome. A bad file is an outcome (failed + message), and so is a file that takes longer
    than the time limit to score (its content made it so; files that are too large are refused
    at upload). An unexpected error fails the submission as the platform's fault and is logged
    without its message, which could quote data."""
    claim = submission_claim(submission_id=submission_id)
    if claim is None:
        return
    submission = Submission.objects.select_related("benchmark", "task").get(pk=submission_id)
    last_write = time.monotonic()

    def progress(value: float) -> None:
        # Scoring is most of the work; leave the last step for the save. A fast job finishes
        # before a page could show its progress: write at most every half second.
        nonlocal last_write
        if time.monotonic() - last_write >= PROGRESS_INTERVAL_S:
            last_write = time.monotonic()
            submission_set_progress(submission_id=submission_id, claim=claim, progress=0.95 * value)

    def fail(message: str, *, by_platform: bool = False) -> None:
        submission_fail(
            submission_id=submission_id, claim=claim, message=message, by_platform=by_platform
        )

    try:
        with Heartbeat(submission_id=submission_id, claim=claim):
            evaluations = evaluations_compute(submission=submission, on_progress=progress)
    except PredictionsRejected as exc:
        fail("\n".join(exc.messages))
        return
    except SoftTimeLimitExceeded:
        seconds = job_options(submission).soft_time_limit
        limit = f"{round(seconds / 60)}-minute" if seconds >= 120 else f"{seconds}-second"
        fail(
            f"Scoring this file took longer than the {limit} limit and was stopped. "
            "Files within the upload limits score in seconds, so this one's content made it "
            "slow (very long predictions, for example); it counts towards your quota."
        )
        return
    except (OperationalError, InterfaceError) as exc:
        # The database went away (a restart, a dropped connection): not the file's fault and
        # not a failure to record, since recording needs the database too. The run ends; its
        # heartbeats have stopped, so the reaper publishes the job again once the lease expires.
        logger.warning(
            "Scoring submission %s lost the database: %s", submission_id, type(exc).__name__
        )
        raise
    except Exception as exc:
        logger.error(
            "Scoring submission %s failed with %s:\n%s",
            submission_id,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        fail(
            "Scoring failed because of an internal error. It has been logged and does "
            "not count towards your quota.",
            by_platform=True,
        )
        return
    submission_record(submission_id=submission_id, claim=claim, evaluations=evaluations)


def submission_rescore(*, submission: Submission, save: bool = True) -> list[dict]:
    """Recompute a scored submission's evaluations from its stored file and the frozen splits,
    and report every metric value that changed (beyond float noise). With `save`, the new
    evaluations replace the old ones, so scores follow a metric fix."""
    old = {
        (e.split_id, key): entry.get("value")
        for e in submission.evaluations.all()
        for key, entry in e.metrics.items()
    }
    new_evaluations = evaluations_compute(submission=submission)
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
        with transaction.atomic():
            Evaluation.objects.filter(submission=submission).delete()
            Evaluation.objects.bulk_create(new_evaluations)
    return changes


# The reaper ------------------------------------------------------------------------------


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
        "task_id",
    )
    for submission in candidates:
        if submission.status == Status.RUNNING:
            if submission.claims >= settings.MAX_CLAIMS:
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
        if lease_expired and submission.claims >= settings.MAX_CLAIMS:
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
