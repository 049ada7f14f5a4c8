from __future__ import annotations

import csv
import logging
from functools import partial

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Max, Min
from django.http import HttpResponse

from benchmarks.admin import MaintainedOnlyMixin
from benchmarks.models import Benchmark
from scoring.tasktypes import lower_is_better
from submissions.exports import csv_cell, safe_filename_part
from submissions.leaderboards import default_split
from submissions.models import Evaluation, Submission, Team, TeamMember
from submissions.tasks import rescore_submission

logger = logging.getLogger(__name__)

FLAGS = ["is_baseline", "is_hidden", "is_disqualified"]
# What authors change in the admin: the flags, and the reason the participant is shown.
MODERATION = [*FLAGS, "moderation_reason"]


def rescore_publish(submission_id: int) -> None:
    """Publish a rescoring job on the scoring queue; a broker that is down is logged, like an
    upload's job (`pipeline.enqueue`), and the author can run the action again."""
    soft = settings.SCORING_TIME_LIMIT_SECONDS
    try:
        # The scoring job's limits: a rescore reads the same file and splits.
        rescore_submission.apply_async(
            args=[submission_id], queue="scoring", soft_time_limit=soft, time_limit=soft + 60
        )
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.error("Could not enqueue rescoring of %s: %s", submission_id, type(exc).__name__)


def participants_table(submissions, *, benchmark: Benchmark, with_email: bool) -> list[list]:
    """One row per participant of `submissions` (all of one benchmark): username, e-mail (only
    `with_email`), their team on the benchmark, how many submissions, the best value of each
    task's primary metric on its board's split, the first and last submission's time.
    Aggregates only: no labels, no per-example results."""
    tasks = list(benchmark.tasks.prefetch_related("splits"))
    boards = [(task, default_split(task)) for task in tasks]
    boards = [(task, split) for task, split in boards if split is not None]
    header = ["username", *(["email"] if with_email else []), "team", "submissions"]
    teams = dict(
        TeamMember.objects.filter(benchmark=benchmark).values_list("user_id", "team__name")
    )
    header += [f"{task.slug}/{split.name} best {task.primary_metric}" for task, split in boards]
    header += ["first_submission", "last_submission"]

    best: dict[tuple[int, int], float] = {}
    keys = {split.pk: task.primary_metric for task, split in boards}
    evaluations = Evaluation.objects.filter(
        submission__in=submissions.scored().order_by(), split_id__in=keys
    ).values_list("submission__participant_id", "split_id", "metrics")
    for participant_id, split_id, metrics in evaluations:
        key = keys[split_id]
        value = (metrics.get(key) or {}).get("value")
        if value is None:
            continue
        held = best.get((participant_id, split_id))
        better = held is None or (value < held if lower_is_better(key) else value > held)
        if better:
            best[(participant_id, split_id)] = value

    people = (
        submissions.order_by()  # grouped by participant: no ordering columns in GROUP BY
        .values("participant_id", "participant__username", "participant__email")
        .annotate(count=Count("pk"), first=Min("created_at"), last=Max("created_at"))
        .order_by("participant__username")
    )
    rows = [header]
    for person in people:
        pid = person["participant_id"]
        row = [person["participant__username"]]
        row += [person["participant__email"]] if with_email else []
        row += [teams.get(pid, "")]
        row += [person["count"], *(best.get((pid, split.pk)) for _, split in boards)]
        row += [person["first"].isoformat(), person["last"].isoformat()]
        rows.append([csv_cell(value) for value in row])
    return rows


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under their parent, never added, changed or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EvaluationInline(ReadOnlyInline):
    model = Evaluation
    fields = ["task", "split", "metrics", "created_at"]
    readonly_fields = fields
    show_change_link = True


class TeamMemberInline(ReadOnlyInline):
    model = TeamMember
    fields = ["user", "joined_at"]
    readonly_fields = fields


@admin.register(Team)
class TeamAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    """The teams of an author's benchmarks, with their members: read only (participants make
    and change their teams themselves, docs/teams.md)."""

    list_display = ["name", "benchmark", "created_at"]
    list_filter = [("benchmark", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["benchmark"]
    search_fields = ["name", "members__user__username"]
    fields = ["name", "benchmark", "created_by", "created_at"]
    readonly_fields = fields
    inlines = [TeamMemberInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    """Authors flag submissions (baseline, hidden, disqualified) with a reason the participant
    sees, rescore them and export their participants; everything else, status included, is the
    platform's to change."""

    list_display = [
        "id",
        "display_name",
        "benchmark",
        "participant",
        "status",
        *FLAGS,
        "created_at",
    ]
    list_display_links = ["id", "display_name"]
    list_filter = ["status", *FLAGS, ("benchmark", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["benchmark", "participant"]
    search_fields = ["name", "original_filename", "model_repo_id", "participant__username"]
    date_hierarchy = "created_at"
    inlines = [EvaluationInline]
    actions = ["rescore", "export_participants"]
    fieldsets = [
        ("Flags set by authors", {"fields": MODERATION}),
        (
            None,
            {
                "fields": [
                    "benchmark",
                    "participant",
                    "task",
                    "kind",
                    "name",
                    "description",
                    "original_filename",
                    "model_repo_id",
                    "model_revision",
                    "model_sha",
                ]
            },
        ),
        (
            "State",
            {
                "fields": [
                    "status",
                    "progress",
                    "error",
                    "failed_by_platform",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "celery_task_id",
                    "attempts",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Submission._meta.fields if f.name not in MODERATION]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    # -- actions (on the rows get_queryset allows: an author's own benchmarks) ----------------

    @admin.action(description="Re-run selected submissions (rescore)", permissions=["change"])
    def rescore(self, request, queryset):
        ids = list(queryset.scored().order_by("pk").values_list("pk", flat=True))
        for submission_id in ids:
            transaction.on_commit(partial(rescore_publish, submission_id))
        skipped = queryset.count() - len(ids)
        message = f"Rescoring {len(ids)} submissions: their scores are replaced when it is done."
        if skipped:
            message += f" {skipped} not scored were left alone."
        messages.info(request, message)

    @admin.action(description="Export participants of selected submissions as CSV")
    def export_participants(self, request, queryset):
        benchmark_ids = list(queryset.order_by().values_list("benchmark", flat=True).distinct())
        if len(benchmark_ids) != 1:
            messages.error(request, "Export one benchmark at a time: filter by benchmark first.")
            return None
        benchmark = Benchmark.objects.get(pk=benchmark_ids[0])
        # E-mail addresses for platform operators only: authors (staff too) see usernames.
        rows = participants_table(
            queryset, benchmark=benchmark, with_email=request.user.is_superuser
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"{safe_filename_part(benchmark.slug)}-participants.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        csv.writer(response).writerows(rows)
        return response


@admin.register(Evaluation)
class EvaluationAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    """Read-only: evaluations are written by the scorer and cite the data they came from."""

    maintainers_lookup = "submission__benchmark__maintainers"
    list_display = ["id", "submission", "task", "split", "primary_value", "created_at"]
    list_select_related = ["submission", "task", "split__task__benchmark"]
    list_filter = [("task__benchmark", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["submission__name", "submission__participant__username"]
    readonly_fields = [
        "submission",
        "task",
        "split",
        "metrics",
        "slices",
        "confusion",
        "efficiency",
        "provenance",
        "created_at",
    ]

    @admin.display(description="Primary metric")
    def primary_value(self, evaluation):
        value = evaluation.value(evaluation.task.primary_metric)
        return "—" if value is None else f"{evaluation.task.primary_metric} {value:.4g}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
