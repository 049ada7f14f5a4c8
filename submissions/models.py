from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


def submission_upload_to(submission: Submission, filename: str) -> str:
    return f"submissions/{submission.benchmark.slug}/{timezone.now():%Y/%m/%d}/{filename}"


class SubmissionQuerySet(models.QuerySet):
    def scored(self) -> SubmissionQuerySet:
        return self.filter(status=Submission.Status.SCORED)

    def unfinished(self) -> SubmissionQuerySet:
        return self.filter(status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING])

    def counting_towards_quota(self) -> SubmissionQuerySet:
        """Everything a participant submitted except runs that failed through our fault."""
        return self.exclude(status=Submission.Status.FAILED, failed_by_platform=True)

    def on_leaderboards(self) -> SubmissionQuerySet:
        return self.scored().filter(is_hidden=False, is_disqualified=False)


class Submission(models.Model):
    class Kind(models.TextChoices):
        PREDICTIONS = "predictions", "Prediction file"
        MODEL = "model", "Model"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SCORED = "scored", "Scored"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINAL_STATES = frozenset({Status.SCORED, Status.FAILED, Status.CANCELLED})

    benchmark = models.ForeignKey(
        "benchmarks.Benchmark", on_delete=models.CASCADE, related_name="submissions"
    )
    participant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    task = models.ForeignKey(
        "benchmarks.Task",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when a single prediction file targets one task of the benchmark.",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PREDICTIONS)
    file = models.FileField(upload_to=submission_upload_to, max_length=300, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    model_repo_id = models.CharField(max_length=200, blank=True)
    model_revision = models.CharField(max_length=200, blank=True)
    model_sha = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True, help_text="Shown on the leaderboard.")
    description = models.TextField(blank=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error = models.TextField(blank=True, help_text="Participant-safe message; never a label.")
    failed_by_platform = models.BooleanField(
        default=False, help_text="Failed through the platform's fault: does not use quota."
    )
    progress = models.FloatField(default=0.0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)  # scoring jobs republished by the reaper

    # Set only by benchmark authors and staff (admin), never through the participant API.
    is_baseline = models.BooleanField(default=False, help_text="Listed as a baseline.")
    is_hidden = models.BooleanField(default=False, help_text="Left off leaderboards.")
    is_disqualified = models.BooleanField(
        default=False, help_text="Left off leaderboards; the participant sees why."
    )

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["benchmark", "participant", "created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=1),
                name="submission_progress_range",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name or self.original_filename or self.model_repo_id}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATES

    @property
    def display_name(self) -> str:
        return self.name or self.original_filename or self.model_repo_id or f"#{self.pk}"
