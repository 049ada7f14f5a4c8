"""REST API for submissions (DESIGN §8): upload a prediction file, read a submission, cancel it.
Participants change nothing else: status and flags move only through services."""

from __future__ import annotations

from rest_framework import status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from benchmarks.access import get_benchmark_for
from benchmarks.models import Benchmark
from submissions import services
from submissions.access import get_submission_for
from submissions.results import visible_evaluations
from submissions.serializers import (
    PredictionUploadSerializer,
    SubmissionCreatedSerializer,
    SubmissionDetailSerializer,
)


def refuse_model_submission(benchmark: Benchmark):
    """Model submissions (JSON `model` or a `model_archive` upload) are not served yet."""
    if "model" not in benchmark.kinds:
        accepted = " or ".join(benchmark.kinds)
        raise PermissionDenied(
            f"This benchmark does not accept model submissions; it accepts {accepted}."
        )
    raise ValidationError("Model submissions are not available yet on this platform.")


@api_view(["POST"])
@permission_classes([IsAuthenticated])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def submission_create(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    if isinstance(request.data, dict) and (
        "model" in request.data or "model_archive" in request.data
    ):
        refuse_model_submission(benchmark)
    form = PredictionUploadSerializer(data=request.data, context={"benchmark": benchmark})
    form.is_valid(raise_exception=True)
    try:
        submission = services.submission_create(
            benchmark=benchmark,
            participant=request.user,
            uploaded_file=form.validated_data["file"],
            task=form.validated_data.get("task"),
            name=form.validated_data["name"],
            description=form.validated_data["description"],
        )
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
    """Per-slice metrics of one evaluation (DESIGN §8): `?task=&split=`, defaulting to the
    submission's first evaluation. Hidden splits come with small cells suppressed."""
    submission = get_submission_for(request.user, submission_id)
    evaluations = visible_evaluations(request.user, submission)
    task, split = request.query_params.get("task"), request.query_params.get("split")
    chosen = [
        e
        for e in evaluations
        if (not task or e["task"] == task) and (not split or e["split"] == split)
    ]
    if not chosen:
        raise NotFound("This submission has no evaluation for that task and split.")
    result = chosen[0]
    if result["withheld"]:
        raise PermissionDenied(
            f"Scores on split '{result['split']}' are revealed when the benchmark closes."
        )
    return Response(
        {
            "task": result["task"],
            "split": result["split"],
            "role": result["role"],
            "overall": result["metrics"],
            "slices": result["slices"],
            "confusion": result["confusion"],
        }
    )


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_cancel(request, submission_id: int):
    submission = get_submission_for(request.user, submission_id)
    if submission.participant_id != request.user.pk:
        raise PermissionDenied("Only the participant who made a submission can cancel it.")
    try:
        submission = services.submission_cancel(submission=submission)
    except services.SubmissionError as exc:
        return Response({"errors": exc.messages}, status=exc.status_code)
    return Response(SubmissionDetailSerializer(submission, context={"request": request}).data)
