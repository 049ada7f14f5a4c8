"""The admin's forms. What an author saves is checked by the bundle's own code (the same checks,
the same sentences, shown on the field they are about), so that the admin never stores what an
import of the benchmark's export would refuse (docs/authors.md)."""

from __future__ import annotations

import re
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django_jsonform.widgets import JSONFormWidget

from benchmarks.admin import schemas
from benchmarks.admin.schemas import compact, compact_metric
from benchmarks.bundles import SPEC_FILENAME, BundleError, policy_check, task_fields_check
from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import split_upload_freeze, task_data_problems

# Where each key path of a bundle's task (relative to the task) is edited.
TASK_FIELD_OF_KEY = {
    "slug": "slug",
    "title": "title",
    "type": "type",
    "columns.id": "id_column",
    "columns.inputs": "input_columns",
    "columns.label": "label_column",
    "columns.labels": "label_names",
    "columns.metadata": "metadata_columns",
    "metrics": "metrics",
    "primary_metric": "primary_metric",
    "slices": "slices",
    "model_run": "model_run",
}
# Task fields the checks of the stored split data depend on.
TASK_DATA_FIELDS = (
    "type",
    "id_column",
    "input_columns",
    "label_column",
    "label_names",
    "metadata_columns",
    "slices",
)
BENCHMARK_FIELD_OF_KEY = {
    "submission_policy.kinds": "accepted_kinds",
    "submission_policy.max_per_day": "max_per_day",
    "submission_policy.max_total": "max_total",
    "submission_policy.opens_at": "opens_at",
    "submission_policy.closes_at": "closes_at",
    "submission_policy.allow_custom_code": "allow_custom_code",
    "submission_policy.allow_pickle_weights": "allow_pickle_weights",
    "submission_policy.final_selection": "max_final",
    "aggregate_weights": "aggregate_weights",
}


def field_of(message: str, field_of_key: dict[str, str]) -> str | None:
    """The form field a bundle message is about, from the key path it starts with (None: the
    form as a whole)."""
    path = message.split(": ", 1)[0]
    for key, field in field_of_key.items():
        if path == key or path.startswith((f"{key}.", f"{key}[")):
            return field
    return None


class CheckedByBundleMixin:
    """Runs the bundle's checks over a form's values (or, for fields the form does not show,
    the stored ones) once the fields themselves are valid, and files each message under the
    field it is about."""

    def value(self, cleaned: dict, name: str):
        return cleaned.get(name) if name in self.fields else getattr(self.instance, name)

    def checkable(self, names) -> bool:
        # A field with its own error (JSON that does not parse) is fixed first: checking the
        # rest without it would report problems that only follow from it.
        return not any(name in self.errors for name in names)

    def add_bundle_errors(self, messages: list[str], field_of_key: dict[str, str]) -> None:
        for message in messages:
            field = field_of(message, field_of_key)
            self.add_error(field if field in self.fields else None, message)


class BenchmarkAdminForm(CheckedByBundleMixin, forms.ModelForm):
    class Meta:
        model = Benchmark
        fields = [
            "title",
            "slug",
            "visibility",
            "description",
            "license",
            "citation",
            "accepted_kinds",
            "max_per_day",
            "max_total",
            "opens_at",
            "closes_at",
            "allow_custom_code",
            "allow_pickle_weights",
            "max_final",
            "maintainers",
            "reviewers",
            "aggregate_weights",
        ]
        widgets = {
            "accepted_kinds": JSONFormWidget(schema=schemas.KINDS_SCHEMA),
            "aggregate_weights": JSONFormWidget(schema=schemas.WEIGHTS_SCHEMA),
        }

    def clean(self):
        cleaned = super().clean()
        if not self.checkable(BENCHMARK_FIELD_OF_KEY.values()):
            return cleaned
        kinds = self.value(cleaned, "accepted_kinds")
        policy = {
            # Empty means predictions only here; a bundle lists the kinds.
            "kinds": (kinds or ["predictions"]) if isinstance(kinds, list) else kinds,
            **{
                name: self.value(cleaned, name)
                for name in (
                    "max_per_day",
                    "max_total",
                    "opens_at",
                    "closes_at",
                    "allow_custom_code",
                    "allow_pickle_weights",
                )
            },
            "final_selection": self.value(cleaned, "max_final"),
        }
        tasks = list(self.instance.tasks.values("slug", "metrics")) if self.instance.pk else []
        weights = compact(self.value(cleaned, "aggregate_weights"))
        checked = policy_check(policy, weights, tasks)
        if checked.errors:
            self.add_bundle_errors(checked.errors, BENCHMARK_FIELD_OF_KEY)
        elif "aggregate_weights" in self.fields:
            cleaned["aggregate_weights"] = checked.spec["aggregate_weights"]
        return cleaned


class TaskAdminForm(CheckedByBundleMixin, forms.ModelForm):
    class Meta:
        model = Task
        fields = [
            "benchmark",
            "slug",
            "title",
            "position",
            "type",
            "id_column",
            "input_columns",
            "label_column",
            "label_names",
            "metadata_columns",
            "metrics",
            "primary_metric",
            "slices",
            "model_run",
        ]
        widgets = {
            "input_columns": JSONFormWidget(schema=schemas.INPUT_COLUMNS),
            "label_names": JSONFormWidget(schema=schemas.LABEL_NAMES),
            "metadata_columns": JSONFormWidget(schema=schemas.METADATA_COLUMNS),
            "metrics": JSONFormWidget(schema=schemas.METRICS_SCHEMA),
            "slices": JSONFormWidget(schema=schemas.SLICES_SCHEMA),
            "model_run": JSONFormWidget(schema=schemas.MODEL_RUN_SCHEMA),
        }

    def clean(self):
        cleaned = super().clean()
        if not self.checkable(TASK_FIELD_OF_KEY.values()):
            return cleaned
        checked = task_fields_check(self.task_raw(cleaned))
        if checked.errors:
            self.add_bundle_errors(checked.errors, TASK_FIELD_OF_KEY)
            return cleaned
        spec = checked.spec
        normal = {
            "input_columns": spec["columns"]["inputs"],
            "label_names": spec["columns"]["labels"],
            "metadata_columns": spec["columns"]["metadata"],
            "metrics": spec["metrics"],
            "primary_metric": spec["primary_metric"],
            "slices": spec["slices"],
            "model_run": spec["model_run"],
        }
        cleaned.update({name: value for name, value in normal.items() if name in self.fields})
        if self.instance.pk and set(TASK_DATA_FIELDS) & set(self.changed_data):
            replaced = self.splits_replaced()
            for message in task_data_problems(task=self.instance, spec=spec, exclude=replaced):
                self.add_error(None, message)
        return cleaned

    def splits_replaced(self) -> set[int]:
        """The stored splits that the page's split rows (TaskAdmin's inline, prefix "splits")
        replace with a new file or delete in this save: their new files are checked against
        the new fields by their own form, so that an author can add a column and upload the
        files that have it in one save."""
        rows = {row[1] for key in self.files if (row := re.fullmatch(r"splits-(\d+)-data", key))}
        rows |= {
            row[1]
            for key, value in self.data.items()
            if value and (row := re.fullmatch(r"splits-(\d+)-DELETE", key))
        }
        ids = (self.data.get(f"splits-{row}-id") for row in rows)
        return {int(pk) for pk in ids if pk and str(pk).isdigit()}

    def task_raw(self, cleaned: dict) -> dict:
        """The task as a bundle would describe it."""
        value = self.value
        metrics = value(cleaned, "metrics")
        if isinstance(metrics, list):
            metrics = [compact_metric(m) for m in metrics]
        return {
            "slug": value(cleaned, "slug"),
            "title": value(cleaned, "title") or "",
            "type": value(cleaned, "type"),
            "columns": {
                "id": value(cleaned, "id_column"),
                "inputs": compact(value(cleaned, "input_columns")),
                "label": value(cleaned, "label_column"),
                # A bundle leaves the names out where the type has none.
                "labels": compact(value(cleaned, "label_names")) or None,
                "metadata": compact(value(cleaned, "metadata_columns")),
            },
            "metrics": metrics,
            "primary_metric": value(cleaned, "primary_metric") or None,
            "slices": compact(value(cleaned, "slices")),
            "model_run": compact(value(cleaned, "model_run")),
        }


class SplitAdminForm(forms.ModelForm):
    """An uploaded split file (CSV, JSON lines or Parquet) is read, checked and frozen to
    Parquet exactly as a bundle's split is; its fingerprint and row count come from the frozen
    data."""

    class Meta:
        model = Split
        # Not fingerprint and num_rows: they are computed from the file.
        fields = ["task", "name", "position", "role", "reveal", "inputs_downloadable", "data"]
        fields += ["source"]
        help_texts = {
            "data": "A CSV, JSON lines or Parquet file (optionally .gz) with the task's id, "
            "input, label and metadata columns; it is checked and stored as frozen Parquet, "
            "as a bundle's split is. Replacing it changes the fingerprint: rescore existing "
            "submissions afterwards.",
        }

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("data")
        if upload is None or "data" not in self.changed_data:
            return cleaned
        task = cleaned.get("task") or getattr(self.instance, "task", None)
        if task is None or not (cleaned.get("name") and cleaned.get("role")):
            return cleaned  # those fields carry their own errors
        split = {"name": cleaned["name"], "role": cleaned["role"]}
        try:
            frozen = split_upload_freeze(
                task=task, split=split, upload=upload, exclude=self.instance.pk
            )
        except BundleError as exc:
            for message in exc.messages:
                self.add_error("data", message)
            return cleaned
        cleaned["data"] = ContentFile(frozen.parquet, name=f"{frozen.fingerprint[:16]}.parquet")
        self.instance.fingerprint = frozen.fingerprint
        self.instance.num_rows = frozen.num_rows
        if not cleaned.get("source"):
            cleaned["source"] = f"upload: {Path(upload.name).name}"[:300]
        return cleaned


class BundleUploadForm(forms.Form):
    bundle = forms.FileField(
        help_text=f"A .zip with {SPEC_FILENAME} at its root (or in one top folder) and the data "
        "files it names."
    )
    update = forms.BooleanField(
        required=False,
        help_text="Replace the benchmark with the same slug in place, keeping its submissions.",
    )

    def clean_bundle(self):
        bundle = self.cleaned_data["bundle"]
        if bundle.size > settings.MAX_BUNDLE_MB << 20:
            raise forms.ValidationError(
                f"The bundle is {bundle.size / 2**20:,.0f} MB; an uploaded bundle may be at most "
                f"{settings.MAX_BUNDLE_MB:,} MB (MAX_BUNDLE_MB)."
            )
        return bundle
