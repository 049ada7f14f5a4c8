"""REST API for submissions (docs/formats.md): upload a prediction file or submit a model, read
a submission, cancel it, leaderboards. Participants change nothing else: status and flags move
only through services."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import (
    api_view,
    content_negotiation_class,
    parser_classes,
    permission_classes,
)
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.response import Response

from benchmarks.access import get_benchmark_for
from benchmarks.api import FormatIsAFileFormat
from submissions import analysis, api_schema, exports, history, services
from submissions.access import get_own_submission_for, get_result_for
from submissions.board_entries import board_cached
from submissions.boards import leaderboard_from_query
from submissions.selectors import (
    CELL_FIELDS,
    SelectionError,
    breakdown_for,
    own_submissions,
    shown_cell,
)
from submissions.serializers import (
    LeaderboardRowSerializer,
    ModelSubmissionSerializer,
    ModelSweepSerializer,
    PredictionUploadSerializer,
    PrivacySerializer,
    SubmissionCreatedSerializer,
    SubmissionDetailSerializer,
    SubmissionListSerializer,
)
from submissions.sweeps import model_sweep_create


@extend_schema(
    operation_id="submission_create",
    request={
        "multipart/form-data": api_schema.SubmissionUploadSerializer,
        "application/json": api_schema.HubModelSubmissionSerializer,
    },
    responses={201: SubmissionCreatedSerializer},
    description="A prediction file (multipart `file`), or a model: JSON `model` or multipart "
    "`model_archive`. 403 closed or not allowed, 429 over quota, 503 the Hub cannot be reached "
    "or this platform has no sandbox.",
)
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
        "links": {k: fields.get(k) or "" for k in ("paper_url", "code_url")},
        "private": fields.get("private", False),
        "phase": fields.get("phase") or None,
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


SUBMISSION_LIST_PARAMETERS = ("benchmark", "status", "page")


def refuse_nul_characters(params) -> None:
    """A 400 for a query value holding a NUL character, which PostgreSQL cannot compare (the
    driver raises instead of finding nothing)."""
    for name, value in params.items():
        if "\x00" in value:
            raise ValidationError(f"Parameter '{name[:40]}' holds a NUL character.")


@extend_schema(
    operation_id="submission_list",
    parameters=api_schema.SUBMISSION_LIST_PARAMETERS,
    responses=api_schema.SubmissionPageSerializer,
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def submission_list(request):
    """The viewer's own submissions, newest first, 50 a page: `?benchmark=<slug>` and
    `?status=` narrow it; any other parameter is refused."""
    params = request.query_params
    unknown = [name for name in params if name not in SUBMISSION_LIST_PARAMETERS]
    if unknown:
        raise ValidationError(
            f"Unknown parameter '{unknown[0][:40]}': use {', '.join(SUBMISSION_LIST_PARAMETERS)}."
        )
    refuse_nul_characters(params)
    try:
        submissions = own_submissions(
            request.user, benchmark=params.get("benchmark"), status=params.get("status")
        )
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    page = page_number(request)
    start = (page - 1) * LEADERBOARD_PAGE_SIZE
    found = list(
        submissions.order_by("-created_at", "-pk")[start : start + LEADERBOARD_PAGE_SIZE + 1]
    )
    next_url = None
    if len(found) > LEADERBOARD_PAGE_SIZE:
        query = params.copy()
        query["page"] = str(page + 1)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    rows = SubmissionListSerializer(found[:LEADERBOARD_PAGE_SIZE], many=True).data
    return Response({"submissions": rows, "next": next_url})


@extend_schema(operation_id="submission_detail", responses=SubmissionDetailSerializer)
@api_view(["GET"])
@permission_classes([AllowAny])
def submission_detail(request, submission_id: int):
    """The owner and maintainers see any submission; anyone who can see a benchmark sees the
    submissions shown on its boards (not private)."""
    submission = get_result_for(request.user, submission_id)
    return Response(SubmissionDetailSerializer(submission, context={"request": request}).data)


@extend_schema(
    operation_id="submission_breakdown",
    parameters=api_schema.BREAKDOWN_PARAMETERS,
    responses=api_schema.BreakdownSerializer,
)
@api_view(["GET"])
@permission_classes([AllowAny])
def submission_breakdown(request, submission_id: int):
    """Per-slice metrics of one evaluation (docs/formats.md): `?task=&split=`, defaulting to the
    submission's first evaluation. Hidden splits come with small cells suppressed."""
    submission = get_result_for(request.user, submission_id)
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
            "slices": [shown_cell(cell, (*CELL_FIELDS, "gap")) for cell in result["cells"]],
            "confusion": result["confusion"],
        }
    )


@extend_schema(
    operation_id="submission_privacy",
    request=PrivacySerializer,
    responses=SubmissionDetailSerializer,
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def submission_privacy(request, submission_id: int):
    """The owner: `{"private": true}` keeps a submission off the public boards, `false` shows
    it again."""
    submission = get_own_submission_for(request.user, submission_id)
    form = PrivacySerializer(data=request.data)
    form.is_valid(raise_exception=True)
    submission = services.submission_set_private(
        submission=submission, private=form.validated_data["private"]
    )
    return Response(SubmissionDetailSerializer(submission, context={"request": request}).data)


@extend_schema(
    operation_id="submission_cancel",
    request=None,
    responses=SubmissionDetailSerializer,
    description="The owner cancels a queued or running submission.",
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


# Far past any list, and small enough for a database's OFFSET (a 64-bit integer).
MAX_PAGE = 10**9


def page_number(request) -> int:
    raw = request.query_params.get("page") or "1"
    # ASCII digits only: str.isdigit() also accepts digits such as '²' that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise ValidationError(f"Invalid page '{raw[:20]}': use a positive whole number.")
    return int(raw)


@extend_schema(
    operation_id="leaderboard",
    parameters=[*api_schema.BOARD_PARAMETERS, api_schema.PAGE],
    responses=api_schema.LeaderboardSerializer,
    description="Ranked rows (competition ranks 1, 1, 3; rows without a value last, rank null), "
    "50 a page.",
)
@api_view(["GET"])
def leaderboard(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    params = request.query_params
    try:
        view = leaderboard_from_query(request.user, benchmark, params, extra=("page",))
        view.require_board()
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    page = page_number(request)
    start = (page - 1) * LEADERBOARD_PAGE_SIZE

    def answer() -> dict:
        board = view.page(start, LEADERBOARD_PAGE_SIZE)
        return {
            "benchmark": benchmark.slug,
            "task": view.task.slug,
            "split": view.split.name,
            "sort": view.sort,
            "slice": view.cell and {"slice": view.cell[0], "cell": view.cell[1]},
            "show": view.show,
            "kind": view.kind,
            "baselines": view.baselines,
            "slices": [{"slice": name, "cell": cell} for name, cell in view.cells],
            "columns": view.columns,
            "rows": [dict(row) for row in LeaderboardRowSerializer(board.rows, many=True).data],
            "more": board.total > start + LEADERBOARD_PAGE_SIZE,
        }

    # The same for every viewer allowed to see it: kept until the split's boards change.
    data = dict(board_cached(view.split.pk, f"api:{view.query(page=page)}", answer))
    next_url = None
    if data.pop("more"):
        query = params.copy()
        query["page"] = str(page + 1)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return Response({**data, "next": next_url})


@extend_schema(
    operation_id="leaderboard_history",
    parameters=api_schema.HISTORY_PARAMETERS,
    responses=api_schema.HistorySerializer,
)
@api_view(["GET"])
def leaderboard_history(request, slug: str):
    """The best score of a board over time (`?task=&split=&sort=`, chosen and refused as the
    board is; 403 while withheld): the participant submissions that improved it, and the
    baselines (docs/formats.md, "Leaderboard history")."""
    benchmark = get_benchmark_for(request.user, slug)
    try:
        found = history.history_for(request.user, benchmark, request.query_params)
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return Response(found.as_json())


def result_url(request, submission_id: int) -> str:
    """A submission's result page, the one its rows and model index link to."""
    return request.build_absolute_uri(reverse("submission_detail", args=[submission_id]))


@extend_schema(
    operation_id="leaderboard_export",
    parameters=api_schema.EXPORT_PARAMETERS,
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The rows as CSV."),
        (200, "application/json"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="The rows as JSON (docs/formats.md, 'Exports')."
        ),
    },
)
@api_view(["GET"])
@content_negotiation_class(FormatIsAFileFormat)
def leaderboard_export(request, slug: str):
    """Every row of the board `leaderboard` pages through (`?task=&split=&sort=&slice=&cell=`,
    refused alike), as `?format=csv` (the default) or `json` (docs/formats.md, "Exports")."""
    benchmark = get_benchmark_for(request.user, slug)
    params = request.query_params
    try:
        export = exports.board_export_for(
            request.user,
            benchmark,
            params,
            params.get("format") or "csv",
            result_url=lambda pk: result_url(request, pk),
        )
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return export.response()


@extend_schema(
    operation_id="submission_model_index",
    responses={
        (200, "text/yaml"): OpenApiResponse(
            OpenApiTypes.OBJECT, description="A model card's `model-index` metadata, as YAML."
        )
    },
)
@api_view(["GET"])
@permission_classes([AllowAny])
@content_negotiation_class(FormatIsAFileFormat)  # YAML whatever `Accept` asks; errors as JSON
def submission_model_index(request, submission_id: int):
    """The scores a viewer sees of a submission as a Hugging Face model card's `model-index`
    (YAML, `text/yaml`): 404 before it is scored, 403 while every score is withheld."""
    submission = get_result_for(request.user, submission_id)
    try:
        text = exports.model_index_for(
            request.user, submission, result_url=result_url(request, submission.pk)
        )
    except SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return HttpResponse(text, content_type="text/yaml; charset=utf-8")


@extend_schema(
    operation_id="model_evaluate",
    request=ModelSweepSerializer,
    responses={201: api_schema.SweepSerializer},
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


# Per-example analysis (submissions/analysis/, docs/formats.md).


def _next_link(request, page: dict) -> str | None:
    if not page["has_next"]:
        return None
    query = request.query_params.copy()
    query["page"] = str(page["page"] + 1)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


@extend_schema(
    operation_id="submission_examples",
    parameters=api_schema.EXAMPLES_PARAMETERS,
    responses=api_schema.ExamplesPageSerializer,
)
@api_view(["GET"])
def submission_examples(request, submission_id: int):
    """One public-split evaluation's rows (`?task=&split=&cell=<slice>:<cell>&gold=&predicted=
    &correct=yes|no&q=&sort=worst|best|id&page=`), 50 a page, worst first. Hidden and withheld
    splits: 403; train splits, unknown names, no per-example results: 404; a bad filter: 400."""
    submission = analysis.submission_for(request.user, submission_id)
    params = request.query_params
    refuse_nul_characters(params)
    try:
        browser = analysis.error_browser(
            request.user, submission, task=params.get("task"), split=params.get("split")
        )
        query = browser.parse(params)
        target = browser.target
        image_url = analysis.example_image_url(submission.pk, target.task.slug, target.split.name)
        page = browser.page(
            query, image_url=lambda row_id: request.build_absolute_uri(image_url(row_id))
        )
    except analysis.SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    return Response(
        {
            "task": target.task.slug,
            "split": target.split.name,
            "count": page["count"],
            "page": page["page"],
            "pages": page["pages"],
            "next": _next_link(request, page),
            "rows": page["rows"],
        }
    )


@extend_schema(
    operation_id="benchmark_compare",
    parameters=api_schema.COMPARE_PARAMETERS,
    responses=api_schema.ComparisonSerializer,
)
@api_view(["GET"])
def benchmark_compare(request, slug: str):
    """Two to four submissions on one task and split (`?task=&split=&submissions=12,15&page=`):
    metrics with deltas to the first and paired-bootstrap intervals and p-values, slice cells
    shown for all of them, and on public splits wins/ties/losses and the rows they disagree on
    (`per_example.disagreements`, 50 a page)."""
    benchmark = get_benchmark_for(request.user, slug)
    params = request.query_params
    refuse_nul_characters(params)
    try:
        ids = analysis.parse_submission_ids(params.getlist("submissions"))
        comparison = analysis.comparison_for(
            request.user, benchmark, task=params.get("task"), split=params.get("split"), ids=ids
        )
        image_url = analysis.example_image_url(ids[0], comparison.task.slug, comparison.split.name)
        payload = analysis.comparison_payload(
            comparison,
            page=analysis.page_number(params.get("page")),
            image_url=lambda row_id: request.build_absolute_uri(image_url(row_id)),
        )
    except analysis.SelectionError as exc:
        return Response({"errors": [exc.message]}, status=exc.status_code)
    detail = payload["per_example"].get("disagreements")
    if detail is not None:
        detail["next"] = _next_link(request, detail)
        del detail["has_next"]
    return Response(payload)
