"""The benchmark admin: drafts and publishing, the bundle upload with its dry run, the export,
and the maintainers picker (docs/authors.md)."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

from django.contrib import admin, messages
from django.http import FileResponse
from django.urls import path

from benchmarks.admin import bundle_upload
from benchmarks.admin.forms import BenchmarkAdminForm
from benchmarks.admin.maintainers import URL_NAME, MaintainersSearchView, MaintainersWidget
from benchmarks.admin.phases import PhaseInline
from benchmarks.admin.scoping import MaintainedOnlyMixin
from benchmarks.authors import author_grant
from benchmarks.models import Benchmark, Task
from benchmarks.services import PublishError, benchmark_export, benchmark_publish

DRAFT_NOTE = (
    "Draft: private and closed to submissions until it is published (the action 'Publish' "
    "in the list of benchmarks)."
)


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


class PublicationFilter(admin.SimpleListFilter):
    title = "publication"
    parameter_name = "published"

    def lookups(self, request, model_admin):
        return [("no", "Drafts"), ("yes", "Published")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(published_at__isnull=self.value() == "no")
        return queryset


@admin.register(Benchmark)
class BenchmarkAdmin(MaintainedOnlyMixin, admin.ModelAdmin):
    form = BenchmarkAdminForm
    maintainers_lookup = "maintainers"
    list_display = ["title", "slug", "status", "visibility", "opens_at", "closes_at"]
    list_filter = [PublicationFilter, "visibility"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["maintainers", "reviewers"]
    readonly_fields = ["publication", "created_at", "updated_at"]
    inlines = [TaskInline, PhaseInline]
    actions = ["publish", "publish_unlisted", "export_bundle"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "visibility", "description", "license", "citation"]}),
        (
            "Submission policy",
            {
                "fields": [
                    "accepted_kinds",
                    "max_per_day",
                    "max_total",
                    "opens_at",
                    "closes_at",
                    "max_final",
                ]
            },
        ),
        ("Model submissions", {"fields": ["allow_custom_code", "allow_pickle_weights"]}),
        ("Authors", {"fields": ["maintainers", "reviewers", "aggregate_weights"]}),
        ("Publication", {"fields": ["publication", "created_at", "updated_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not obj.is_draft:
            return fieldsets
        # A draft is private until it is published: its visibility is chosen then.
        fieldsets = copy.deepcopy(fieldsets)
        for _, options in fieldsets:
            options["fields"] = [f for f in options["fields"] if f != "visibility"]
        return fieldsets

    @admin.display(description="Status", ordering="published_at")
    def status(self, benchmark: Benchmark) -> str:
        return "Draft" if benchmark.is_draft else "Published"

    @admin.display(description="Publication")
    def publication(self, benchmark: Benchmark) -> str:
        if benchmark.pk is None or benchmark.is_draft:
            return DRAFT_NOTE
        return f"Published {benchmark.published_at:%Y-%m-%d %H:%M} UTC."

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(lambda request: function(self, request))

        maintainers = MaintainersSearchView.as_view(
            admin_site=self.admin_site, benchmark_admin=self
        )
        return [
            path("import/", view(bundle_upload.upload_view), name="benchmarks_benchmark_import"),
            path(
                "import/confirm/",
                view(bundle_upload.confirm_view),
                name="benchmarks_benchmark_import_confirm",
            ),
            path("maintainers/", self.admin_site.admin_view(maintainers), name=URL_NAME),
            *super().get_urls(),
        ]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in ("maintainers", "reviewers"):
            kwargs["widget"] = MaintainersWidget(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.published_at = None
            obj.visibility = Benchmark.Visibility.PRIVATE
            messages.info(request, f"'{obj.slug}' is a draft. {DRAFT_NOTE}")
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # An author always keeps the benchmarks they create or edit: dropping themselves from
        # the maintainers would lock them out of their own page.
        if not request.user.is_superuser:
            form.instance.maintainers.add(request.user)
        # Maintainers added here get what an author needs to edit the benchmark in the admin.
        for maintainer in form.instance.maintainers.all():
            author_grant(maintainer)

    # -- actions ---------------------------------------------------------------------------------

    @admin.action(description="Publish (public)", permissions=["change"])
    def publish(self, request, queryset):
        self._publish(request, queryset, Benchmark.Visibility.PUBLIC)

    @admin.action(description="Publish as unlisted (reachable by link)", permissions=["change"])
    def publish_unlisted(self, request, queryset):
        self._publish(request, queryset, Benchmark.Visibility.UNLISTED)

    def _publish(self, request, queryset, visibility: str) -> None:
        for benchmark in queryset:
            try:
                benchmark_publish(benchmark=benchmark, visibility=visibility)
            except PublishError as exc:
                for message in exc.messages:
                    messages.error(request, f"'{benchmark.slug}' was not published: {message}")
            else:
                messages.success(
                    request,
                    f"Published '{benchmark.slug}' ({visibility}): it takes submissions under "
                    "its policy, and its automatic baselines are being computed.",
                )

    @admin.action(description="Export as a bundle (.zip)", permissions=["view"])
    def export_bundle(self, request, queryset):
        benchmarks = list(queryset[:2])
        if len(benchmarks) != 1:
            messages.error(request, "Export one benchmark at a time: select only one.")
            return None
        benchmark = benchmarks[0]
        folder = Path(tempfile.mkdtemp(prefix="export-"))
        out = benchmark_export(benchmark=benchmark, out=folder / f"{benchmark.slug}.zip")
        response = FileResponse(
            out.open("rb"), as_attachment=True, filename=out.name, content_type="application/zip"
        )
        # The open file stays readable until the response has sent it and closes it.
        shutil.rmtree(folder)
        return response
