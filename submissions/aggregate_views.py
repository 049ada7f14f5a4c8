"""The benchmark-level board (submissions/aggregate.py) as a page and in the REST API. Both take
the same `w.<task>.<metric>` weights and refuse the same parameters the same way: the page shows
the default weights with the reason (400), the API answers `{"errors": [...]}`."""

from __future__ import annotations

from django.http import QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from benchmarks.access import get_benchmark_for
from submissions import aggregate, api_schema
from submissions.selectors import SelectionError


@require_GET
def overall_board(request, slug):
    benchmark = get_benchmark_for(request.user, slug)
    status, error = 200, None
    try:
        board = aggregate.aggregate_for(request.user, benchmark, request.GET)
    except SelectionError as exc:
        status, error = exc.status_code, exc.message
        board = aggregate.aggregate_for(request.user, benchmark, QueryDict())
    context = {"benchmark": benchmark, "board": board, "error": error}
    return render(request, "submissions/overall_board.html", context, status=status)


@extend_schema(
    operation_id="overall_board",
    parameters=[api_schema.WEIGHTS],
    responses=api_schema.OverallBoardSerializer,
)
@api_view(["GET"])
@permission_classes([AllowAny])
def overall_board_api(request, slug):
    """Every row of the benchmark-level board for the weights asked for."""
    benchmark = get_benchmark_for(request.user, slug)
    try:
        board = aggregate.aggregate_for(request.user, benchmark, request.query_params)
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return Response(
        {
            "benchmark": benchmark.slug,
            "weights": board.weights,
            "components": [
                {
                    "name": c.name,
                    "task": c.task.slug,
                    "split": c.split.name,
                    "metric": c.key,
                    "weight": c.weight,
                    "normalisation": "scale" if c.scale else "min-max",
                    "lower_is_better": c.lower,
                }
                for c in board.components
            ],
            "withheld_tasks": [task.slug for task in board.withheld],
            "rows": [
                {
                    "rank": row.rank,
                    "submission": row.submission.pk,
                    "participant": row.submission.participant.username,
                    "name": row.submission.display_name,
                    "is_baseline": row.submission.is_baseline,
                    "score": row.score,
                    "values": row.values,
                    "normalised": row.normalised,
                    "url": request.build_absolute_uri(
                        reverse("submission_detail", args=[row.submission.pk])
                    ),
                }
                for row in board.rows
            ],
        }
    )
