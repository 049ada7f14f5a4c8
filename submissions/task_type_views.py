"""Pages of the best models for a task type across the public benchmarks
(submissions/task_types.py): the task types with their counts, and one type's ranking."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from scoring.tasktypes import TASK_TYPES
from submissions import task_types
from submissions.selectors import SelectionError


@require_GET
def task_type_list(request):
    summaries = task_types.task_type_summaries()
    for summary in summaries:
        summary.title = task_types.type_title(summary.task_type)
    return render(request, "submissions/task_types.html", {"summaries": summaries})


@require_GET
def task_type_best(request, task_type):
    """One task type's best models (`?limit=`, 10 by default, at most 100). An unknown type is
    a 404; a bad limit, the default ranking with the reason (400)."""
    if task_type not in TASK_TYPES:
        raise Http404("No such task type.")
    status, error = 200, None
    try:
        limit = task_types.limit_parse(request.GET.get("limit"))
    except SelectionError as exc:
        status, error, limit = exc.status_code, exc.message, task_types.DEFAULT_LIMIT
    ranking = task_types.best_models(task_type, limit=limit)
    context = {
        "ranking": ranking,
        "title": task_types.type_title(task_type),
        "limit": limit,
        "max_limit": task_types.MAX_LIMIT,
        "error": error,
    }
    return render(request, "submissions/task_type_best.html", context, status=status)
