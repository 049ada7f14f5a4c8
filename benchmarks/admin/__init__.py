"""The admin is the benchmark authors' UI (docs/authors.md). Superusers see everything; any other
staff member is an author who sees and edits only the benchmarks they maintain, and everything
under them."""

from django.contrib import admin

from benchmarks.admin.benchmark import BenchmarkAdmin
from benchmarks.admin.forms import BenchmarkAdminForm, SplitAdminForm, TaskAdminForm
from benchmarks.admin.scoping import MaintainedOnlyMixin, maintained_benchmarks
from benchmarks.admin.tasks import SplitAdmin, SplitInline, TaskAdmin

# The platform's name (templates/base.html), not Django's.
admin.site.site_header = "Benchmark platform"
admin.site.site_title = "Benchmark platform admin"
admin.site.index_title = "Benchmarks, submissions and accounts"

__all__ = [
    "BenchmarkAdmin",
    "BenchmarkAdminForm",
    "MaintainedOnlyMixin",
    "SplitAdmin",
    "SplitAdminForm",
    "SplitInline",
    "TaskAdmin",
    "TaskAdminForm",
    "maintained_benchmarks",
]
