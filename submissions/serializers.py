"""API serializers for submissions, one per audience and direction. Participants write only the
upload fields; status, progress and the author-only flags are read-only everywhere and change
only through services (scoring, cancel, the admin)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from benchmarks.models import Benchmark, Task
from submissions.access import can_see_submission
from submissions.models import WEB_ADDRESS, Submission
from submissions.selectors import visible_evaluations, visible_provenance

# How metric values look in every answer (docs/formats.md), for the API's OpenAPI schema: keyed
# by metric, each a value (null when undefined) and its 95% interval where computed.
METRICS_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "value": {"type": "number", "nullable": True},
            "ci": {
                "type": "array",
                "items": {"type": "number", "nullable": True},
                "minItems": 2,
                "maxItems": 2,
                "nullable": True,
            },
        },
    },
    "example": {"accuracy": {"value": 0.7, "ci": [0.64, 0.76]}},
}


@extend_schema_field(METRICS_SCHEMA)
class MetricsField(serializers.JSONField):
    """A JSON field holding metric values (METRICS_SCHEMA)."""


LINK = {
    "max_length": 500,
    "required": False,
    "allow_blank": True,
    "default": "",
    "validators": [WEB_ADDRESS],
}


class SubmissionDetailsSerializer(serializers.Serializer):
    """What every submission also says: a task of the benchmark (in `context["benchmark"]`),
    and the name and description shown with its scores."""

    task = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Task.objects.none(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "No task '{value}' in this benchmark."},
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    # Links shown in the board's rows: web addresses only.
    paper_url = serializers.URLField(**LINK)
    code_url = serializers.URLField(**LINK)
    private = serializers.BooleanField(required=False, default=False)
    # The phase's slug (default: the open one); checked by the submission service.
    phase = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = self.context["benchmark"].tasks.all()


class PredictionUploadSerializer(SubmissionDetailsSerializer):
    """The multipart form of a prediction-file submission. Needs `benchmark` in its context:
    `task` names one of that benchmark's tasks."""

    file = serializers.FileField(
        error_messages={
            "required": "Attach a prediction file (field 'file').",
            "empty": "The file is empty.",
            "invalid": "Send the prediction file as a multipart upload in the field 'file'.",
        }
    )


class FinalSerializer(serializers.Serializer):
    """The participant's or team's choice: `{"final": true}` or `false`."""

    final = serializers.BooleanField(
        error_messages={
            "required": 'Send {{"final": true}} or {{"final": false}}.',
            "invalid": '"final" must be true or false.',
        }
    )


class PrivacySerializer(serializers.Serializer):
    """The owner's choice: `{"private": true}` or `false`."""

    private = serializers.BooleanField(
        error_messages={
            # DRF formats these with str.format: braces are doubled.
            "required": 'Send {{"private": true}} or {{"private": false}}.',
            "invalid": '"private" must be true or false.',
        }
    )


class HubModelSerializer(serializers.Serializer):
    repo_id = serializers.CharField(
        max_length=200,
        error_messages={"required": "Name the model's Hub repository ('repo_id': 'org/name')."},
    )
    revision = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ModelSubmissionSerializer(SubmissionDetailsSerializer):
    """A model submission: JSON `model` (a Hub repository) or a multipart `model_archive`.
    Needs `benchmark` in its context: `task` names one of that benchmark's tasks (default:
    every task)."""

    kind = serializers.ChoiceField(choices=["model"], required=False)
    model = HubModelSerializer(required=False)
    model_archive = serializers.FileField(
        required=False,
        error_messages={
            "empty": "The model archive is empty.",
            "invalid": "Send the model archive as a multipart upload in 'model_archive'.",
        },
    )

    def validate(self, attrs):
        # From what was sent: a form's `model` field is no nested object, but still a choice.
        sent = set(self.initial_data)
        if ("model" in sent) == ("model_archive" in sent):
            raise serializers.ValidationError(
                "Name a Hub model ('model': {'repo_id': 'org/name', 'revision': 'main'}) or "
                "attach a model archive ('model_archive'), one of the two."
            )
        if "model" not in attrs and "model_archive" not in attrs:
            raise serializers.ValidationError(
                "Send the Hub model as JSON: {'model': {'repo_id': 'org/name', 'revision': ...}}."
            )
        return attrs


class ModelSweepSerializer(serializers.Serializer):
    """Staff: one Hub model, and where to run it (a benchmark, or a task type everywhere)."""

    model = HubModelSerializer()
    benchmark = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Benchmark.objects.all(),
        required=False,
        error_messages={"does_not_exist": "No benchmark '{value}'."},
    )
    task_type = serializers.CharField(required=False)

    def validate(self, attrs):
        if "benchmark" in attrs and "task_type" in attrs:
            raise serializers.ValidationError("Give 'benchmark' or 'task_type', not both.")
        return attrs


class SubmissionCreatedSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = ["id", "status", "url"]
        read_only_fields = fields

    def get_url(self, submission: Submission) -> str:
        return reverse("api-submission-detail", kwargs={"submission_id": submission.pk})


class EvaluationSerializer(serializers.Serializer):
    """One entry of `submissions.selectors.visible_evaluations`: metrics are null when withheld."""

    task = serializers.CharField(read_only=True)
    split = serializers.CharField(read_only=True)
    role = serializers.CharField(read_only=True)
    withheld = serializers.BooleanField(read_only=True)
    metrics = MetricsField(allow_null=True, read_only=True)
    slices = serializers.JSONField(allow_null=True, read_only=True)
    confusion = serializers.JSONField(allow_null=True, read_only=True)
    efficiency = serializers.JSONField(allow_null=True, read_only=True)
    provenance = serializers.SerializerMethodField()

    def get_provenance(self, result: dict) -> dict | None:
        return None if result["withheld"] else visible_provenance(result["evaluation"])


class ModelReferenceSerializer(serializers.Serializer):
    """Which model a model submission is: a Hub repository at a commit, or an archive."""

    repo_id = serializers.CharField(source="model_repo_id", read_only=True)
    revision = serializers.CharField(source="model_revision", read_only=True)
    sha = serializers.CharField(source="model_sha", read_only=True)
    archive = serializers.CharField(source="original_filename", read_only=True)


class SubmissionDetailSerializer(serializers.ModelSerializer):
    """A submission as its owner and maintainers see it, and (once on a public board) everyone
    who can see the board. Needs `request` in its context."""

    benchmark = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    task = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    participant = serializers.CharField(source="participant.username", read_only=True)
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None)
    phase = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    error = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    evaluations = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    moderation_reason = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id",
            "url",
            "benchmark",
            "task",
            "kind",
            "participant",
            "team",
            "phase",
            "selected_final",
            "name",
            "description",
            "is_private",
            "is_baseline",
            "moderation_reason",
            "status",
            "stage",
            "progress",
            "rows_done",
            "rows_total",
            "stage_seconds",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "model",
            "evaluations",
        ]
        read_only_fields = fields

    @extend_schema_field(ModelReferenceSerializer(allow_null=True))
    def get_model(self, submission: Submission) -> dict | None:
        if submission.kind != Submission.Kind.MODEL:
            return None
        return ModelReferenceSerializer(submission).data

    def get_error(self, submission: Submission) -> str | None:
        return submission.error or None

    def get_moderation_reason(self, submission: Submission) -> str | None:
        """Why the authors hid, disqualified or marked it as a baseline: for its owner and the
        benchmark's maintainers and reviewers only; null for anyone else."""
        if not can_see_submission(self.context["request"].user, submission):
            return None
        return submission.moderation_reason

    def get_url(self, submission: Submission) -> str:
        return reverse("api-submission-detail", kwargs={"submission_id": submission.pk})

    @extend_schema_field(EvaluationSerializer(many=True))
    def get_evaluations(self, submission: Submission) -> list[dict]:
        evaluations = visible_evaluations(self.context["request"].user, submission)
        return EvaluationSerializer(evaluations, many=True).data


class SubmissionListSerializer(serializers.ModelSerializer):
    """One of the viewer's own submissions in a list: where it stands, not its scores (its
    `url` has those)."""

    benchmark = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    task = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    team = serializers.CharField(source="team.name", read_only=True, allow_null=True, default=None)
    phase = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id", "url", "benchmark", "task", "phase", "team", "kind", "name", "is_private",
            "selected_final", "status", "stage", "progress", "created_at", "finished_at",
            "moderation_reason",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, submission: Submission) -> str:
        return reverse("api-submission-detail", kwargs={"submission_id": submission.pk})


class LeaderboardRowSerializer(serializers.Serializer):
    """One `submissions.leaderboards.Row`: a submission's public face and its metric values."""

    rank = serializers.IntegerField(allow_null=True, read_only=True)
    submission = serializers.IntegerField(source="evaluation.submission_id", read_only=True)
    participant = serializers.CharField(source="submission.participant.username", read_only=True)
    # The team the submission was made for (null: the participant competes alone).
    team = serializers.CharField(
        source="submission.team.name", read_only=True, allow_null=True, default=None
    )
    name = serializers.CharField(source="submission.display_name", read_only=True)
    kind = serializers.CharField(source="submission.kind", read_only=True)
    # A model run's repository on the Hub at the commit that ran (null otherwise).
    model_url = serializers.CharField(source="submission.hub_url", read_only=True, allow_null=True)
    # The participant's links to the paper and the code ("" when not given).
    paper_url = serializers.CharField(source="submission.paper_url", read_only=True)
    code_url = serializers.CharField(source="submission.code_url", read_only=True)
    is_baseline = serializers.BooleanField(source="submission.is_baseline", read_only=True)
    created_at = serializers.DateTimeField(source="submission.created_at", read_only=True)
    metrics = MetricsField(source="evaluation.metrics", read_only=True)
    efficiency = serializers.JSONField(source="evaluation.efficiency", read_only=True)
    # The value the board is ranked on: the sort metric overall, or in the chosen slice cell.
    value = serializers.FloatField(allow_null=True, read_only=True)
    # The paired-bootstrap p-value against the row above (null: not tested) and whether the row
    # is in the group at the top not significantly different from #1.
    p_value_vs_above = serializers.FloatField(source="p_above", allow_null=True, read_only=True)
    tied_with_first = serializers.BooleanField(read_only=True)
