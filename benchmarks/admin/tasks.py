"""Tasks and their splits in the admin: structured editors for a task's JSON fields, checked by
the bundle's code, and split files uploaded as CSV, JSON lines or Parquet (docs/authors.md)."""

from __future__ import annotations

from django.contrib import admin

from benchmarks.admin.forms import SplitAdminForm, TaskAdminForm
from benchmarks.admin.scoping import MaintainedOnlyMixin
from benchmarks.models import Split, Task


class SplitInline(MaintainedOnlyMixin, admin.TabularInline):
    model = Split
    form = SplitAdminForm
    maintainers_lookup = "task__benchmark__maintainers"
    fields = ["name", "role", "reveal", "inputs_downloadable", "position", "data", "num_rows"]
    readonly_fields = ["num_rows"]
    extra = 0
    show_change_link = True


@admin.register(Task)
class TaskAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    form = TaskAdminForm
    list_display = ["__str__", "title", "type", "primary_metric"]
    list_filter = [("benchmark", admin.RelatedOnlyFieldListFilter), "type"]
    list_select_related = ["benchmark"]
    search_fields = ["slug", "title", "benchmark__slug"]
    inlines = [SplitInline]
    fieldsets = [
        (None, {"fields": ["benchmark", "slug", "title", "position", "type"]}),
        (
            "Columns",
            {
                "fields": [
                    "id_column",
                    "input_columns",
                    "label_column",
                    "label_names",
                    "metadata_columns",
                ]
            },
        ),
        ("Scoring", {"fields": ["metrics", "primary_metric", "slices", "model_run"]}),
    ]


@admin.register(Split)
class SplitAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    form = SplitAdminForm
    maintainers_lookup = "task__benchmark__maintainers"
    list_display = ["__str__", "role", "reveal", "num_rows", "inputs_downloadable"]
    list_filter = ["role", "reveal", ("task__benchmark", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["task__benchmark"]
    search_fields = ["name", "task__slug", "task__benchmark__slug"]
    readonly_fields = ["fingerprint", "num_rows", "hub_repo_id", "hub_revision", "hub_commit"]
    fieldsets = [
        (None, {"fields": ["task", "name", "position", "role", "reveal", "inputs_downloadable"]}),
        ("Data", {"fields": ["data", "fingerprint", "num_rows", "source"]}),
        ("Hugging Face Hub", {"fields": ["hub_repo_id", "hub_revision", "hub_commit"]}),
    ]
