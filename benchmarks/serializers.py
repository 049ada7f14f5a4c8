"""API serializers for benchmarks and leaderboards. Everything here is read-only: benchmarks are
edited in the admin or through bundles, never through the participant API."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from benchmarks.downloads import carries_labels
from benchmarks.models import Benchmark, Split, Task


class BenchmarkListSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    tasks = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    is_open = serializers.SerializerMethodField()

    class Meta:
        model = Benchmark
        fields = ["slug", "title", "url", "tasks", "visibility", "is_open"]
        read_only_fields = fields

    def get_url(self, benchmark: Benchmark) -> str:
        return reverse("api-benchmark-detail", kwargs={"slug": benchmark.slug})

    def get_is_open(self, benchmark: Benchmark) -> bool:
        return benchmark.is_open()


class SplitSerializer(serializers.ModelSerializer):
    """A split as participants see it: its size and rules, never its rows. `inputs_url` is its
    download, which carries the labels where `inputs_include_labels` (train and public splits)."""

    rows = serializers.IntegerField(source="num_rows", read_only=True)
    inputs_url = serializers.SerializerMethodField()
    inputs_include_labels = serializers.SerializerMethodField()

    class Meta:
        model = Split
        fields = [
            "name",
            "role",
            "rows",
            "reveal",
            "inputs_downloadable",
            "inputs_url",
            "inputs_include_labels",
        ]
        read_only_fields = fields

    def get_inputs_url(self, split: Split) -> str | None:
        if not split.inputs_downloadable:
            return None
        task = split.task
        return reverse(
            "api-split-inputs",
            kwargs={"slug": task.benchmark.slug, "task": task.slug, "split": split.name},
        )

    def get_inputs_include_labels(self, split: Split) -> bool:
        return split.inputs_downloadable and carries_labels(split)


class TaskSerializer(serializers.ModelSerializer):
    inputs = serializers.ListField(source="input_columns", read_only=True)
    labels = serializers.ListField(source="label_names", read_only=True)
    splits = SplitSerializer(many=True, read_only=True)

    class Meta:
        model = Task
        fields = [
            "slug",
            "title",
            "type",
            "inputs",
            "labels",
            "metrics",
            "primary_metric",
            "splits",
        ]
        read_only_fields = fields


class PolicySerializer(serializers.ModelSerializer):
    kinds = serializers.ListField(read_only=True)

    class Meta:
        model = Benchmark
        fields = ["kinds", "max_per_day", "max_total", "opens_at", "closes_at"]
        read_only_fields = fields


class BenchmarkDetailSerializer(serializers.ModelSerializer):
    policy = PolicySerializer(source="*", read_only=True)
    tasks = TaskSerializer(many=True, read_only=True)
    is_open = serializers.SerializerMethodField()

    class Meta:
        model = Benchmark
        fields = [
            "slug",
            "title",
            "description",
            "license",
            "citation",
            "visibility",
            "is_open",
            "policy",
            "tasks",
        ]
        read_only_fields = fields

    def get_is_open(self, benchmark: Benchmark) -> bool:
        return benchmark.is_open()
