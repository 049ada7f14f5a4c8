"""REST API for submissions (docs/formats.md): upload a prediction file or submit a model, read
a submission, cancel it, leaderboards. Participants change nothing else: status and flags move
only through services."""

from __future__ import annotations

from rest_framework import status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response

from benchmarks.access import get_benchmark_for
from submissions import services
from submissions.access import get_own_submission_for, get_submission_for
from submissions.selectors import CELL_FIELDS, SelectionError, breakdown_for, leaderboard_for
from submissions.serializers import (
    LeaderboardRowSerializer,
    ModelSubmissionSerializer,
    ModelSweepSerializer,
    PredictionUploadSerializer,
    SubmissionCreatedSerializer,
    SubmissionDetailSerializer,
)
from submissions.sweeps import model_sweep_create


@api_view(["POST"])
@permission_classes([IsAuthenticated])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def submission_create(request, slug: str):
    """A prediction file (multipart `file`), or a model: JSON `{"model": {"repo_id",
    "revision"}}` or multipart `model_archive` (docs/formats.md)."""
    benchmark = get_benchmark_for(request.user, slug)
    data = request.data
    is_model = isinstance(data, dict) and (
        "model" in data or "model_archive" in data or data.get("kind") == "model"
    )
    serializer = ModelSubmissionSerializer if is_model else PredictionUploadSerializer
    form = serializer(data=data, context={"benchmark": benchmark})
    form.is_valid(raise_exception=True)
    fields = form.validated_data
    common = {
        "benchmark": benchmark,
        "participant": request.user,
        "task": fields.get("task"),
        "name": fields["name"],
        "description": fields["description"],
    }
    try:
        if is_model:
            model = fields.get("model") or {}
            submission = services.submission_create_model(
                repo_id=model.get("repo_id", ""),
                revision=model.get("revision", ""),
                archive=fields.get("model_archive"),
                **common,
            )
        else:
            submission = services.submission_create(uploaded_file=fields["file"], **common)
    except services.SubmissionError as exc:
        return Response({"errors": exc.messages}, status=exc.status_code)
    return Response(SubmissionCreatedSerializer(submission).data, status=status.HTTP_201_CREATED)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def submission_detail(request, submission_id: int):
    submission = get_submission_for(request.user, submission_id)
    return Response(SubmissionDetailSerializer(submission, context={"request": request}).data)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def submission_breakdown(request, submission_id: int):
    """Per-slice metrics of one evaluation (docs/formats.md): `?task=&split=`, defaulting to the
    submission's first evaluation. Hidden splits come with small cells suppressed."""
    submission = get_submission_for(request.user, submission_id)
    params = request.query_params
    try:
        result = breakdown_for(
            request.user, submission, task=params.get("task"), split=params.get("split")
        )
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return Response(
        {
            "task": result["task"],
            "split": result["split"],
            "role": result["role"],
            "primary": result["primary"],
            "overall": result["metrics"],
            "slices": [{k: cell[k] for k in (*CELL_FIELDS, "gap")} for cell in result["cells"]],
            "confusion": result["confusion"],
        }
    )


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_cancel(request, submission_id: int):
    submission = get_own_submission_for(request.user, submission_id)
    try:
        submission = services.submission_cancel(submission=submission)
    except services.SubmissionError as exc:
        return Response({"errors": exc.messages}, status=exc.status_code)
    return Response(SubmissionDetailSerializer(submission, context={"request": request}).data)


LEADERBOARD_PAGE_SIZE = 50


def page_number(request) -> int:
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError(f"Invalid page '{raw}': use a positive whole number.")
    return int(raw)


@api_view(["GET"])
def leaderboard(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    params = request.query_params
    try:
        view = leaderboard_for(
            request.user,
            benchmark,
            task=params.get("task"),
            split=params.get("split"),
            sort=params.get("sort"),
        )
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    if view.split is None:
        raise NotFound(f"Task '{view.task.slug}' has no scored split.")
    if view.withheld:
        raise PermissionDenied(
            f"Scores on split '{view.split.name}' are revealed when the benchmark closes."
        )
    page = page_number(request)
    start = (page - 1) * LEADERBOARD_PAGE_SIZE
    rows = view.board.rows[start : start + LEADERBOARD_PAGE_SIZE]
    next_url = None
    if len(view.board.rows) > start + LEADERBOARD_PAGE_SIZE:
        query = params.copy()
        query["page"] = str(page + 1)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return Response(
        {
            "benchmark": benchmark.slug,
            "task": view.task.slug,
            "split": view.split.name,
            "sort": view.sort,
            "columns": view.columns,
            "rows": LeaderboardRowSerializer(rows, many=True).data,
            "next": next_url,
        }
    )


@api_view(["POST"])
@permission_classes([IsAdminUser])
@parser_classes([JSONParser])
def model_evaluate(request):
    """Staff: submit one Hub model to every compatible task (`manage.py evaluate_model`).
    JSON `{"model": {"repo_id", "revision"}, "benchmark": slug}` or `..., "task_type": type}`."""
    form = ModelSweepSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    fields = form.validated_data
    try:
        sweep = model_sweep_create(
            repo_id=fields["model"]["repo_id"],
            revision=fields["model"].get("revision", ""),
            benchmark=fields.get("benchmark"),
            task_type=fields.get("task_type"),
        )
    except services.SubmissionError as exc:
        return Response({"errors": exc.messages}, status=exc.status_code)
    created = [
        {**SubmissionCreatedSerializer(s).data, "benchmark": s.benchmark.slug, "task": s.task.slug}
        for s in sweep.submissions
    ]
    return Response({"submissions": created, "skipped": sweep.skipped}, status=201)
