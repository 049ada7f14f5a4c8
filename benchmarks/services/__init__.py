"""Benchmark workflows: importing and exporting bundles (docs/formats.md), the admin's dry run
of an import, and drafts and publishing (docs/authors.md)."""

from benchmarks.services.bundles import benchmark_export, benchmark_import
from benchmarks.services.import_plans import ImportPlan, benchmark_import_check
from benchmarks.services.publishing import (
    PublishError,
    benchmark_publish,
    benchmark_published_hooks_run,
)
from benchmarks.services.splits import split_upload_freeze, task_data_problems

__all__ = [
    "ImportPlan",
    "PublishError",
    "benchmark_export",
    "benchmark_import",
    "benchmark_import_check",
    "benchmark_publish",
    "benchmark_published_hooks_run",
    "split_upload_freeze",
    "task_data_problems",
]
