from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from benchmarks.access import can_maintain, get_benchmark_for, get_split_for, get_task_for
from benchmarks.downloads import FORMATS, split_inputs_file
from benchmarks.leaderboards import default_split, leaderboard_build
from benchmarks.models import Benchmark, Split
from submissions.models import Submission


@require_GET
def benchmark_list(request):
    on_boards = Q(submissions__status=Submission.Status.SCORED)
    benchmarks = Benchmark.objects.visible_to(request.user).annotate(
        task_count=Count("tasks", distinct=True),
        submission_count=Count("submissions", distinct=True),
        scored_count=Count("submissions", filter=on_boards, distinct=True),
        participant_count=Count("submissions__participant", distinct=True),
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
    }
    return render(request, "benchmarks/benchmark_detail.html", context)


@require_GET
def split_inputs(request, slug, task, split, fmt):
    benchmark = get_benchmark_for(request.user, slug)
    split = get_split_for(get_task_for(benchmark, task), split)
    if fmt not in FORMATS or not split.inputs_downloadable:
        raise Http404("The inputs of this split are not downloadable.")
    content, content_type, filename = split_inputs_file(split, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
def leaderboard(request, slug):
    benchmark = get_benchmark_for(request.user, slug)
    tasks = list(benchmark.tasks.all())
    task = get_task_for(benchmark, request.GET.get("task"))
    splits = [s for s in task.splits.all() if s.is_scored]
    if request.GET.get("split"):
        split = get_split_for(task, request.GET["split"])
        if not split.is_scored:
            raise Http404("Only scored splits have a leaderboard.")
    else:
        split = default_split(task)
    is_maintainer = can_maintain(request.user, benchmark)
    withheld = split is not None and not split.scores_visible() and not is_maintainer
    board = None
    if split is not None and not withheld:
        board = leaderboard_build(task=task, split=split, sort=request.GET.get("sort"))
    context = {
        "benchmark": benchmark,
        "tasks": tasks,
        "task": task,
        "splits": splits,
        "split": split,
        "board": board,
        "withheld": withheld,
        "is_maintainer": is_maintainer,
    }
    return render(request, "benchmarks/leaderboard.html", context)


@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "benchmark_list")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Your account is ready.")
        return redirect(next_url or "benchmark_list")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})
