"""The admin is the benchmark authors' UI. Superusers see everything; any other staff member is
an author who sees and edits only the benchmarks they maintain, and everything under them."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse

from benchmarks.authors import author_grant
from benchmarks.bundles import SPEC_FILENAME, BundleError, bundle_open, spec_read
from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import benchmark_import
from scoring.tasktypes import METRICS, TASK_TYPES, metric_keys, normalize_metric_spec


def maintained_benchmarks(user):
    return Benchmark.objects.filter(maintainers=user)


class MaintainedOnlyMixin:
    """Limits an admin (or inline) to rows under the benchmarks its user maintains, both in its
    own queryset and in the choices of its foreign keys."""

    # Lookup from this model to its benchmark's maintainers.
    maintainers_lookup = "benchmark__maintainers"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.maintainers_lookup: request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            user = request.user
            if db_field.related_model is Benchmark:
                kwargs["queryset"] = maintained_benchmarks(user)
            elif db_field.related_model is Task:
                kwargs["queryset"] = Task.objects.filter(benchmark__maintainers=user)
            elif db_field.related_model is Split:
                kwargs["queryset"] = Split.objects.filter(task__benchmark__maintainers=user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SplitAdminForm(forms.ModelForm):
    """Checks that an uploaded split is a Parquet file with the task's columns, and recomputes
    its fingerprint and row count from the file itself."""

    class Meta:
        model = Split
        # Not fingerprint and num_rows: they are computed from the file.
        fields = ["task", "name", "position", "role", "reveal", "inputs_downloadable", "data"]
        fields += ["source"]
        help_texts = {
            "data": "A Parquet file with the task's id, input, label and metadata columns. "
            "Replacing it changes the fingerprint: rescore existing submissions afterwards.",
        }

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("data")
        if upload is None or "data" not in self.changed_data:
            return cleaned
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        try:
            parquet = pq.ParquetFile(upload)
            columns, rows = parquet.schema_arrow.names, parquet.metadata.num_rows
        except (pa.ArrowException, OSError, ValueError):
            self.add_error("data", "This is not a Parquet file.")
            return cleaned
        finally:
            upload.seek(0)
        task = cleaned.get("task") or getattr(self.instance, "task", None)
        if task is not None and task.pk is not None:
            needed = [task.id_column, *task.input_columns, task.label_column]
            needed += list(task.metadata_columns)
            missing = [name for name in needed if name not in columns]
            if missing:
                self.add_error(
                    "data",
                    f"The file lacks the task's column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)} (it has {', '.join(columns) or 'none'}).",
                )
                return cleaned
        self.instance.fingerprint = digest.hexdigest()
        self.instance.num_rows = rows
        return cleaned


class TaskAdminForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = [
            "benchmark",
            "slug",
            "title",
            "position",
            "type",
            "id_column",
            "input_columns",
            "label_column",
            "label_names",
            "metadata_columns",
            "metrics",
            "primary_metric",
            "slices",
            "model_run",
        ]

    def clean(self):
        cleaned = super().clean()
        task_type, specs = cleaned.get("type"), cleaned.get("metrics")
        if task_type not in TASK_TYPES or not isinstance(specs, list):
            if specs is not None and not isinstance(specs, list):
                self.add_error("metrics", 'A list of metric specs, e.g. [{"name": "accuracy"}].')
            return cleaned
        allowed = TASK_TYPES[task_type].metrics
        keys = []
        for spec in specs:
            spec = normalize_metric_spec(spec) if isinstance(spec, (str, dict)) else {}
            name = spec.get("name")
            if name not in METRICS or name not in allowed:
                self.add_error(
                    "metrics", f"{name!r} is not a {task_type} metric: use {', '.join(allowed)}."
                )
                return cleaned
            keys += metric_keys(spec)
        primary = cleaned.get("primary_metric")
        if primary and primary not in keys:
            self.add_error(
                "primary_metric", f"'{primary}' is not reported by the metrics: {', '.join(keys)}."
            )
        return cleaned


class BundleImportForm(forms.Form):
    bundle = forms.FileField(
        help_text=f"A .zip with {SPEC_FILENAME} at its root (or in one top folder) and the data "
        "files it names."
    )
    update = forms.BooleanField(
        required=False,
        help_text="Replace the benchmark with the same slug in place, keeping its submissions.",
    )

    def clean_bundle(self):
        bundle = self.cleaned_data["bundle"]
        if bundle.size > settings.MAX_BUNDLE_MB << 20:
            raise forms.ValidationError(
                f"The bundle is {bundle.size / 2**20:,.0f} MB; an uploaded bundle may be at most "
                f"{settings.MAX_BUNDLE_MB:,} MB (MAX_BUNDLE_MB)."
            )
        return bundle


def bundle_slug(path: Path) -> str | None:
    """The slug a bundle declares, read before importing it (None when it names none)."""
    with bundle_open(path) as root:
        spec = spec_read(root)
    return spec.get("slug") if isinstance(spec, dict) else None


class TaskInline(admin.TabularInline):
    """An overview of the benchmark's tasks; each is edited on its own page with its splits."""

    model = Task
    fields = ["slug", "title", "type", "primary_metric", "position"]
    readonly_fields = ["slug", "title", "type", "primary_metric", "position"]
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Benchmark)
class BenchmarkAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    maintainers_lookup = "maintainers"
    list_display = ["title", "slug", "visibility", "opens_at", "closes_at"]
    list_filter = ["visibility"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["maintainers"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [TaskInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "visibility", "description", "license", "citation"]}),
        (
            "Submission policy",
            {"fields": ["accepted_kinds", "max_per_day", "max_total", "opens_at", "closes_at"]},
        ),
        ("Model submissions", {"fields": ["allow_custom_code", "allow_pickle_weights"]}),
        ("Authors", {"fields": ["maintainers", "aggregate_weights", "created_at", "updated_at"]}),
    ]

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="benchmarks_benchmark_import"), *super().get_urls()]

    def import_view(self, request):
        """Import a bundle (docs/formats.md) as `manage.py import_benchmark` does; the importing
        author becomes a maintainer. Only a benchmark's maintainers may replace it."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BundleImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                benchmark = self._import(request, form.cleaned_data)
            except BundleError as exc:
                for message in exc.messages:
                    form.add_error("bundle", message)
            else:
                messages.success(request, f"Imported {benchmark.slug}.")
                return redirect(reverse("admin:benchmarks_benchmark_change", args=[benchmark.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a benchmark bundle",
            "form": form,
        }
        return render(request, "admin/benchmarks/benchmark/import.html", context)

    def _import(self, request, data: dict) -> Benchmark:
        with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            # Under the uploaded name, which the messages about the zip quote.
            bundle = Path(tmp) / (Path(data["bundle"].name).name or "bundle.zip")
            with bundle.open("wb") as out:
                for chunk in data["bundle"].chunks():
                    out.write(chunk)
            if data["update"] and not request.user.is_superuser:
                slug = bundle_slug(bundle)
                existing = Benchmark.objects.filter(slug=slug).first()
                if existing and not existing.maintainers.filter(pk=request.user.pk).exists():
                    raise BundleError(
                        f"slug: '{slug}' belongs to a benchmark you do not maintain; "
                        "choose another slug"
                    )
            return self.bundle_import(source=bundle, maintainer=request.user, update=data["update"])

    def bundle_import(self, **kwargs) -> Benchmark:
        """The import itself; the submissions app extends it with the automatic baselines."""
        return benchmark_import(**kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # An author always keeps the benchmarks they create or edit: dropping themselves from
        # the maintainers would lock them out of their own page.
        if not request.user.is_superuser:
            form.instance.maintainers.add(request.user)
        # Maintainers added here get what an author needs to edit the benchmark in the admin.
        for maintainer in form.instance.maintainers.all():
            author_grant(maintainer)


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
