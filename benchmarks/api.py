"""REST API for benchmarks: list, detail and split downloads (docs/formats.md).
Read-only; anyone may read what the access helpers let them see."""

from __future__ import annotations

from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, content_negotiation_class
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from benchmarks.access import get_benchmark_for
from benchmarks.models import Benchmark, Task
from benchmarks.selectors import split_download_for
from benchmarks.serializers import (
    BenchmarkDetailSerializer,
    BenchmarkListSerializer,
)


@extend_schema(operation_id="benchmark_list", responses=BenchmarkListSerializer(many=True))
@api_view(["GET"])
def benchmark_list(request):
    benchmarks = Benchmark.objects.visible_to(request.user).prefetch_related("tasks")
    return Response(BenchmarkListSerializer(benchmarks, many=True).data)


@extend_schema(operation_id="benchmark_detail", responses=BenchmarkDetailSerializer)
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


@extend_schema(
    operation_id="split_inputs",
    parameters=[
        OpenApiParameter(
            "format",
            str,
            OpenApiParameter.QUERY,
            enum=["csv", "jsonl", "parquet"],
            description="File format (default csv).",
        )
    ],
    responses={
        (200, media_type): OpenApiTypes.BINARY
        for media_type in ("text/csv", "application/x-ndjson", "application/vnd.apache.parquet")
    },
    description="A split's ids and inputs, and the labels of train and public splits.",
)
@api_view(["GET"])
@content_negotiation_class(FormatIsAFileFormat)
def split_inputs(request, slug: str, task: str, split: str):
    fmt = request.query_params.get("format") or "csv"
    download = split_download_for(request.user, slug=slug, task=task, split=split, fmt=fmt)
    response = HttpResponse(download.content, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response
