"""A bad bundle gives clear errors naming the key path, never shows a hidden label, and changes
nothing: no rows, no stored files."""

from __future__ import annotations

import copy
import os
import zipfile

from benchmarks.bundles import BundleError
from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import benchmark_import
from tests.benchmarks.test_bundle_import import (
    BundleTestCase,
    bundle_spec,
    default_files,
    rows,
    task_spec,
    write_bundle,
)

# Values only hidden rows carry: none may appear in any message.
SECRET = "zz-secret-label"


def spec_with(change) -> dict:
    spec = copy.deepcopy(bundle_spec())
    change(spec)
    return spec


class BundleErrorTests(BundleTestCase):
    def assert_import_fails(self, *fragments: str, spec=None, files=None, source=None):
        """Import fails with messages containing each fragment (each in some message), and
        nothing was written."""
        source = source or write_bundle(self.tmp / "bundle", spec, files)
        with self.assertRaises(BundleError) as caught:
            benchmark_import(source=source)
        messages = caught.exception.messages
        for fragment in fragments:
            self.assertTrue(any(fragment in m for m in messages), f"{fragment!r} not in {messages}")
        self.assertNotIn(SECRET, str(caught.exception))
        self.assertEqual(Benchmark.objects.count(), 0)
        self.assertEqual(Task.objects.count() + Split.objects.count(), 0)
        self.assertEqual(self.stored_files(), [])
        return messages

    def test_it_reports_a_missing_file(self):
        files = {k: v for k, v in default_files().items() if k != "data/dev.jsonl"}
        self.assert_import_fails(
            "tasks[0].data.splits.dev.path: file 'data/dev.jsonl' not found in the bundle",
            files=files,
        )

    def test_it_reports_bad_yaml_with_its_line(self):
        self.assert_import_fails(
            "benchmark.yaml line 4, column 3",
            spec="slug: mini\ntitle: Mini\ntasks: [\n  - {slug: x",
        )

    def test_it_reports_a_duplicate_yaml_key_with_its_line(self):
        self.assert_import_fails(
            "benchmark.yaml line 2, column 1: duplicate key 'slug'",
            spec="slug: mini\nslug: other\ntitle: Mini\n",
        )

    def test_it_refuses_unknown_keys_at_the_top_and_nested(self):
        def change(spec):
            spec["sponsor"] = "acme"
            spec["tasks"][0]["columns"]["lable"] = "label"
            spec["tasks"][0]["data"]["splits"]["dev"]["rol"] = "public"

        messages = self.assert_import_fails(
            "sponsor: unknown key; expected one of slug,",
            "tasks[0].columns.lable: unknown key; did you mean 'label'?",
            "tasks[0].data.splits.dev.rol: unknown key",
            spec=spec_with(change),
        )
        self.assertGreaterEqual(len(messages), 3)

    def test_it_refuses_duplicate_ids_within_a_split(self):
        files = {**default_files(), "data/dev.jsonl": rows("dev", 10) + rows("dev", 2)}
        self.assert_import_fails(
            "tasks[0].data.splits.dev: 2 ids occur more than once in split dev, "
            "e.g. 'dev-000', 'dev-001'",
            files=files,
        )

    def test_it_refuses_ids_shared_between_splits(self):
        files = {**default_files(), "data/test.jsonl": rows("dev", 3)}
        self.assert_import_fails(
            "tasks[0].data.splits.test: 3 ids of split test also occur in split dev", files=files
        )

    def test_it_refuses_a_split_without_its_label_column(self):
        hidden = [{k: v for k, v in row.items() if k != "label"} for row in rows("te", 10)]
        self.assert_import_fails(
            "tasks[0].data.splits.test: label column 'label' missing in split test",
            files={**default_files(), "data/test.jsonl": hidden},
        )

    def test_it_refuses_an_unknown_metric(self):
        self.assert_import_fails(
            "tasks[0].metrics[1]: unknown metric 'f2'",
            spec=spec_with(lambda s: s["tasks"][0].update(metrics=["accuracy", "f2"])),
        )

    def test_it_refuses_a_metric_the_task_type_does_not_have(self):
        self.assert_import_fails(
            "tasks[0].metrics[0]: metric 'mse' is not available for text-classification",
            spec=spec_with(lambda s: s["tasks"][0].update(metrics=["mse"])),
        )

    def test_it_refuses_bad_metric_arguments(self):
        metrics = [{"name": "f1", "average": "mean"}, {"name": "accuracy", "normalize": True}]
        self.assert_import_fails(
            "tasks[0].metrics[0].average: expected one of micro, macro, weighted, binary",
            "tasks[0].metrics[1].normalize: unknown argument for metric 'accuracy'",
            spec=spec_with(lambda s: s["tasks"][0].update(metrics=metrics)),
        )

    def test_it_refuses_a_primary_metric_that_is_not_reported(self):
        self.assert_import_fails(
            "tasks[0].primary_metric: expected one of the reported metric keys "
            "(accuracy, f1_macro), got 'f1'",
            spec=spec_with(lambda s: s["tasks"][0].update(primary_metric="f1")),
        )

    def test_it_shows_unknown_labels_of_a_public_split(self):
        dev = rows("dev", 10)
        dev[0]["label"] = "neutral"
        self.assert_import_fails(
            "tasks[0].data.splits.dev: unknown label values 'neutral' in 1 rows; expected one "
            "of negative, positive",
            files={**default_files(), "data/dev.jsonl": dev},
        )

    def test_it_counts_unknown_labels_of_a_hidden_split_without_showing_them(self):
        test = rows("te", 10)
        test[0]["label"] = SECRET
        test[1]["label"] = 7
        test[2]["label"] = "positive"
        self.assert_import_fails(
            "tasks[0].data.splits.test: 2 rows have a label that is not one of columns.labels "
            "(values not shown: the split is hidden)",
            files={
                **default_files(),
                "data/test.jsonl": [{**r, "label": str(r["label"])} for r in test],
            },
        )

    def test_hidden_labels_appear_in_no_message(self):
        # A hidden split with every kind of problem: duplicate ids, unknown labels, empty ids.
        test = [{**row, "label": SECRET} for row in rows("te", 10)]
        test[1]["id"] = test[0]["id"]
        test[2]["id"] = ""
        self.assert_import_fails(
            "tasks[0].data.splits.test: 1 ids occur more than once in split test, e.g. 'te-000'",
            "tasks[0].data.splits.test: 1 rows have an empty id",
            "tasks[0].data.splits.test: 10 rows have a label that is not one of columns.labels",
            files={**default_files(), "data/test.jsonl": test},
        )

    def test_a_csv_parse_error_in_a_hidden_split_does_not_quote_the_row(self):
        spec = spec_with(
            lambda s: s["tasks"][0]["data"]["splits"]["test"].update(path="data/test.csv")
        )
        text = f"id,text,label,topic\nte-1,fine,positive,food\nte-2,bad,{SECRET},food,extra\n"
        self.assert_import_fails(
            "tasks[0].data.splits.test.path: cannot read 'data/test.csv'",
            "row content withheld",
            spec=spec,
            files={**default_files(), "data/test.csv": text},
        )

    def test_it_refuses_paths_that_leave_the_bundle(self):
        outside = self.tmp / "outside.jsonl"
        outside.write_text("{}\n")
        folder = write_bundle(self.tmp / "bundle")
        os.symlink(outside, folder / "data" / "link.jsonl")

        def change(spec):
            splits = spec["tasks"][0]["data"]["splits"]
            splits["train"]["path"] = "../outside.jsonl"
            splits["dev"]["path"] = str(outside)
            splits["test"]["path"] = "data/link.jsonl"

        write_bundle(folder, spec_with(change), files={})
        self.assert_import_fails(
            "tasks[0].data.splits.train.path: '../outside.jsonl' leaves the bundle",
            "tasks[0].data.splits.dev.path: expected a path relative to the bundle",
            "tasks[0].data.splits.test.path: 'data/link.jsonl' leaves the bundle",
            source=folder,
        )

    def test_it_refuses_a_zip_entry_that_leaves_the_bundle(self):
        archive = self.tmp / "evil.zip"
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("benchmark.yaml", "slug: x\n")
            z.writestr("../escape.txt", "x")
        self.assert_import_fails("entry '../escape.txt' would be written outside", source=archive)

    def test_it_refuses_a_task_without_a_scored_split(self):
        def change(spec):
            splits = spec["tasks"][0]["data"]["splits"]
            splits["dev"]["role"] = splits["test"]["role"] = "train"

        self.assert_import_fails(
            "tasks[0].data.splits: needs at least one scored split (role: public or hidden)",
            spec=spec_with(change),
        )

    def test_it_requires_label_names_for_classification(self):
        spec = spec_with(lambda s: s["tasks"][0]["columns"].pop("labels"))
        self.assert_import_fails(
            "tasks[0].columns.labels: required for text-classification", spec=spec
        )

    def test_it_explains_yaml_booleans_in_label_names(self):
        spec = spec_with(lambda s: s["tasks"][0]["columns"].update(labels=[True, False]))
        self.assert_import_fails(
            "tasks[0].columns.labels[0]: expected a label name (string), got true; quote it",
            spec=spec,
        )

    def test_it_checks_slices(self):
        slices = [
            {"name": "topic", "column": "country"},
            {"name": "length", "column": "text", "measure": "words", "bins": [10, 0]},
            {"name": "neg", "column": "text", "pattern": "(not"},
            {"name": "size", "column": "text", "measure": "lines", "bins": [1]},
        ]
        self.assert_import_fails(
            "tasks[0].slices[0].column: expected an input or metadata column (text, topic), "
            "got 'country'",
            "tasks[0].slices[1].bins: expected bin edges in strictly ascending order",
            "tasks[0].slices[2].pattern: invalid regular expression",
            "tasks[0].slices[3].measure: expected one of words, chars, value, got 'lines'",
            spec=spec_with(lambda s: s["tasks"][0].update(slices=slices)),
        )

    def test_it_checks_the_policy_slug_and_limits(self):
        def change(spec):
            spec["slug"] = "Mini Bench"
            spec["visibility"] = "secret"
            spec["submission_policy"] = {
                "kinds": ["predictions", "docker"],
                "max_per_day": -1,
                "opens_at": "next monday",
                "allow_custom_code": "yes please",
            }
            spec["tasks"][0]["model_run"] = {"timeout_s": 0, "batch_size": 2.5, "gpus": 1}
            spec["tasks"][0]["type"] = "text-classification"

        self.assert_import_fails(
            "slug: expected lowercase letters, digits and hyphens",
            "visibility: expected one of public, unlisted, private, got 'secret'",
            "submission_policy.kinds[1]: expected one of predictions, model, got 'docker'",
            "submission_policy.max_per_day: expected a whole number ≥ 0 or null, got -1",
            "submission_policy.opens_at: expected an ISO 8601 date-time",
            "submission_policy.allow_custom_code: expected true or false",
            "tasks[0].model_run.timeout_s: expected a number > 0, got 0",
            "tasks[0].model_run.batch_size: expected a whole number > 0, got 2.5",
            "tasks[0].model_run.gpus: unknown key",
            spec=spec_with(change),
        )

    def test_it_refuses_an_unknown_task_type_and_duplicate_task_slugs(self):
        spec = bundle_spec(tasks=[task_spec(), task_spec(type="sentiment")])
        self.assert_import_fails(
            "tasks[1].type: expected one of text-classification, token-classification",
            "tasks[1].slug: task slug 'sst' is used twice",
            spec=spec,
        )

    def test_it_reports_every_problem_at_once(self):
        def change(spec):
            spec["tasks"][0]["metrics"] = ["bleu"]
            spec["colour"] = "blue"

        files = {**default_files(), "data/dev.jsonl": rows("dev", 10) + rows("dev", 1)}
        spec = spec_with(change)
        spec["tasks"].append(task_spec(slug="other"))
        self.assert_import_fails(
            "colour: unknown key",
            "tasks[0].metrics[0]: metric 'bleu' is not available",
            "tasks[1].data.splits.dev: 1 ids occur more than once",
            spec=spec,
            files=files,
        )

    def test_it_refuses_a_source_that_is_not_a_bundle(self):
        (self.tmp / "empty").mkdir()
        self.assert_import_fails("no benchmark.yaml at the root", source=self.tmp / "empty")
        self.assert_import_fails("no such file or folder", source=self.tmp / "missing.zip")

    def test_weights_name_a_task_or_one_of_its_metrics(self):
        spec = spec_with(lambda s: s.update(aggregate_weights={"sst": 1, "nope": 2, "sst.bleu": 1}))
        messages = self.assert_import_fails(
            "aggregate_weights.nope: expected a task slug or <task>.<metric> of this bundle",
            "aggregate_weights.sst.bleu: expected a task slug",
            spec=spec,
        )
        self.assertFalse(any("aggregate_weights.sst:" in m for m in messages))

    def test_good_weights_are_kept(self):
        spec = spec_with(lambda s: s.update(aggregate_weights={"sst": 2, "sst.f1_macro": 1}))
        benchmark = benchmark_import(source=write_bundle(self.tmp / "bundle", spec))
        self.assertEqual(benchmark.aggregate_weights, {"sst": 2, "sst.f1_macro": 1})
