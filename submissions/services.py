"""Submission workflows: create (validate, store, enqueue), cancel, and the state changes the
worker makes. Only these functions change a submission's status."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from benchmarks.models import Benchmark, Task
from submissions.models import Submission

logger = logging.getLogger(__name__)

Status = Submission.Status


class SubmissionError(Exception):
    """A submission that cannot be accepted, with messages a participant can act on.
    `status_code` is what the API answers: 400 bad input, 403 not allowed, 429 over quota."""

    def __init__(self, messages: list[str] | str, *, status_code: int = 400):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.status_code = status_code
        super().__init__("; ".join(self.messages))


def _check_policy(*, benchmark: Benchmark, participant, kind: str) -> None:
    now = timezone.now()
    if benchmark.opens_at and now < benchmark.opens_at:
        raise SubmissionError(
            f"Submissions open at {benchmark.opens_at:%Y-%m-%d %H:%M} UTC.", status_code=403
        )
    if benchmark.is_closed(now):
        raise SubmissionError(
            f"Submissions closed at {benchmark.closes_at:%Y-%m-%d %H:%M} UTC.", status_code=403
        )
    if kind not in benchmark.kinds:
        accepted = " or ".join(benchmark.kinds)
        raise SubmissionError(
            f"This benchmark does not accept {kind} submissions; it accepts {accepted}.",
            status_code=403,
        )
    quota = submission_quota(benchmark=benchmark, participant=participant, now=now)
    if quota.total == 0:
        raise SubmissionError(
            f"You have used all {benchmark.max_total} submissions allowed on this benchmark.",
            status_code=429,
        )
    if quota.today == 0:
        raise SubmissionError(
            f"You have used today's {benchmark.max_per_day} submissions; "
            f"the limit resets at {quota.resets_at:%Y-%m-%d %H:%M} UTC.",
            status_code=429,
        )


@dataclass(frozen=True)
class Quota:
    """Submissions left: `total` and `today` are None where the benchmark sets no limit."""

    total: int | None
    today: int | None
    resets_at: datetime


def submission_quota(*, benchmark: Benchmark, participant, now: datetime | None = None) -> Quota:
    """What is left of a participant's quota. Runs that failed through the platform's fault
    do not count; days are UTC days."""
    now = now or timezone.now()
    mine = Submission.objects.filter(
        benchmark=benchmark, participant=participant
    ).counting_towards_quota()
    day_start = datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)
    total = today = None
    if benchmark.max_total is not None:
        total = max(0, benchmark.max_total - mine.count())
    if benchmark.max_per_day is not None:
        today = max(0, benchmark.max_per_day - mine.filter(created_at__gte=day_start).count())
    return Quota(total=total, today=today, resets_at=day_start + timedelta(days=1))


def submission_create(
    *,
    benchmark: Benchmark,
    participant,
    uploaded_file: UploadedFile,
    task: Task | None = None,
    name: str = "",
    description: str = "",
) -> Submission:
    """Accept a prediction file: check the policy and quota, validate the file completely (so a
    participant hears about a bad file at once, not from a failed run), store it and enqueue
    scoring once the row is committed."""
    from scoring.services import PredictionsRejected, predictions_check

    if uploaded_file is None:
        raise SubmissionError("Attach a prediction file (field 'file').")
    limit = settings.MAX_PREDICTION_FILE_MB * 1024 * 1024
    if uploaded_file.size > limit:
        raise SubmissionError(
            f"The file is {uploaded_file.size / 2**20:.1f} MB; "
            f"the limit is {settings.MAX_PREDICTION_FILE_MB} MB."
        )
    if uploaded_file.size == 0:
        raise SubmissionError("The file is empty.")

    with transaction.atomic():
        # One submission at a time per participant, so two parallel uploads cannot both pass
        # the quota check.
        get_user_model().objects.select_for_update().filter(pk=participant.pk).first()
        _check_policy(benchmark=benchmark, participant=participant, kind="predictions")
        try:
            predictions_check(benchmark=benchmark, task=task, uploaded=uploaded_file)
        except PredictionsRejected as exc:
            raise SubmissionError(exc.messages) from None

        submission = Submission(
            benchmark=benchmark,
            participant=participant,
            task=task,
            kind=Submission.Kind.PREDICTIONS,
            original_filename=uploaded_file.name[:255],
            name=name.strip()[:200],
            description=description.strip(),
            celery_task_id=str(uuid.uuid4()),
        )
        uploaded_file.seek(0)
        submission.file.save(f"{uuid.uuid4().hex}-{uploaded_file.name}", uploaded_file, save=False)
        submission.save()
        transaction.on_commit(lambda: enqueue(submission))
    return submission


def enqueue(submission: Submission) -> None:
    """Publish the scoring job. A broker that is down must not turn an accepted upload into an
    error page: the failure is logged and the reaper publishes the job again later."""
    from scoring.tasks import score_submission

    try:
        score_submission.apply_async(args=[submission.pk], task_id=submission.celery_task_id)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.error("Could not enqueue submission %s: %s", submission.pk, type(exc).__name__)


def submission_cancel(*, submission: Submission) -> Submission:
    """Cancel a queued or running submission. A running worker notices when it tries to
    record its result (it only records over a `running` row)."""
    updated = (
        Submission.objects.filter(pk=submission.pk)
        .unfinished()
        .update(status=Status.CANCELLED, finished_at=timezone.now())
    )
    if not updated:
        submission.refresh_from_db()
        raise SubmissionError(
            f"Only queued or running submissions can be cancelled; this one is "
            f"{submission.get_status_display().lower()}.",
            status_code=400,
        )
    if submission.celery_task_id:
        from config.celery import app

        try:
            app.control.revoke(submission.celery_task_id)
        except Exception as exc:  # best effort: a running job also stops at its final check
            logger.warning("Could not revoke %s: %s", submission.pk, type(exc).__name__)
    submission.refresh_from_db()
    return submission


def submission_claim(*, submission_id: int) -> bool:
    """Atomically move a queued submission to running. False when someone else has it, it was
    cancelled, or it is already final: redelivered and duplicate messages do nothing."""
    return bool(
        Submission.objects.filter(pk=submission_id, status=Status.QUEUED).update(
            status=Status.RUNNING,
            started_at=timezone.now(),
            progress=0.0,
        )
    )


def submission_set_progress(*, submission_id: int, progress: float) -> None:
    Submission.objects.filter(pk=submission_id, status=Status.RUNNING).update(
        progress=min(max(progress, 0.0), 1.0)
    )


def submission_fail(*, submission_id: int, message: str, by_platform: bool = False) -> bool:
    """Record a failure with a participant-safe message. Only unfinished submissions change."""
    return bool(
        Submission.objects.filter(pk=submission_id)
        .unfinished()
        .update(
            status=Status.FAILED,
            error=message,
            failed_by_platform=by_platform,
            finished_at=timezone.now(),
        )
    )


def submission_requeue_stale(*, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Publish again the jobs of submissions still queued after `older_than` (a publish that
    failed, a message lost with a broker restart). Claims are atomic, so a job that was only
    slow to start is not scored twice."""
    limit = timezone.now() - older_than
    # Once only (`attempts` counts republished jobs): a long backlog behind busy workers must
    # not fill the queue with copies every minute.
    stale = list(
        Submission.objects.filter(
            status=Status.QUEUED,
            attempts=0,
            created_at__lt=limit,
            created_at__gte=limit - settings.STUCK_AFTER,
        )
    )
    for submission in stale:
        Submission.objects.filter(pk=submission.pk).update(attempts=1)
        enqueue(submission)
    if stale:
        logger.warning("Requeued submissions still queued: %s", [s.pk for s in stale])
    return [s.pk for s in stale]


def submission_reap_stuck(*, older_than: timedelta | None = None) -> list[int]:
    """Fail submissions left queued or running past the limit (a lost message, a dead worker),
    so nothing stays stuck. They fail as the platform's fault: the quota is not charged."""
    older_than = older_than or settings.STUCK_AFTER
    limit = timezone.now() - older_than
    minutes = max(1, int(older_than.total_seconds() // 60))
    message = (
        f"Scoring did not finish within {minutes} minutes and was stopped. This was the "
        "platform's fault and does not count towards your quota; please submit again."
    )
    reaped = []
    # The filters are repeated in the update so that a submission claimed or finished between
    # the two queries is left alone.
    for stuck in (
        Submission.objects.filter(status=Status.QUEUED, created_at__lt=limit),
        Submission.objects.filter(status=Status.RUNNING, started_at__lt=limit),
    ):
        ids = list(stuck.values_list("pk", flat=True))
        if ids and stuck.filter(pk__in=ids).update(
            status=Status.FAILED,
            error=message,
            failed_by_platform=True,
            finished_at=timezone.now(),
        ):
            reaped += ids
    if reaped:
        logger.warning("Reaped stuck submissions: %s", reaped)
    return reaped
