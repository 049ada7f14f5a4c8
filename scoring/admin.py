from __future__ import annotations

from django.contrib import admin

from benchmarks.admin import MaintainedOnlyMixin
from scoring.models import Evaluation


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
