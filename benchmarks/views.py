from __future__ import annotations

from django.db.models import Count, Prefetch, Q
from django.http import HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.views.decorators.http import require_GET

from benchmarks.access import can_maintain, get_benchmark_for
from benchmarks.models import Benchmark, Split
from benchmarks.selectors import DownloadUnavailable, split_download_for


@require_GET
def benchmark_list(request):
    # Scored submissions are the ones with evaluations (the reverse relations need no import of
    # the submissions app, which sits above this one).
    on_boards = Q(submissions__evaluations__isnull=False)
    benchmarks = Benchmark.objects.visible_to(request.user).annotate(
        task_count=Count("tasks", distinct=True),
        submission_count=Count("submissions", distinct=True),
        scored_count=Count("submissions", filter=on_boards, distinct=True),
        # People, not the platform: the account that submits the automatic baselines is none.
        participant_count=Count(
            "submissions__participant",
            filter=Q(submissions__is_baseline=False),
            distinct=True,
        ),
    )
    return render(request, "benchmarks/benchmark_list.html", {"benchmarks": benchmarks})


@require_GET
def benchmark_detail(request, slug):
    benchmark = get_benchmark_for(request.user, slug)
    tasks = benchmark.tasks.prefetch_related(
        Prefetch("splits", queryset=Split.objects.order_by("position", "id"))
    )
    context = {
        "benchmark": benchmark,
        "tasks": tasks,
        "is_maintainer": can_maintain(request.user, benchmark),
        "phases": list(benchmark.phases.prefetch_related("splits__task")),
    }
    return render(request, "benchmarks/benchmark_detail.html", context)


@require_GET
def split_inputs(request, slug, task, split, fmt):
    try:
        download = split_download_for(request.user, slug=slug, task=task, split=split, fmt=fmt)
    except DownloadUnavailable as exc:
        # A file link, not a page: the reason in plain text, word for word as the API gives it.
        return HttpResponseNotFound(str(exc), content_type="text/plain; charset=utf-8")
    response = HttpResponse(download.content, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response
