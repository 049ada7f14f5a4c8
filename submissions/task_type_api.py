"""REST API of the best models for a task type across the public benchmarks
(submissions/task_types.py, docs/formats.md "Best models for a task type"). Unknown query
parameters and bad values are a 400 naming what to use, an unknown task type a 404, each as
`{"errors": [...]}`."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from submissions import api_schema, task_types
from submissions.selectors import SelectionError


def _page_url(request):
    """Absolute links to pages, for the rows' result pages."""
    return lambda name, *args: request.build_absolute_uri(reverse(name, args=args))


@extend_schema(operation_id="task_type_list", responses=api_schema.TaskTypeListSerializer)
@api_view(["GET"])
@permission_classes([AllowAny])
def task_type_list(request):
    """Every task type with its public benchmarks, boards and models, and where its ranking is."""
    try:
        task_types.parameters_check(request.query_params, ())
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return Response(
        {
            "task_types": [
                {
                    "task_type": summary.task_type,
                    "benchmarks": summary.benchmarks,
                    "boards": summary.boards,
                    "models": summary.models,
                    "url": request.build_absolute_uri(
                        reverse("api-task-type-best", args=[summary.task_type])
                    ),
                }
                for summary in task_types.task_type_summaries()
            ]
        }
    )


@extend_schema(
    operation_id="task_type_best",
    parameters=api_schema.TASK_TYPE_BEST_PARAMETERS,
    responses=api_schema.TaskTypeBestSerializer,
)
@api_view(["GET"])
@permission_classes([AllowAny])
def task_type_best(request, task_type: str):
    """The top `?limit=` (10; at most 100) models of a task type across the public benchmarks,
    with each one's results per board."""
    params = request.query_params
    try:
        task_types.task_type_check(task_type)
        task_types.parameters_check(params, ("limit",))
        limit = task_types.limit_parse(params.get("limit"))
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    ranking = task_types.best_models(task_type, limit=limit)
    return Response({**task_types.ranking_data(ranking, url=_page_url(request)), "limit": limit})
