from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from benchmarks.access import get_benchmark_for
from benchmarks.leaderboards import metric_columns
from scoring.models import Evaluation
from scoring.tasktypes import key_scales, lower_is_better, with_scales
from submissions import services
from submissions.access import get_submission_for
from submissions.forms import SubmissionForm
from submissions.models import Submission
from submissions.results import visible_evaluations


@login_required
@require_http_methods(["GET", "POST"])
def submission_create(request, slug):
    benchmark = get_benchmark_for(request.user, slug)
    status = 200
    if request.method == "POST":
        form = SubmissionForm(request.POST, request.FILES, benchmark=benchmark)
        if form.is_valid():
            try:
                submission = services.submission_create(
                    benchmark=benchmark,
                    participant=request.user,
                    uploaded_file=form.cleaned_data["file"],
                    task=form.cleaned_data.get("task"),
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except services.SubmissionError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                messages.success(request, "Submission received: it is queued for scoring.")
                return redirect("submission_detail", pk=submission.pk)
        status = 400
    else:
        form = SubmissionForm(benchmark=benchmark)
    context = {
        "benchmark": benchmark,
        "form": form,
        "quota": services.submission_quota(benchmark=benchmark, participant=request.user),
    }
    return render(request, "submissions/submission_form.html", context, status=status)


@login_required
@require_GET
def submission_detail(request, pk):
    submission = get_submission_for(request.user, pk)
    results = []
    if submission.status == Submission.Status.SCORED:
        results = [_presented(r) for r in visible_evaluations(request.user, submission)]
    context = {
        "submission": submission,
        "results": results,
        "min_slice_size": settings.MIN_SLICE_SIZE,
    }
    return render(request, "submissions/submission_detail.html", context)


def _presented(result: dict) -> dict:
    """Adds what the page shows for one evaluation: its metric columns in the task's order and
    the per-slice breakdown, with small cells of hidden splits suppressed (DESIGN §7)."""
    evaluation = result["evaluation"]
    if result["withheld"]:
        return result
    task = evaluation.task
    known = metric_columns(task)
    columns = [k for k in known if k in evaluation.metrics]
    columns += [k for k in evaluation.metrics if k not in known]
    key = task.primary_metric
    return {
        **result,
        "columns": columns,
        "primary": key,
        "slices": slice_breakdown(result["slices"], evaluation.metrics, key, task=task),
    }


def slice_breakdown(cells: list[dict], overall: dict, key: str, *, task) -> list[dict]:
    """Cells (already suppressed where the rules say, by submissions.results) grouped by slice,
    worst first, each with its gap to the overall value of `key`."""
    scales = key_scales(task.metrics)
    cells = [
        {**cell, "metrics": cell["metrics"] and with_scales(cell["metrics"], scales)}
        for cell in cells
    ]
    overall_value = (overall.get(key) or {}).get("value")
    groups: dict[str, list[dict]] = {}
    for cell in cells:
        value = ((cell["metrics"] or {}).get(key) or {}).get("value")
        known = value is not None and overall_value is not None
        cell.update(value=value, gap=value - overall_value if known else None)
        groups.setdefault(cell["slice"], []).append(cell)
    sign = -1 if lower_is_better(key) else 1
    for group in groups.values():
        group.sort(key=lambda c: (c["suppressed"], c["value"] is None, sign * (c["value"] or 0)))
    return [{"name": name, "cells": group} for name, group in groups.items()]


@login_required
@require_POST
def submission_cancel(request, pk):
    submission = get_submission_for(request.user, pk)
    if submission.participant_id != request.user.pk:
        raise PermissionDenied("Only the participant who submitted it can cancel a submission.")
    try:
        services.submission_cancel(submission=submission)
    except services.SubmissionError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Submission cancelled.")
    return redirect("submission_detail", pk=submission.pk)


@login_required
@require_GET
def my_submissions(request):
    evaluations = Evaluation.objects.select_related("task", "split").order_by(
        "task__position", "split__position"
    )
    submissions = (
        Submission.objects.filter(participant=request.user)
        .select_related("benchmark")
        .prefetch_related(Prefetch("evaluations", queryset=evaluations))
    )
    page = Paginator(submissions, 50).get_page(request.GET.get("page"))
    for submission in page:
        for evaluation in submission.evaluations.all():
            # scores_visible() reads split.task.benchmark: hand it the rows already loaded
            # instead of two queries per evaluation.
            evaluation.task.benchmark = submission.benchmark
            evaluation.split.task = evaluation.task
    return render(request, "submissions/my_submissions.html", {"page": page})
