"""Who may see or change what. Views and API endpoints fetch objects only through these.

`can_maintain` decides what may be changed, `can_review` what may be seen as an insider
(docs/architecture.md, "Who sees a submission")."""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404

from benchmarks.models import Benchmark, Split, Task


def can_maintain(user, benchmark: Benchmark) -> bool:
    """Maintainers of the benchmark and platform operators (superusers). Being staff is not
    enough: every benchmark author is staff, so as to use the admin."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or benchmark.maintainers.filter(pk=user.pk).exists()


def can_review(user, benchmark: Benchmark) -> bool:
    """Whether `user` sees the benchmark as its maintainers do (every submission with its
    errors, boards before they are revealed): its maintainers, platform operators and its
    reviewers. Reviewers change nothing: whatever changes something asks `can_maintain`."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # One query, like can_maintain's: boards pin their query count.
    insiders = Q(maintainers=user) | Q(reviewers=user)
    return Benchmark.objects.filter(insiders, pk=benchmark.pk).exists()


def can_view(user, benchmark: Benchmark) -> bool:
    if benchmark.visibility != Benchmark.Visibility.PRIVATE:
        return True
    return can_review(user, benchmark)


def get_benchmark_for(user, slug: str) -> Benchmark:
    """The benchmark if the user may see it; a private one is a 404 to others, so that its
    existence does not leak."""
    benchmark = Benchmark.objects.filter(slug=slug).first()
    if benchmark is None or not can_view(user, benchmark):
        raise Http404("No such benchmark.")
    return benchmark


def get_task_for(benchmark: Benchmark, slug: str | None) -> Task:
    """A task of the benchmark by slug; the first task when no slug is given."""
    tasks = benchmark.tasks.all()
    task = tasks.filter(slug=slug).first() if slug else tasks.first()
    if task is None:
        raise Http404("No such task.")
    return task


def get_split_for(task: Task, name: str) -> Split:
    split = task.splits.filter(name=name).first()
    if split is None:
        raise Http404("No such split.")
    return split
