from __future__ import annotations

from django.contrib import admin

from benchmarks.admin import MaintainedOnlyMixin
from submissions.models import Evaluation, Submission

FLAGS = ["is_baseline", "is_hidden", "is_disqualified"]


class EvaluationInline(admin.TabularInline):
    model = Evaluation
    fields = ["task", "split", "metrics", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Submission)
class SubmissionAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    """Authors flag submissions (baseline, hidden, disqualified); everything else, status
    included, is the platform's to change."""

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
    fieldsets = [
        ("Flags set by authors", {"fields": FLAGS}),
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
        return [f.name for f in Submission._meta.fields if f.name not in FLAGS]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


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
