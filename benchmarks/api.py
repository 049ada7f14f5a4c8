"""REST API for benchmarks: list, detail, split input downloads and leaderboards (DESIGN §8).
Read-only; anyone may read what the access helpers let them see."""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpResponse
from rest_framework.decorators import api_view, content_negotiation_class
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from benchmarks.access import can_maintain, get_benchmark_for, get_split_for, get_task_for
from benchmarks.downloads import FORMATS, split_inputs_file
from benchmarks.leaderboards import default_split, leaderboard_build, metric_columns
from benchmarks.models import Benchmark, Split, Task
from benchmarks.serializers import (
    BenchmarkDetailSerializer,
    BenchmarkListSerializer,
    LeaderboardRowSerializer,
)

LEADERBOARD_PAGE_SIZE = 50


@api_view(["GET"])
def benchmark_list(request):
    benchmarks = Benchmark.objects.visible_to(request.user).prefetch_related("tasks")
    return Response(BenchmarkListSerializer(benchmarks, many=True).data)


@api_view(["GET"])
def benchmark_detail(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    prefetch_related_objects(
        [benchmark], Prefetch("tasks", queryset=Task.objects.prefetch_related("splits"))
    )
    return Response(BenchmarkDetailSerializer(benchmark).data)


class FormatIsAFileFormat(DefaultContentNegotiation):
    """`?format=` names the file to download here, not a DRF renderer (DRF would answer 404 for
    `format=parquet`). Errors are always rendered as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@api_view(["GET"])
@content_negotiation_class(FormatIsAFileFormat)
def split_inputs(request, slug: str, task: str, split: str):
    benchmark = get_benchmark_for(request.user, slug)
    split_obj = get_split_for(get_task_for(benchmark, task), split)
    if not split_obj.inputs_downloadable:
        raise NotFound(f"The inputs of split '{split_obj.name}' are not downloadable.")
    fmt = request.query_params.get("format") or "csv"
    if fmt not in FORMATS:
        raise ValidationError(f"Unknown format '{fmt}': use csv, jsonl or parquet.")
    content, content_type, filename = split_inputs_file(split_obj, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def leaderboard_split(task: Task, name: str | None) -> Split:
    """The split a leaderboard is asked for, or the task's default one; only scored splits
    have leaderboards."""
    if not name:
        split = default_split(task)
        if split is None:
            raise NotFound(f"Task '{task.slug}' has no scored split.")
        return split
    split = get_split_for(task, name)
    if not split.is_scored:
        raise NotFound(f"Split '{split.name}' is not scored, so it has no leaderboard.")
    return split


def page_number(request) -> int:
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError(f"Invalid page '{raw}': use a positive whole number.")
    return int(raw)


@api_view(["GET"])
def leaderboard(request, slug: str):
    benchmark = get_benchmark_for(request.user, slug)
    task = get_task_for(benchmark, request.query_params.get("task"))
    split = leaderboard_split(task, request.query_params.get("split"))
    if not split.scores_visible() and not can_maintain(request.user, benchmark):
        raise PermissionDenied(
            f"Scores on split '{split.name}' are revealed when the benchmark closes."
        )
    columns = metric_columns(task)
    sort = request.query_params.get("sort") or task.primary_metric
    if sort not in columns:
        raise ValidationError(f"Unknown sort metric '{sort}': use one of {', '.join(columns)}.")
    page = page_number(request)

    board = leaderboard_build(task=task, split=split, sort=sort)
    start = (page - 1) * LEADERBOARD_PAGE_SIZE
    rows = board.rows[start : start + LEADERBOARD_PAGE_SIZE]
    next_url = None
    if len(board.rows) > start + LEADERBOARD_PAGE_SIZE:
        params = request.query_params.copy()
        params["page"] = str(page + 1)
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return Response(
        {
            "benchmark": benchmark.slug,
            "task": task.slug,
            "split": split.name,
            "sort": board.sort,
            "columns": board.columns,
            "rows": LeaderboardRowSerializer(rows, many=True).data,
            "next": next_url,
        }
    )
