"""Drafts and publishing (docs/authors.md). A benchmark created in the admin (by hand or from
an uploaded bundle) is a draft: private and closed to submissions. Publishing opens it, and
tells the apps above this one, which compute its automatic baselines."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from benchmarks.bundles import spec_check
from benchmarks.models import Benchmark
from benchmarks.services.bundles import benchmark_spec

PUBLISHED_VISIBILITIES = (Benchmark.Visibility.PUBLIC, Benchmark.Visibility.UNLISTED)


class PublishError(Exception):
    """A benchmark that cannot be published; `messages` say why, each one a sentence."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(self.messages))


def benchmark_publish(
    *, benchmark: Benchmark, visibility: str = Benchmark.Visibility.PUBLIC
) -> Benchmark:
    """Publish a draft: it becomes `visibility` (public or unlisted) and takes submissions
    under its policy, and the published hooks run once this commits. Refused for a benchmark
    already published, and for one that an import would refuse as it would be exported (no
    tasks, a task without a scored split, ...): the bundle's checks, with its sentences."""
    if visibility not in PUBLISHED_VISIBILITIES:
        raise ValueError(f"A published benchmark is public or unlisted, not {visibility!r}.")
    with transaction.atomic():
        locked = Benchmark.objects.select_for_update().get(pk=benchmark.pk)
        if not locked.is_draft:
            raise PublishError(f"'{locked.slug}' is already published.")
        problems = benchmark_problems(locked)
        if problems:
            raise PublishError(problems)
        locked.published_at = timezone.now()
        locked.visibility = visibility
        locked.save(update_fields=["published_at", "visibility", "updated_at"])
        benchmark_published_hooks_run(benchmark=locked)
    return locked


def benchmark_problems(benchmark: Benchmark) -> list[str]:
    """What an import of the benchmark's export would refuse in its description (the data was
    checked when it was stored)."""
    tasks = list(benchmark.tasks.prefetch_related("splits"))
    return spec_check(benchmark_spec(benchmark, tasks)).errors


def benchmark_published_hooks_run(*, benchmark: Benchmark) -> None:
    """Once the current transaction commits, call each function that
    settings.BENCHMARK_PUBLISHED_HOOKS names with `benchmark=`: what the apps above this one do
    when a benchmark is published, or its data replaced while published (the submissions app
    submits the automatic baselines). A setting rather than an import, so that imports between
    apps keep going one way (docs/architecture.md)."""
    for path in getattr(settings, "BENCHMARK_PUBLISHED_HOOKS", ()):
        hook = import_string(path)
        transaction.on_commit(lambda hook=hook: hook(benchmark=benchmark))
