from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scoring.tasktypes import TASK_TYPES

slug_validator = RegexValidator(r"^[a-z0-9-]+$", "Use lowercase letters, digits and hyphens.")


class BenchmarkQuerySet(models.QuerySet):
    def visible_to(self, user) -> BenchmarkQuerySet:
        """Benchmarks a user may see in lists: public ones, plus those they maintain or review
        (superusers: all). Unlisted benchmarks are reachable by URL but not listed. Authors are
        staff (for the admin), so only superusers see everything."""
        if user.is_authenticated and user.is_superuser:
            return self.all()
        listed = Q(visibility=Benchmark.Visibility.PUBLIC)
        if user.is_authenticated:
            listed |= Q(maintainers=user) | Q(reviewers=user)
        return self.filter(listed).distinct()

    def maintained_by(self, user) -> BenchmarkQuerySet:
        if user.is_superuser:
            return self.all()
        return self.filter(maintainers=user)


class Benchmark(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public"
        UNLISTED = "unlisted", "Unlisted (reachable by link)"
        PRIVATE = "private", "Private (maintainers and reviewers only)"

    slug = models.SlugField(
        unique=True,
        validators=[slug_validator],
        help_text="URL name: lowercase letters, digits and hyphens. Changing it breaks links.",
    )
    title = models.CharField(max_length=200, help_text="Shown in lists and page titles.")
    description = models.TextField(
        blank=True, help_text="Markdown. Rendered sanitised: no scripts, no raw HTML."
    )
    license = models.CharField(max_length=100, blank=True, help_text="e.g. cc-by-4.0")
    citation = models.TextField(blank=True, help_text="BibTeX or plain text to cite.")
    visibility = models.CharField(
        max_length=10,
        choices=Visibility.choices,
        default=Visibility.PUBLIC,
        help_text="Public: listed. Unlisted: reachable by link. "
        "Private: maintainers and reviewers only.",
    )
    maintainers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="maintained_benchmarks",
        help_text="Authors who may edit this benchmark and see every submission to it.",
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="reviewed_benchmarks",
        help_text="Read-only: they see what maintainers see (every submission, its errors, "
        "boards before they are revealed) but change nothing.",
    )
    # Submission policy (`submission_policy` in a bundle, docs/formats.md).
    accepted_kinds = models.JSONField(
        default=list,
        blank=True,
        help_text='Submission kinds accepted: ["predictions"], ["model"] or both. '
        "Empty means predictions only.",
    )
    max_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Submissions per participant per UTC day. Empty: no limit. "
        "Submissions that failed through the platform's fault do not count.",
    )
    max_total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Submissions per participant in all. Empty: no limit."
    )
    opens_at = models.DateTimeField(
        null=True, blank=True, help_text="No submissions before this time (UTC). Empty: open."
    )
    closes_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="No submissions after this time (UTC); splits revealed 'after close' show "
        "their scores from then on. Empty: never closes.",
    )
    allow_custom_code = models.BooleanField(
        default=False, help_text="Model repos may bring code (predict.py, remote code); sandboxed."
    )
    allow_pickle_weights = models.BooleanField(
        default=False, help_text="Model repos may bring pickle weights (.bin); sandboxed."
    )
    aggregate_weights = models.JSONField(
        default=dict, blank=True, help_text="Optional weights per task/metric for aggregate scores."
    )
    max_final = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Submissions a participant or team may mark as final; the final board ranks "
        "the best of those (or the best of all when none is marked). Empty: no final selection.",
    )
    # Set by the services only (benchmarks.services.publishing), like a status.
    published_at = models.DateTimeField(
        null=True,
        blank=True,
        default=timezone.now,
        editable=False,
        help_text="When the benchmark was published. Empty: a draft, private and closed to "
        "submissions until an author publishes it (the action 'Publish' in the list).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BenchmarkQuerySet.as_manager()

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @property
    def kinds(self) -> list[str]:
        return list(self.accepted_kinds) or ["predictions"]

    @property
    def is_draft(self) -> bool:
        """Created in the admin and not yet published: private and closed (docs/authors.md)."""
        return self.published_at is None

    def is_open(self, now=None) -> bool:
        if self.is_draft:
            return False
        now = now or timezone.now()
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)

    def is_closed(self, now=None) -> bool:
        now = now or timezone.now()
        return bool(self.closes_at and now >= self.closes_at)


class Phase(models.Model):
    """A stage of a benchmark (development, then final, ...), with its own window, quotas,
    accepted kinds and scored splits. A submission belongs to one phase and is scored on that
    phase's splits only; a split is scored in one phase at most, so each board is one phase's.
    A benchmark without phases takes submissions under its own policy (docs/formats.md)."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="phases")
    slug = models.SlugField(validators=[slug_validator], help_text="Unique within the benchmark.")
    title = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)
    opens_at = models.DateTimeField(null=True, blank=True, help_text="Empty: open from the start.")
    closes_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never closes.")
    accepted_kinds = models.JSONField(
        default=list, blank=True, help_text="Empty: the kinds the benchmark accepts."
    )
    max_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Per participant or team, UTC day. Empty: the benchmark's limit.",
    )
    max_total = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Per participant or team in this phase. Empty: the benchmark's limit.",
    )
    splits = models.ManyToManyField(
        "Split",
        blank=True,
        related_name="phases",
        help_text="The scored splits of this phase. Empty: every scored split (one phase only).",
    )

    class Meta:
        ordering = ["benchmark", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "slug"], name="phase_slug_unique"),
        ]

    def __str__(self) -> str:
        return self.title or self.slug

    @property
    def kinds(self) -> list[str]:
        return list(self.accepted_kinds) or self.benchmark.kinds

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)

    def limits(self) -> tuple[int | None, int | None]:
        """(max_total, max_per_day) in this phase: its own, else the benchmark's."""
        benchmark = self.benchmark
        return (
            benchmark.max_total if self.max_total is None else self.max_total,
            benchmark.max_per_day if self.max_per_day is None else self.max_per_day,
        )

    def task_splits(self, task: Task) -> list[Split]:
        """The task's splits this phase scores, in order (none: the task is not in it)."""
        ids = {split.pk for split in self.splits.all()}
        if not ids:
            return task.scored_splits
        return [split for split in task.scored_splits if split.pk in ids]


class Task(models.Model):
    """The unit of a leaderboard: one type, one label space, one set of metrics."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE, related_name="tasks")
    slug = models.SlugField(validators=[slug_validator], help_text="Unique within the benchmark.")
    title = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Order on the benchmark page.")
    type = models.CharField(
        max_length=40,
        choices=[(name, name) for name in TASK_TYPES],
        help_text="Decides the prediction format and the metrics available.",
    )
    id_column = models.CharField(max_length=100, default="id", help_text="Unique row id column.")
    input_columns = models.JSONField(
        default=list, help_text='Columns a participant or model sees, e.g. ["text"].'
    )
    label_column = models.CharField(
        max_length=100, help_text="Gold label column. Never leaves the server for hidden splits."
    )
    label_names = models.JSONField(
        default=list, blank=True, help_text="Classification label names; integer labels index it."
    )
    metadata_columns = models.JSONField(
        default=list, blank=True, help_text="Extra columns for slices; never shown per row."
    )
    metrics = models.JSONField(
        default=list,
        help_text='Metric specs, e.g. [{"name": "accuracy"}, {"name": "f1", "average": "macro"}].',
    )
    primary_metric = models.CharField(
        max_length=100, help_text="Metric key the leaderboard sorts by default, e.g. f1_macro."
    )
    slices = models.JSONField(
        default=list, blank=True, help_text="Slice specs for failure-mode breakdowns."
    )
    model_run = models.JSONField(
        default=dict, blank=True, help_text="Limits for model runs: timeout_s, max_memory_gb, …"
    )

    class Meta:
        ordering = ["benchmark", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["benchmark", "slug"], name="task_slug_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.benchmark.slug}/{self.slug}"

    @property
    def scored_splits(self) -> list[Split]:
        """The public and hidden splits, in order; from `prefetch_related("splits")` when the
        task was fetched with it (one query for every task of an upload, not one per task)."""
        if "splits" in getattr(self, "_prefetched_objects_cache", {}):
            return [s for s in self.splits.all() if s.role in SCORED_ROLES]
        return list(self.splits.scored())

    def spec(self) -> dict:
        """The plain-data description the pure scoring code works from."""
        return {
            "slug": self.slug,
            "type": self.type,
            "columns": {
                "id": self.id_column,
                "inputs": list(self.input_columns),
                "label": self.label_column,
                "labels": list(self.label_names),
                "metadata": list(self.metadata_columns),
            },
            "metrics": list(self.metrics),
            "primary_metric": self.primary_metric,
            "slices": list(self.slices),
        }


SCORED_ROLES = ("public", "hidden")  # Split.Role.PUBLIC and Split.Role.HIDDEN


def split_upload_to(split: Split, filename: str) -> str:
    return f"splits/{split.task.benchmark.slug}/{split.task.slug}/{split.name}-{filename}"


class SplitQuerySet(models.QuerySet):
    def scored(self) -> SplitQuerySet:
        return self.filter(role__in=SCORED_ROLES)


class Split(models.Model):
    class Role(models.TextChoices):
        TRAIN = "train", "Train (labels downloadable)"
        PUBLIC = "public", "Public (scored, labels may be shown)"
        HIDDEN = "hidden", "Hidden (scored, labels never leave the server)"

    class Reveal(models.TextChoices):
        ALWAYS = "always", "Always"
        AFTER_CLOSE = "after_close", "After the benchmark closes"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="splits")
    name = models.SlugField(max_length=50, help_text="e.g. train, dev, test.")
    position = models.PositiveIntegerField(default=0)
    role = models.CharField(max_length=10, choices=Role.choices, help_text="Decides who sees what.")
    reveal = models.CharField(
        max_length=12,
        choices=Reveal.choices,
        default=Reveal.ALWAYS,
        help_text="When scores on this split are shown. 'After close' gives a final board.",
    )
    inputs_downloadable = models.BooleanField(
        default=True, help_text="Participants may download ids and inputs (never labels)."
    )
    data = models.FileField(
        upload_to=split_upload_to,
        max_length=300,
        help_text="Frozen Parquet of the split (ids, inputs, labels, metadata).",
    )
    fingerprint = models.CharField(
        max_length=64, help_text="sha256 of the frozen Parquet file; scores cite it."
    )
    num_rows = models.PositiveIntegerField(default=0)
    hub_repo_id = models.CharField(max_length=200, blank=True)
    hub_revision = models.CharField(max_length=200, blank=True)
    hub_commit = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=300, blank=True, help_text="Where the data came from.")

    objects = SplitQuerySet.as_manager()

    class Meta:
        ordering = ["task", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "name"], name="split_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.task}/{self.name}"

    @property
    def is_scored(self) -> bool:
        return self.role in (self.Role.PUBLIC, self.Role.HIDDEN)

    def scores_visible(self, now=None) -> bool:
        """Whether scores on this split may be shown to participants now."""
        if self.reveal == self.Reveal.ALWAYS:
            return True
        return self.task.benchmark.is_closed(now)
