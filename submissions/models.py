from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property

from scoring.tasktypes import key_scales, with_scales


def submission_upload_to(submission: Submission, filename: str) -> str:
    return f"submissions/{submission.benchmark.slug}/{timezone.now():%Y/%m/%d}/{filename}"


def run_output_upload_to(submission: Submission, filename: str) -> str:
    return f"runs/{submission.benchmark.slug}/{submission.pk}/{filename}"


# A link a participant gives (paper, code): web addresses only, never `javascript:` and the like.
WEB_ADDRESS = URLValidator(schemes=["http", "https"])


# Board groups (`BoardEntry.group`): a participant's own submissions are grouped under the
# participant's pk, a team's under TEAM_GROUPS + the team's pk, and each baseline is a group of
# its own under −(its pk).
TEAM_GROUPS = 1 << 48


def group_key(submission: int, participant: int, team: int | None, baseline: bool) -> int:
    """The board group of a submission, from its pk, participant, team and baseline flag."""
    if baseline:
        return -submission
    return TEAM_GROUPS + team if team else participant


class Team(models.Model):
    """Participants who compete together on one benchmark: their submissions share one quota
    and one row on each board. A participant is in one team per benchmark at most."""

    benchmark = models.ForeignKey(
        "benchmarks.Benchmark", on_delete=models.CASCADE, related_name="teams"
    )
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["benchmark", "name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "benchmark", name="team_name_unique_per_benchmark"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def group(self) -> int:
        return TEAM_GROUPS + self.pk


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    # The team's benchmark, repeated so that the database keeps one team per user per benchmark.
    benchmark = models.ForeignKey(
        "benchmarks.Benchmark", on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships"
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "user"], name="one_team_per_benchmark"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.team_id}"


class TeamInvitation(models.Model):
    """An invitation to a team, of an account (by username) or of an e-mail address (any
    account with that address may accept it)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="team_invitations",
    )
    email = models.EmailField(blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    accepted = models.BooleanField(null=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id or self.email} to {self.team_id}"


class SubmissionQuerySet(models.QuerySet):
    def scored(self) -> SubmissionQuerySet:
        return self.filter(status=Submission.Status.SCORED)

    def unfinished(self) -> SubmissionQuerySet:
        return self.filter(status__in=[Submission.Status.QUEUED, Submission.Status.RUNNING])

    def counting_towards_quota(self) -> SubmissionQuerySet:
        """Everything a participant submitted except runs that failed through our fault and
        runs cancelled before they started (they yield no score, so nothing can be probed
        with them)."""
        return self.exclude(status=Submission.Status.FAILED, failed_by_platform=True).exclude(
            status=Submission.Status.CANCELLED, started_at__isnull=True
        )

    def on_leaderboards(self) -> SubmissionQuerySet:
        return self.scored().filter(is_hidden=False, is_disqualified=False, is_private=False)


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

    class Stage(models.TextChoices):
        RUN = "run", "Running the model"
        SCORE = "score", "Scoring"

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
    # The team the participant submitted for (their team on the benchmark at the time; when a
    # participant joins a team, their earlier submissions there become the team's).
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="submissions"
    )
    # The phase it was made in (None on a benchmark without phases): scored on its splits only.
    # A phase with submissions cannot be deleted (its benchmark can, with them).
    phase = models.ForeignKey(
        "benchmarks.Phase",
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="submissions",
    )
    # The participant's choice for the final board (at most `Benchmark.max_final` of a group).
    selected_final = models.BooleanField(default=False)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PREDICTIONS)
    file = models.FileField(
        upload_to=submission_upload_to,
        max_length=300,
        blank=True,
        help_text="The prediction file, or the model archive of an uploaded model.",
    )
    original_filename = models.CharField(max_length=255, blank=True)
    model_repo_id = models.CharField(max_length=200, blank=True)
    model_revision = models.CharField(max_length=200, blank=True)
    model_sha = models.CharField(
        max_length=80,
        blank=True,
        help_text="The Hub commit the revision resolved to, or sha256:<hex> of an archive.",
    )
    # A model submission passes two stages: `run` (the gpu queue: sandboxed inference writes
    # `run_output`), then `score` (the scoring queue, as a prediction file). Between them the
    # submission is queued again. Prediction files have only `score`.
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.SCORE)
    rows_done = models.PositiveBigIntegerField(default=0, help_text="Rows the model has run.")
    rows_total = models.PositiveBigIntegerField(default=0, help_text="Rows the model runs on.")
    stage_seconds = models.JSONField(
        default=dict, blank=True, help_text="Seconds per stage: queued, fetch, run, score."
    )
    run_output = models.FileField(
        upload_to=run_output_upload_to,
        max_length=300,
        blank=True,
        help_text="Predictions the model run wrote (a zip of <task>.parquet).",
    )
    run_info = models.JSONField(
        default=dict, blank=True, help_text="Per task: what the model run measured (run.json)."
    )
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
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times the reaper published the job again."
    )
    requeued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the reaper last published the job again."
    )
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the run (its lease)."
    )
    claims = models.PositiveIntegerField(
        default=0, help_text="How many times a worker took the job to run."
    )

    # Set only by benchmark authors and staff (admin), never through the participant API.
    is_baseline = models.BooleanField(default=False, help_text="Listed as a baseline.")
    # The participant's links, shown in the board's rows (web addresses only).
    paper_url = models.URLField(max_length=500, blank=True, validators=[WEB_ADDRESS])
    code_url = models.URLField(max_length=500, blank=True, validators=[WEB_ADDRESS])
    is_hidden = models.BooleanField(default=False, help_text="Left off leaderboards.")
    is_disqualified = models.BooleanField(
        default=False, help_text="Left off leaderboards; the participant sees why."
    )
    moderation_reason = models.TextField(
        blank=True,
        help_text="Why it is hidden, disqualified or a baseline: shown to the participant (and "
        "to the benchmark's maintainers and reviewers), never to anyone else.",
    )
    # Set by the participant: a private submission is left off public boards and its result
    # page is seen by its owner, the benchmark's maintainers and staff only.
    is_private = models.BooleanField(
        default=False, help_text="Kept off public boards; only its owner and maintainers see it."
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
    def group(self) -> int:
        """Whose best the boards show: the team's, the participant's, or a baseline's own."""
        return group_key(self.pk, self.participant_id, self.team_id, self.is_baseline)

    @property
    def competitor(self) -> str:
        """The name a board shows: the team's, else the participant's username."""
        return self.team.name if self.team_id else self.participant.username

    def scored_splits(self, task) -> list:
        """The task's splits this submission is scored on: its phase's, or every scored one."""
        return self.phase.task_splits(task) if self.phase_id else task.scored_splits

    @property
    def hub_url(self) -> str | None:
        """The Hub page of a model submission's repository at the commit that ran."""
        if not self.model_repo_id or not self.model_sha:
            return None
        return f"https://huggingface.co/{self.model_repo_id}/tree/{self.model_sha}"

    @property
    def display_name(self) -> str:
        return self.name or self.original_filename or self.model_repo_id or f"#{self.pk}"


def cell_key(slice_name: str, cell: str) -> str:
    """The key of a slice cell in `Evaluation.cell_values`."""
    return "c" + hashlib.sha1(f"{slice_name}\0{cell}".encode()).hexdigest()[:16]


class Evaluation(models.Model):
    """Scores of one submission on one split of one task, with everything needed to reproduce
    them (provenance)."""

    submission = models.ForeignKey(
        "Submission", on_delete=models.CASCADE, related_name="evaluations"
    )
    task = models.ForeignKey("benchmarks.Task", on_delete=models.CASCADE, related_name="+")
    split = models.ForeignKey(
        "benchmarks.Split", on_delete=models.CASCADE, related_name="evaluations"
    )
    # {"accuracy": {"value": 0.71, "ci": [0.66, 0.75]}, ...}; a value may be null (undefined).
    metrics = models.JSONField(default=dict)
    # [{"slice": "topic", "cell": "billing", "n": 42, "metrics": {...}}, ...], unsuppressed:
    # suppression for hidden splits is applied when shown, so a rule change needs no rescoring.
    slices = models.JSONField(default=list, blank=True)
    confusion = models.JSONField(null=True, blank=True)
    efficiency = models.JSONField(null=True, blank=True)
    provenance = models.JSONField(default=dict)
    # Slice cells' metric values keyed by `cell_key(slice, cell)` (a hash: safe in a JSON path on
    # every database), undefined values left out, so that a board can rank on one cell in SQL.
    # Derived from `slices`; which cells a viewer may rank on is decided when shown.
    cell_values = models.JSONField(default=dict, blank=True)
    # Per-example results (id, prediction, score, correct, slice cells) as Parquet, in gold
    # order. Private: read by the error browser (public splits only) and the comparison's
    # paired bootstrap; never served as a file.
    examples = models.FileField(upload_to="examples/%Y/%m/", blank=True, max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "split"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "split"], name="evaluation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.submission_id} on {self.split}"

    def save(self, *args, **kwargs):
        self.cell_values = self.cell_values_compute()
        super().save(*args, **kwargs)

    @cached_property
    def display_metrics(self) -> dict:
        """The metric entries with the display scale of each (from the task's metric specs)."""
        return with_scales(self.metrics, key_scales(self.task.metrics))

    def cell_values_compute(self) -> dict:
        """`cell_values` from `slices`."""
        return {
            cell_key(cell["slice"], cell["cell"]): {
                k: v["value"]
                for k, v in (cell.get("metrics") or {}).items()
                if v and v.get("value") is not None
            }
            for cell in self.slices or []
            if cell.get("n")
        }

    def value(self, key: str) -> float | None:
        entry = self.metrics.get(key)
        return None if entry is None else entry.get("value")


class PairedTest(models.Model):
    """The paired bootstrap of two evaluations on one split (`submissions/significance.py`):
    per metric key, `{"delta": second − first, "ci": [lo, hi], "p_value": p}`. Stored for a
    board's neighbours and its top row, so that reading a board reads these, never the data.
    `files` are the two evaluations' per-example files it was computed from: a rescored
    evaluation has other files, and its old tests no longer count."""

    split = models.ForeignKey("benchmarks.Split", on_delete=models.CASCADE, related_name="+")
    first = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+")
    results = models.JSONField(default=dict)
    files = models.JSONField(default=list)
    resamples = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="paired_test_unique"),
            models.CheckConstraint(
                condition=models.Q(first__lt=models.F("second")), name="paired_test_order"
            ),
        ]
        indexes = [models.Index(fields=["split", "first"])]

    def __str__(self) -> str:
        return f"{self.first_id} vs {self.second_id}"


class BoardEntry(models.Model):
    """One row of a default board (each participant's best, every kind, ranked on a metric of
    the whole split), kept by `submissions/board_entries.py` whenever what a board shows
    changes: a submission scored, rescored, made private, flagged or deleted. `group` is the
    participant, or −submission for a baseline (each baseline is a row of its own).
    `sort_value` is the value negated where higher is better, and `missing` says there is no
    value, so that one ascending index range, missing values last, reads any board best
    first."""

    split = models.ForeignKey("benchmarks.Split", on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=100)
    group = models.BigIntegerField()
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="+")
    evaluation = models.ForeignKey(Evaluation, on_delete=models.CASCADE, related_name="+")
    is_baseline = models.BooleanField(default=False)
    created_at = models.DateTimeField()  # the submission's: the tie-break after the value
    value = models.FloatField(null=True)
    missing = models.BooleanField(default=False)
    sort_value = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["split", "metric", "group"], name="board_entry_unique"),
        ]
        indexes = [
            models.Index(
                fields=["split", "metric", "missing", "sort_value", "created_at", "submission"],
                name="board_entry_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} of {self.submission_id} on {self.split_id}"
