"""The shapes of the submissions API's answers and requests, for its OpenAPI schema only
(drf-spectacular, docs/api.md). The views build these answers themselves (submissions/api.py,
docs/formats.md); nothing here serializes or validates a request. Parts whose keys depend on a
task (metrics, slices, per-example rows) are documented as open objects."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from submissions.models import Submission
from submissions.serializers import (
    HubModelSerializer,
    LeaderboardRowSerializer,
    MetricsField,
    SubmissionCreatedSerializer,
    SubmissionListSerializer,
)


def query(name: str, description: str, type=str, required=False, **extra) -> OpenApiParameter:
    return OpenApiParameter(
        name, type, OpenApiParameter.QUERY, required=required, description=description, **extra
    )


PAGE = query("page", "Page number, from 1 (50 rows a page).", int)
TASK = query("task", "Task slug (default: the benchmark's first task).")
SPLIT = query(
    "split",
    "Split name (default: the task's first hidden split whose scores are visible now, else "
    "its first public split).",
)
SORT = query("sort", "Metric key to rank by (default: the task's primary metric).")
SLICE = query("slice", "Rank on one slice cell: the slice's name (with `cell`).")
CELL = query("cell", "Rank on one slice cell: the cell's name (with `slice`).")
BOARD_PARAMETERS = [
    TASK,
    SPLIT,
    SORT,
    SLICE,
    CELL,
    query(
        "show",
        "Each participant's or team's best submission (default), all, or the final board "
        "(benchmarks with final selection).",
        enum=["best", "all", "final"],
    ),
    query("kind", "One kind of submission only.", enum=list(Submission.Kind.values)),
    query("baselines", "Show the baselines (default on).", enum=["on", "off"]),
]
SUBMISSION_LIST_PARAMETERS = [
    query("benchmark", "Only submissions to this benchmark (slug)."),
    query("status", "Only submissions in this state.", enum=list(Submission.Status.values)),
    PAGE,
]
BREAKDOWN_PARAMETERS = [
    query("task", "Task slug (default: the submission's first evaluation)."),
    query("split", "Split name (default: the submission's first evaluation)."),
]
HISTORY_PARAMETERS = [TASK, SPLIT, SORT]
EXPORT_PARAMETERS = [
    TASK,
    SPLIT,
    SORT,
    SLICE,
    CELL,
    query("format", "File format (default csv).", enum=["csv", "json"]),
]
EXAMPLES_PARAMETERS = [
    query("task", "Task slug (default: the submission's first public evaluation)."),
    query("split", "Split name (a public split)."),
    query("cell", "`<slice>:<cell>`; may be repeated.", many=True, explode=True),
    query("gold", "Classification: rows with this gold label."),
    query("predicted", "Classification: rows with this predicted label."),
    query("correct", "Only right or only wrong rows.", enum=["yes", "no"]),
    query("q", "Rows whose inputs contain this text."),
    query("sort", "Row order (default worst).", enum=["worst", "best", "id"]),
    PAGE,
]
COMPARE_PARAMETERS = [
    TASK,
    SPLIT,
    query("submissions", "2 to 4 submission ids, comma-separated: `12,15`.", required=True),
    query("page", "Page of the rows where they disagree, from 1.", int),
]
WEIGHTS = OpenApiParameter(
    "weights",
    {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1000}},
    OpenApiParameter.QUERY,
    required=False,
    style="form",
    explode=True,
    description=(
        "Weights as `w.<task>.<metric>=<weight>` parameters (0 to 1000), one each; the "
        "parameter names themselves carry task and metric (default: the benchmark's weights)."
    ),
)
TASK_TYPE_BEST_PARAMETERS = [query("limit", "How many models (1 to 100; default 10).", int)]


class SubmissionRequestSerializer(serializers.Serializer):
    """What every submission may also say (SubmissionDetailsSerializer)."""

    task = serializers.CharField(required=False, help_text="Task slug (default: every task).")
    name = serializers.CharField(required=False, max_length=200, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, help_text="Markdown.")
    private = serializers.BooleanField(required=False, default=False)
    phase = serializers.CharField(
        required=False, help_text="Phase slug (default: the open phase; benchmarks with phases)."
    )


class SubmissionUploadSerializer(SubmissionRequestSerializer):
    """Multipart: a prediction file in `file`, or a model folder's archive in
    `model_archive` (with `kind=model`)."""

    file = serializers.FileField(required=False, help_text="A prediction file (docs/formats.md).")
    model_archive = serializers.FileField(
        required=False, help_text="A .zip or .tar.gz of an HF-format model folder."
    )
    kind = serializers.ChoiceField(choices=["model"], required=False)


class HubModelSubmissionSerializer(SubmissionRequestSerializer):
    """JSON: a model on the Hugging Face Hub at a revision."""

    model = HubModelSerializer()


class SubmissionPageSerializer(serializers.Serializer):
    submissions = SubmissionListSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")


class SliceCellSerializer(serializers.Serializer):
    slice = serializers.CharField()
    cell = serializers.CharField()


class LeaderboardSerializer(serializers.Serializer):
    benchmark = serializers.CharField()
    task = serializers.CharField()
    split = serializers.CharField()
    sort = serializers.CharField()
    slice = SliceCellSerializer(allow_null=True, help_text="The cell ranked on, or null.")
    show = serializers.CharField()
    kind = serializers.CharField(allow_null=True)
    baselines = serializers.BooleanField()
    slices = SliceCellSerializer(many=True, help_text="The cells the board may be ranked on.")
    columns = serializers.ListField(child=serializers.CharField(), help_text="Metric keys.")
    rows = LeaderboardRowSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")


class BreakdownCellSerializer(serializers.Serializer):
    slice = serializers.CharField()
    cell = serializers.CharField()
    n = serializers.IntegerField(allow_null=True, help_text="Rows; null when suppressed.")
    metrics = MetricsField(allow_null=True, help_text="Null when suppressed.")
    suppressed = serializers.BooleanField()
    gap = serializers.FloatField(allow_null=True, help_text="To the overall primary metric.")
    auto = serializers.BooleanField(required=False)
    by_prediction = serializers.BooleanField(required=False)
    unit = serializers.CharField(required=False)


class ConfusionSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField())
    matrix = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))


class BreakdownSerializer(serializers.Serializer):
    task = serializers.CharField()
    split = serializers.CharField()
    role = serializers.CharField()
    primary = serializers.CharField(help_text="The task's primary metric.")
    overall = MetricsField(allow_null=True)
    slices = BreakdownCellSerializer(many=True)
    confusion = ConfusionSerializer(allow_null=True)


class HistoryPointSerializer(serializers.Serializer):
    date = serializers.DateTimeField()
    value = serializers.FloatField()
    submission = serializers.IntegerField()
    participant = serializers.CharField()
    name = serializers.CharField()


class HistoryBaselineSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField()
    submission = serializers.IntegerField()


class HistorySerializer(serializers.Serializer):
    task = serializers.CharField()
    split = serializers.CharField()
    sort = serializers.CharField()
    lower_is_better = serializers.BooleanField()
    points = HistoryPointSerializer(many=True)
    baselines = HistoryBaselineSerializer(many=True)


class ExamplesPageSerializer(serializers.Serializer):
    task = serializers.CharField()
    split = serializers.CharField()
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text='Rows: {"id", "inputs", "gold", "prediction", "score", "correct", "cells"}.',
    )


class ComparedSubmissionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    participant = serializers.CharField()


class ComparisonSerializer(serializers.Serializer):
    benchmark = serializers.CharField()
    task = serializers.CharField()
    split = serializers.CharField()
    role = serializers.CharField()
    primary = serializers.CharField()
    submissions = ComparedSubmissionSerializer(many=True)
    metrics = serializers.ListField(
        child=serializers.DictField(),
        help_text='Per metric: {"key", "values", "deltas", "ci", "p_value"}.',
    )
    bootstrap = serializers.DictField()
    slices = serializers.ListField(child=serializers.DictField())
    suppressed_cells = serializers.JSONField()
    per_example = serializers.DictField(
        help_text='{"available", "reason"}, and on public splits "win_tie_loss" and '
        '"disagreements" (a page of rows, with "next").'
    )


class OverallComponentSerializer(serializers.Serializer):
    name = serializers.CharField()
    task = serializers.CharField()
    split = serializers.CharField()
    metric = serializers.CharField()
    weight = serializers.FloatField()
    normalisation = serializers.ChoiceField(choices=["scale", "min-max"])
    lower_is_better = serializers.BooleanField()


class OverallRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True)
    submission = serializers.IntegerField()
    participant = serializers.CharField()
    name = serializers.CharField()
    is_baseline = serializers.BooleanField()
    score = serializers.FloatField(allow_null=True)
    values = serializers.JSONField()
    normalised = serializers.JSONField()
    url = serializers.URLField()


class OverallBoardSerializer(serializers.Serializer):
    benchmark = serializers.CharField()
    weights = serializers.DictField(child=serializers.FloatField())
    components = OverallComponentSerializer(many=True)
    withheld_tasks = serializers.ListField(child=serializers.CharField())
    rows = OverallRowSerializer(many=True)


class TaskTypeSummarySerializer(serializers.Serializer):
    task_type = serializers.CharField()
    benchmarks = serializers.IntegerField()
    boards = serializers.IntegerField()
    models = serializers.IntegerField()
    url = serializers.URLField()


class TaskTypeListSerializer(serializers.Serializer):
    task_types = TaskTypeSummarySerializer(many=True)


class TaskTypeBoardSerializer(serializers.Serializer):
    benchmark = serializers.CharField()
    task = serializers.CharField()
    split = serializers.CharField()
    metric = serializers.CharField()
    lower_is_better = serializers.BooleanField()
    rows = serializers.IntegerField()


class TaskTypeModelSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    name = serializers.CharField()
    repo_id = serializers.CharField(allow_null=True)
    revision = serializers.CharField(allow_null=True)
    sha = serializers.CharField(allow_null=True)
    archive = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    score = serializers.FloatField()
    mean_percentile = serializers.FloatField()
    boards = serializers.IntegerField()
    benchmarks = serializers.IntegerField()
    parameters = serializers.IntegerField(allow_null=True)
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="One per board (docs/formats.md, 'Best models for a task type').",
    )


class TaskTypeBestSerializer(serializers.Serializer):
    task_type = serializers.CharField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()
    boards = TaskTypeBoardSerializer(many=True)
    models = TaskTypeModelSerializer(many=True)


class SweepSubmissionSerializer(SubmissionCreatedSerializer):
    benchmark = serializers.CharField()
    task = serializers.CharField()

    class Meta(SubmissionCreatedSerializer.Meta):
        fields = [*SubmissionCreatedSerializer.Meta.fields, "benchmark", "task"]
        read_only_fields = fields


class SweepSerializer(serializers.Serializer):
    submissions = SweepSubmissionSerializer(many=True)
    skipped = serializers.ListField(child=serializers.CharField(), help_text="What was left out.")
