"""Structured editing of a task's and a benchmark's JSON fields in the admin: the editors, and
saving checked by the bundle's own code, with the bundle's sentences on the field."""

from __future__ import annotations

import json

from django.contrib.staticfiles import finders

from benchmarks.bundles import spec_check
from benchmarks.models import Benchmark, Task
from tests.base import SECRET_LABELS, classification_rows
from tests.test_admin import AdminTestCase, parquet_upload


def task_form_data(task: Task, **changes) -> dict:
    """The task change form as posted, JSON fields as the editors send them."""
    data = {
        "benchmark": task.benchmark_id,
        "slug": task.slug,
        "title": task.title,
        "position": task.position,
        "type": task.type,
        "id_column": task.id_column,
        "input_columns": task.input_columns,
        "label_column": task.label_column,
        "label_names": task.label_names,
        "metadata_columns": task.metadata_columns,
        "metrics": task.metrics,
        "primary_metric": task.primary_metric,
        "slices": task.slices,
        "model_run": task.model_run,
        **changes,
    }
    json_fields = ["input_columns", "label_names", "metadata_columns", "metrics", "slices"]
    for name in [*json_fields, "model_run"]:
        data[name] = json.dumps(data[name])
    splits = list(task.splits.all())
    data.update({"splits-TOTAL_FORMS": len(splits), "splits-INITIAL_FORMS": len(splits)})
    for i, split in enumerate(splits):
        data.update(
            {
                f"splits-{i}-id": split.pk,
                f"splits-{i}-task": task.pk,
                f"splits-{i}-name": split.name,
                f"splits-{i}-role": split.role,
                f"splits-{i}-reveal": split.reveal,
                f"splits-{i}-inputs_downloadable": "on",
                f"splits-{i}-position": split.position,
            }
        )
    return data


def bundle_task_errors(**fields) -> list[str]:
    """What a bundle with this task (and valid data) is refused for, key paths made relative to
    the task."""
    task = {
        "slug": "sst",
        "type": "text-classification",
        "data": {"splits": {"dev": {"path": "dev.csv", "role": "public"}}},
        **fields,
    }
    errors = spec_check({"slug": "b", "title": "B", "tasks": [task]}).errors
    return [e.removeprefix("tasks[0].") for e in errors]


class TaskEditorTests(AdminTestCase):
    def setUp(self):
        self.client.force_login(self.author)

    def change(self, **changes):
        url = self.url(Task, "change", self.task.pk)
        return self.client.post(url, task_form_data(self.task, **changes))

    def field_errors(self, response, field: str) -> list[str]:
        form = response.context["adminform"].form
        return list(form.errors.get(field, []))

    def test_the_json_fields_are_structured_editors_whose_scripts_are_served_locally(self):
        response = self.client.get(self.url(Task, "change", self.task.pk))
        for field in [
            "input_columns",
            "label_names",
            "metadata_columns",
            "metrics",
            "slices",
            "model_run",
        ]:
            self.assertContains(response, f'<textarea cols="40" id="id_{field}" name="{field}"')
        self.assertContains(response, "data-django-jsonform=", count=6)
        self.assertContains(response, "&quot;choices&quot;: [&quot;accuracy&quot;, &quot;f1&quot;")
        for script in response.context["media"]._js:
            with self.subTest(script=script):
                self.assertFalse(script.startswith(("http:", "https:", "//")))
                self.assertIsNotNone(finders.find(script), f"{script} is not a static file")

    def test_what_the_editor_sends_is_stored_as_a_bundle_would_hold_it(self):
        metrics = [
            {"name": "accuracy", "average": "", "pos_label": "", "use_stemmer": False},
            {"name": "f1", "average": "weighted", "word_order": None, "lowercase": False},
        ]
        slices = [
            {"name": "topic", "column": "topic", "measure": "", "bins": [], "pattern": ""},
            {"name": "length", "column": "text", "measure": "words", "bins": [0, 5], "pattern": ""},
        ]
        model_run = {"timeout_s": 120, "max_memory_gb": None, "batch_size": None}
        response = self.change(
            metrics=metrics, primary_metric="f1_weighted", slices=slices, model_run=model_run
        )
        self.assertEqual(response.status_code, 302, response.context and response.context["errors"])
        self.task.refresh_from_db()
        self.assertEqual(
            self.task.metrics, [{"name": "accuracy"}, {"name": "f1", "average": "weighted"}]
        )
        self.assertEqual(
            self.task.slices,
            [
                {"name": "topic", "column": "topic"},
                {"name": "length", "column": "text", "measure": "words", "bins": [0, 5]},
            ],
        )
        self.assertEqual(self.task.model_run, {"timeout_s": 120})

    def test_each_problem_is_the_bundles_sentence_on_its_field(self):
        cases = [
            ("metrics", {"metrics": [{"name": "f1", "average": "mean"}]}),
            ("metrics", {"metrics": [{"name": "mse"}]}),
            ("slices", {"slices": [{"name": "x", "column": "nope"}]}),
            ("slices", {"slices": [{"name": "x", "column": "text", "pattern": "("}]}),
            ("slices", {"slices": [{"name": "x", "column": "text", "bins": [3, 1]}]}),
            ("model_run", {"model_run": {"batch_size": 2.5}}),
            ("input_columns", {"input_columns": ["text", ""]}),
        ]
        for field, changes in cases:
            with self.subTest(field=field, changes=changes):
                response = self.change(**changes)
                self.assertEqual(response.status_code, 200)
                bundle = {
                    "columns": {
                        "inputs": changes.get("input_columns", ["text"]),
                        "labels": SECRET_LABELS,
                        "metadata": ["topic"],
                    },
                    "metrics": changes.get("metrics", self.task.metrics),
                    "slices": changes.get("slices", self.task.slices),
                    "model_run": changes.get("model_run", {}),
                }
                expected = bundle_task_errors(**bundle)
                self.assertTrue(expected)
                self.assertEqual(self.field_errors(response, field), expected)
        self.task.refresh_from_db()
        self.assertEqual(self.task.slices, [{"name": "topic", "column": "topic"}])

    def test_a_primary_metric_must_be_a_reported_key(self):
        response = self.change(primary_metric="f1")
        self.assertEqual(
            self.field_errors(response, "primary_metric"),
            [
                "primary_metric: expected one of the reported metric keys (accuracy, f1_macro), "
                "got 'f1'"
            ],
        )

    def test_label_names_on_a_type_without_labels_are_refused(self):
        response = self.change(type="regression", metrics=[{"name": "mse"}], primary_metric="mse")
        self.assertIn(
            "columns.labels: only classification tasks have label names; regression does not",
            self.field_errors(response, "label_names"),
        )

    def test_the_stored_splits_are_checked_again_when_the_columns_change(self):
        response = self.change(metadata_columns=["topic", "source"])
        errors = response.context["adminform"].form.non_field_errors()
        self.assertEqual(
            list(errors),
            [
                "split dev: metadata column 'source' missing in split dev (columns: id, text, "
                "label, topic)",
                "split test: metadata column 'source' missing in split test (columns: id, "
                "text, label, topic)",
            ],
        )
        self.task.refresh_from_db()
        self.assertEqual(self.task.metadata_columns, ["topic"])

    def test_a_column_is_added_together_with_the_files_that_have_it(self):
        data = task_form_data(self.task, metadata_columns=["topic", "source"])
        for i, split in enumerate(self.task.splits.all()):
            rows = classification_rows(split.name, 6, SECRET_LABELS)
            for row in rows:
                row["source"] = "web"
            data[f"splits-{i}-data"] = parquet_upload(rows, f"{split.name}.parquet")
        response = self.client.post(self.url(Task, "change", self.task.pk), data)
        self.assertEqual(response.status_code, 302)
        self.task.refresh_from_db()
        self.assertEqual(self.task.metadata_columns, ["topic", "source"])
        self.assertEqual([s.num_rows for s in self.task.splits.all()], [6, 6])

    def test_renaming_a_label_is_refused_without_showing_hidden_labels(self):
        response = self.change(label_names=["zz-label-neg", "renamed"])
        errors = list(response.context["adminform"].form.non_field_errors())
        self.assertEqual(len(errors), 2)
        self.assertIn("split dev: unknown label values 'zz-label-pos'", errors[0])
        self.assertEqual(
            errors[1],
            "split test: 5 rows have a label that is not one of columns.labels (values not "
            "shown: the split is hidden)",
        )
        self.task.refresh_from_db()
        self.assertEqual(self.task.label_names, SECRET_LABELS)

    def test_the_bundle_refuses_a_metric_argument_it_cannot_check_instead_of_crashing(self):
        errors = bundle_task_errors(
            type="text-generation",
            columns={"inputs": ["source"], "label": "reference"},
            metrics=[{"name": "rouge", "rouge_types": ["rouge1"]}],
        )
        self.assertEqual(
            errors,
            ["metrics[0].rouge_types: unknown argument for metric 'rouge'; allowed: use_stemmer"],
        )


def benchmark_form_data(benchmark: Benchmark, **changes) -> dict:
    data = {
        "title": benchmark.title,
        "slug": benchmark.slug,
        "visibility": benchmark.visibility,
        "description": benchmark.description,
        "accepted_kinds": json.dumps(changes.pop("accepted_kinds", benchmark.accepted_kinds)),
        "aggregate_weights": json.dumps(changes.pop("aggregate_weights", {})),
        "maintainers": [m.pk for m in benchmark.maintainers.all()],
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "1",
        "phases-TOTAL_FORMS": "0",
        "phases-INITIAL_FORMS": "0",
        "tasks-0-id": benchmark.tasks.get().pk,
        "tasks-0-benchmark": benchmark.pk,
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


class PolicyEditorTests(AdminTestCase):
    def setUp(self):
        self.client.force_login(self.author)

    def change(self, **changes):
        url = self.url(Benchmark, "change", self.benchmark.pk)
        return self.client.post(url, benchmark_form_data(self.benchmark, **changes))

    def errors(self, response, field: str) -> list[str]:
        return list(response.context["adminform"].form.errors.get(field, []))

    def test_kinds_and_weights_have_structured_editors(self):
        response = self.client.get(self.url(Benchmark, "change", self.benchmark.pk))
        self.assertContains(response, 'name="accepted_kinds"')
        self.assertContains(response, "&quot;widget&quot;: &quot;multiselect&quot;")
        self.assertContains(response, "&quot;additionalProperties&quot;")

    def test_a_valid_policy_is_saved(self):
        response = self.change(
            accepted_kinds=["model", "predictions"],
            aggregate_weights={"sst": 2, "sst.f1_macro": 1},
            max_per_day="3",
        )
        self.assertEqual(response.status_code, 302)
        self.benchmark.refresh_from_db()
        self.assertEqual(self.benchmark.accepted_kinds, ["model", "predictions"])
        self.assertEqual(self.benchmark.aggregate_weights, {"sst": 2, "sst.f1_macro": 1})
        self.assertEqual(self.benchmark.max_per_day, 3)

    def test_a_window_that_closes_before_it_opens_is_refused_on_closes_at(self):
        response = self.change(
            opens_at_0="2026-05-01",
            opens_at_1="00:00",
            closes_at_0="2026-04-01",
            closes_at_1="00:00",
        )
        self.assertEqual(
            self.errors(response, "closes_at"),
            ["submission_policy.closes_at: expected a time after opens_at"],
        )

    def test_unknown_kinds_and_weights_get_the_bundles_sentences(self):
        response = self.change(accepted_kinds=["files"], aggregate_weights={"nope": 1, "sst": -1})
        self.assertEqual(
            self.errors(response, "accepted_kinds"),
            ["submission_policy.kinds[0]: expected one of predictions, model, got 'files'"],
        )
        self.assertEqual(
            self.errors(response, "aggregate_weights"),
            [
                "aggregate_weights.sst: expected a number ≥ 0, got -1",
                "aggregate_weights.nope: expected a task slug or <task>.<metric> of this bundle "
                "(sst, sst.accuracy, sst.f1_macro), got 'nope'",
            ],
        )
        self.benchmark.refresh_from_db()
        self.assertEqual(self.benchmark.aggregate_weights, {})
