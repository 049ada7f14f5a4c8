from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from benchmarks.access import get_benchmark_for
from submissions import services
from submissions.access import get_own_submission_for, get_submission_for
from submissions.forms import ModelSubmissionForm, SubmissionForm
from submissions.models import Evaluation, Submission
from submissions.selectors import (
    SelectionError,
    breakdown_cells,
    evaluation_columns,
    leaderboard_for,
    queue_wait,
    visible_evaluations,
)


@login_required
@require_http_methods(["GET", "POST"])
def submission_create(request, slug):
    """One page, two forms: a prediction file, and (where the benchmark takes them) a model."""
    benchmark = get_benchmark_for(request.user, slug)
    status = 200
    takes_models = "model" in benchmark.kinds
    form = SubmissionForm(benchmark=benchmark) if "predictions" in benchmark.kinds else None
    model_form = ModelSubmissionForm(benchmark=benchmark) if takes_models else None
    if request.method == "POST":
        is_model = request.POST.get("kind") == "model"
        bound_class = ModelSubmissionForm if is_model else SubmissionForm
        bound = bound_class(request.POST, request.FILES, benchmark=benchmark)
        if is_model:
            model_form = bound
        else:
            form = bound
        if bound.is_valid():
            fields = bound.cleaned_data
            common = {
                "benchmark": benchmark,
                "participant": request.user,
                "task": fields.get("task"),
                "name": fields["name"],
                "description": fields["description"],
            }
            try:
                if is_model:
                    submission = services.submission_create_model(
                        repo_id=fields["repo_id"].strip(),
                        revision=fields["revision"].strip(),
                        archive=fields.get("model_archive"),
                        **common,
                    )
                else:
                    submission = services.submission_create(uploaded_file=fields["file"], **common)
            except services.SubmissionError as exc:
                for message in exc.messages:
                    bound.add_error(None, message)
            else:
                what = "the model is queued to run" if is_model else "it is queued for scoring"
                messages.success(request, f"Submission received: {what}.")
                return redirect("submission_detail", pk=submission.pk)
        status = 400
    context = {
        "benchmark": benchmark,
        "form": form,
        "model_form": model_form,
        "quota": services.submission_quota(benchmark=benchmark, participant=request.user),
    }
    return render(request, "submissions/submission_form.html", context, status=status)


@login_required
@require_GET
def submission_detail(request, pk):
    submission = get_submission_for(request.user, pk)
    results = []
    if submission.status == Submission.Status.SCORED:
        results = [
            result
            if result["withheld"]
            else {
                **result,
                "columns": evaluation_columns(result["evaluation"]),
                "primary": result["evaluation"].task.primary_metric,
                "cells": breakdown_cells(result),
            }
            for result in visible_evaluations(request.user, submission)
        ]
    context = {
        "submission": submission,
        "results": results,
        "waiting": queue_wait(submission),
        "min_slice_size": settings.MIN_SLICE_SIZE,
    }
    return render(request, "submissions/submission_detail.html", context)


@login_required
@require_POST
def submission_cancel(request, pk):
    submission = get_own_submission_for(request.user, pk)
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


@require_GET
def leaderboard(request, slug):
    benchmark = get_benchmark_for(request.user, slug)
    params = {k: request.GET.get(k) for k in ("task", "split", "sort")}
    try:
        view = leaderboard_for(request.user, benchmark, **params)
    except SelectionError as exc:
        if exc.status_code == 404:
            raise Http404(exc.message) from None
        # The same answer as the API's, in the page: what was wrong and what to use instead.
        view = leaderboard_for(request.user, benchmark, **{**params, "sort": None})
        context = {**view.context(), "error": exc.message}
        return render(request, "submissions/leaderboard.html", context, status=400)
    return render(request, "submissions/leaderboard.html", view.context())
