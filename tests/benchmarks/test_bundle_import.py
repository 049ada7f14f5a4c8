"""benchmark_import / benchmark_export: bundles in, benchmarks out (docs/formats.md).

The small builders here (`bundle_spec`, `write_bundle`, `BundleTestCase`) are shared with the
other bundle test files.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

import pyarrow.parquet as pq
import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.test import TestCase, override_settings

from benchmarks.bundles import BundleError
from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import benchmark_export, benchmark_import
from submissions.models import Evaluation, Submission

DEMO = Path(settings.BASE_DIR) / "demo" / "sentiment-mini"
LABELS = ["negative", "positive"]


def rows(prefix: str, n: int, *, labels: list = LABELS) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i:03d}",
            "text": f"review {i} was {'not ' if i % 3 == 0 else ''}good",
            "label": labels[i % len(labels)],
            "topic": ["food", "service"][i % 2],
        }
        for i in range(n)
    ]


def task_spec(**overrides) -> dict:
    spec = {
        "slug": "sst",
        "title": "Sentiment",
        "type": "text-classification",
        "data": {
            "splits": {
                "train": {"path": "data/train.jsonl", "role": "train"},
                "dev": {"path": "data/dev.jsonl", "role": "public"},
                "test": {"path": "data/test.jsonl", "role": "hidden"},
            }
        },
        "columns": {
            "id": "id",
            "inputs": ["text"],
            "label": "label",
            "labels": LABELS,
            "metadata": ["topic"],
        },
        "metrics": ["accuracy", {"name": "f1", "average": "macro"}],
        "slices": [{"name": "topic", "column": "topic"}],
    }
    return {**spec, **overrides}


def bundle_spec(**overrides) -> dict:
    return {"slug": "mini", "title": "Mini", "tasks": [task_spec()], **overrides}


def default_files() -> dict:
    return {
        "data/train.jsonl": rows("tr", 20),
        "data/dev.jsonl": rows("dev", 10),
        "data/test.jsonl": rows("te", 10),
    }


def write_bundle(root: Path, spec: dict | str | None = None, files: dict | None = None) -> Path:
    """A bundle folder: `spec` (a dict, or raw YAML text) plus data files, each given as rows
    (written as JSONL or CSV by suffix), text or bytes."""
    root.mkdir(parents=True, exist_ok=True)
    spec = bundle_spec() if spec is None else spec
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False)
    (root / "benchmark.yaml").write_text(text)
    for name, content in (default_files() if files is None else files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        elif name.endswith(".csv"):
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(content[0]))
                writer.writeheader()
                writer.writerows(content)
        else:
            path.write_text("".join(json.dumps(row) + "\n" for row in content))
    return root


def zip_folder(folder: Path, out: Path, *, top: str | None = None) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{name}" if top else name)
    return out


def read_parquet(split: Split) -> list[dict]:
    with split.data.open("rb") as f:
        return pq.read_table(f).to_pylist()


class BundleTestCase(TestCase):
    """Stores files in a fresh folder per test, so that "no files were left" can be checked."""

    def setUp(self):
        self.tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.storage_dir = self.tmp / "storage"
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(self.storage_dir)},
            },
        }
        self.enterContext(
            override_settings(STORAGES=storages, HF_DATASETS_CACHE=str(self.tmp / "hf"))
        )

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.storage_dir.rglob("*") if p.is_file())


class BenchmarkImportTests(BundleTestCase):
    def test_it_imports_the_demo_bundle(self):
        benchmark = benchmark_import(source=DEMO)

        self.assertEqual(benchmark.slug, "sentiment-mini")
        self.assertEqual(benchmark.accepted_kinds, ["predictions", "model"])
        self.assertEqual(benchmark.max_per_day, 5)
        task = benchmark.tasks.get()
        self.assertEqual(task.type, "text-classification")
        self.assertEqual(task.input_columns, ["text"])
        self.assertEqual(task.label_names, LABELS)
        self.assertEqual(task.metadata_columns, ["topic"])
        self.assertEqual(task.metrics, [{"name": "accuracy"}, {"name": "f1", "average": "macro"}])
        self.assertEqual(task.primary_metric, "accuracy")
        self.assertEqual([s["name"] for s in task.slices], ["topic", "length", "negation"])
        self.assertEqual(
            task.slices[1],
            {"name": "length", "column": "text", "measure": "words", "bins": [0, 10, 30]},
        )
        self.assertEqual(task.model_run, {"timeout_s": 600, "max_memory_gb": 16, "batch_size": 32})
        splits = list(task.splits.all())
        self.assertEqual(
            [(s.name, s.role, s.num_rows) for s in splits],
            [("train", "train", 600), ("dev", "public", 300), ("test", "hidden", 600)],
        )
        for split in splits:
            with split.data.open("rb") as f:
                data = f.read()
            self.assertEqual(split.fingerprint, hashlib.sha256(data).hexdigest())
            table = pq.read_table(io.BytesIO(data))
            self.assertEqual(table.column_names, ["id", "text", "label", "topic"])
            self.assertEqual(set(table.column("label").to_pylist()), set(LABELS))
        test = task.splits.get(name="test")
        self.assertTrue(test.inputs_downloadable)
        self.assertEqual(test.reveal, "always")
        self.assertEqual(test.source, "data/test.jsonl")

    def test_hidden_rows_are_only_in_storage(self):
        benchmark = benchmark_import(source=DEMO)

        test = benchmark.tasks.get().splits.get(name="test")
        hidden_rows = read_parquet(test)
        self.assertEqual(hidden_rows[0]["id"], "te-0001")
        self.assertIn(hidden_rows[0]["label"], LABELS)
        database = json.dumps(
            [model_to_dict(obj) for obj in [benchmark, *Task.objects.all(), *Split.objects.all()]],
            default=str,
        )
        for row in hidden_rows:
            self.assertNotIn(row["id"], database)
            self.assertNotIn(row["text"], database)

    def test_it_imports_a_zip_with_the_bundle_at_its_root_or_in_one_folder(self):
        folder = write_bundle(self.tmp / "bundle")
        at_root = zip_folder(folder, self.tmp / "root.zip")
        in_folder = zip_folder(folder, self.tmp / "folder.zip", top="mini-v1")

        first = benchmark_import(source=at_root)
        second = benchmark_import(source=in_folder, update=True)

        self.assertEqual(first.pk, second.pk)
        self.assertEqual(second.tasks.get().splits.count(), 3)

    def test_it_adds_the_maintainer(self):
        author = get_user_model().objects.create_user("author")

        benchmark = benchmark_import(source=write_bundle(self.tmp / "b"), maintainer=author)

        self.assertEqual(list(benchmark.maintainers.all()), [author])

    def test_it_defaults_metrics_and_primary_metric_to_the_task_type(self):
        spec = bundle_spec(tasks=[{k: v for k, v in task_spec().items() if k != "metrics"}])

        task = benchmark_import(source=write_bundle(self.tmp / "b", spec)).tasks.get()

        self.assertEqual(task.metrics[0], {"name": "accuracy"})
        self.assertEqual(task.metrics[1], {"name": "f1", "average": "macro"})
        self.assertEqual(task.primary_metric, "accuracy")

    def test_integer_labels_and_csv_ids_are_frozen_as_names_and_strings(self):
        train = [{**row, "id": f"00{i}", "label": i % 2} for i, row in enumerate(rows("x", 6))]
        files = {**default_files(), "data/train.csv": train}
        spec = bundle_spec()
        spec["tasks"][0]["data"]["splits"]["train"]["path"] = "data/train.csv"

        task = benchmark_import(source=write_bundle(self.tmp / "b", spec, files)).tasks.get()

        frozen = read_parquet(task.splits.get(name="train"))
        self.assertEqual([r["id"] for r in frozen[:2]], ["000", "001"])
        self.assertEqual([r["label"] for r in frozen[:2]], ["negative", "positive"])

    def test_it_refuses_an_existing_slug_without_update(self):
        folder = write_bundle(self.tmp / "b")
        benchmark_import(source=folder)
        files = self.stored_files()

        with self.assertRaises(BundleError) as caught:
            benchmark_import(source=folder)

        self.assertIn("--update", str(caught.exception))
        self.assertEqual(Benchmark.objects.count(), 1)
        self.assertEqual(self.stored_files(), files)

    def test_update_replaces_in_place_and_keeps_ids_and_submissions(self):
        benchmark = benchmark_import(source=write_bundle(self.tmp / "v1"))
        task = benchmark.tasks.get()
        train = task.splits.get(name="train")
        participant = get_user_model().objects.create_user("alice")
        submission = Submission.objects.create(benchmark=benchmark, participant=participant)
        # v2: new dev data, no train split, a new split, a second task, a new title.
        spec = bundle_spec(title="Mini v2")
        spec["tasks"][0]["data"]["splits"]["train"] = {"path": "data/train.jsonl", "role": "train"}
        spec["tasks"][0]["data"]["splits"]["extra"] = {"path": "data/extra.jsonl", "role": "public"}
        spec["tasks"].append(task_spec(slug="sst-b", title="Second"))
        files = {
            **default_files(),
            "data/dev.jsonl": rows("dev", 12),
            "data/extra.jsonl": rows("ex", 5),
        }

        updated = benchmark_import(source=write_bundle(self.tmp / "v2", spec, files), update=True)

        self.assertEqual(updated.pk, benchmark.pk)
        self.assertEqual(updated.title, "Mini v2")
        self.assertTrue(Submission.objects.filter(pk=submission.pk).exists())
        self.assertEqual(updated.tasks.get(slug="sst").pk, task.pk)
        self.assertEqual(list(updated.tasks.values_list("slug", flat=True)), ["sst", "sst-b"])
        kept = task.splits.get(name="train")
        self.assertEqual((kept.pk, kept.data.name), (train.pk, train.data.name))
        self.assertEqual(task.splits.get(name="dev").num_rows, 12)
        self.assertEqual(
            list(task.splits.values_list("name", flat=True)), ["train", "dev", "test", "extra"]
        )

        # v3 drops the second task and the extra split.
        benchmark_import(source=write_bundle(self.tmp / "v3"), update=True)

        self.assertEqual(list(updated.tasks.values_list("slug", flat=True)), ["sst"])
        self.assertEqual(list(task.splits.values_list("name", flat=True)), ["train", "dev", "test"])

    def test_an_update_cannot_delete_a_scored_split_or_task(self):
        spec = bundle_spec()
        spec["tasks"][0]["data"]["splits"]["extra"] = {"path": "data/extra.jsonl", "role": "public"}
        spec["tasks"].append(task_spec(slug="sst-b", title="Second"))
        files = {**default_files(), "data/extra.jsonl": rows("ex", 5)}
        benchmark = benchmark_import(source=write_bundle(self.tmp / "v1", spec, files))
        participant = get_user_model().objects.create_user("alice")
        submission = Submission.objects.create(benchmark=benchmark, participant=participant)
        extra = Split.objects.get(task__slug="sst", name="extra")
        Evaluation.objects.create(submission=submission, task=extra.task, split=extra)
        stored = self.stored_files()

        with self.assertRaises(BundleError) as caught:
            benchmark_import(source=write_bundle(self.tmp / "v2"), update=True)

        self.assertIn("split 'sst/extra'", str(caught.exception))
        self.assertIn("1 submission has scores", str(caught.exception))
        self.assertTrue(Evaluation.objects.filter(split=extra).exists())
        self.assertEqual(benchmark.tasks.count(), 2)
        self.assertEqual(self.stored_files(), stored)

        other = Task.objects.get(slug="sst-b")
        Evaluation.objects.create(
            submission=submission, task=other, split=other.splits.get(name="dev")
        )
        spec_without_b = bundle_spec()
        spec_without_b["tasks"][0]["data"]["splits"]["extra"] = {
            "path": "data/extra.jsonl",
            "role": "public",
        }
        with self.assertRaises(BundleError) as caught:
            benchmark_import(
                source=write_bundle(self.tmp / "v3", spec_without_b, files), update=True
            )
        self.assertIn("task 'sst-b'", str(caught.exception))

    def test_a_failed_update_changes_nothing(self):
        benchmark_import(source=write_bundle(self.tmp / "v1"))
        before = [model_to_dict(s) for s in Split.objects.all()]
        files = self.stored_files()
        spec = bundle_spec(title="Changed")
        files_v2 = {**default_files(), "data/test.jsonl": rows("te", 10) + rows("te", 1)}

        with self.assertRaises(BundleError):
            benchmark_import(source=write_bundle(self.tmp / "v2", spec, files_v2), update=True)

        self.assertEqual(Benchmark.objects.get().title, "Mini")
        self.assertEqual([model_to_dict(s) for s in Split.objects.all()], before)
        self.assertEqual(self.stored_files(), files)

    def test_a_failure_while_writing_rows_leaves_no_rows_and_no_files(self):
        calls = []
        original = Split.save

        def failing_save(split, *args, **kwargs):
            calls.append(split.name)
            if len(calls) == 3:
                raise RuntimeError("database went away")
            return original(split, *args, **kwargs)

        with (
            mock.patch.object(Split, "save", failing_save),
            self.assertRaises(RuntimeError),
        ):
            benchmark_import(source=write_bundle(self.tmp / "b"))

        self.assertEqual(Benchmark.objects.count(), 0)
        self.assertEqual(Split.objects.count(), 0)
        self.assertEqual(self.stored_files(), [])

    def test_it_loads_splits_from_a_dataset_folder_in_hub_layout(self):
        # A local folder stands in for a Hub repo: datasets loads both the same way, offline.
        dataset = self.tmp / "hub-dataset" / "data"
        dataset.mkdir(parents=True)
        for name, prefix in [("validation", "va"), ("test", "te")]:
            (dataset / f"{name}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in rows(prefix, 8, labels=[0, 1]))
            )
        task = task_spec()
        task["data"] = {
            "hub": {"repo_id": str(self.tmp / "hub-dataset")},
            "splits": {
                "dev": {"hub_split": "validation", "role": "public"},
                "test": {"role": "hidden"},
            },
        }

        benchmark = benchmark_import(
            source=write_bundle(self.tmp / "b", bundle_spec(tasks=[task]), files={})
        )

        dev = benchmark.tasks.get().splits.get(name="dev")
        self.assertEqual(dev.hub_repo_id, str(self.tmp / "hub-dataset"))
        self.assertEqual(dev.num_rows, 8)
        self.assertEqual(
            read_parquet(dev)[1],
            {"id": "va-001", "text": "review 1 was good", "label": "positive", "topic": "service"},
        )


class BenchmarkExportTests(BundleTestCase):
    def test_an_export_imports_back_to_an_equal_benchmark(self):
        original = benchmark_import(source=DEMO)
        original.closes_at = datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.UTC)
        original.aggregate_weights = {"sst": 1}
        original.save()

        def snapshot(benchmark: Benchmark) -> dict:
            fields = model_to_dict(benchmark, exclude=["id", "maintainers"])
            tasks = [model_to_dict(t, exclude=["id", "benchmark"]) for t in benchmark.tasks.all()]
            splits = [
                model_to_dict(s, exclude=["id", "task", "data"])
                for s in Split.objects.filter(task__benchmark=benchmark)
            ]
            return {"benchmark": fields, "tasks": tasks, "splits": splits}

        before = snapshot(original)
        out = benchmark_export(benchmark=original, out=self.tmp / "export" / "mini.zip")
        Benchmark.objects.all().delete()
        shutil.rmtree(self.storage_dir)

        again = benchmark_import(source=out)

        self.assertEqual(snapshot(again), before)
        self.assertEqual(again.tasks.get().splits.get(name="test").source, "data/test.jsonl")

    def test_an_export_is_the_same_zip_every_time(self):
        benchmark = benchmark_import(source=write_bundle(self.tmp / "b"))

        first = benchmark_export(benchmark=benchmark, out=self.tmp / "1.zip").read_bytes()
        second = benchmark_export(benchmark=benchmark, out=self.tmp / "2.zip").read_bytes()

        self.assertEqual(first, second)
        names = zipfile.ZipFile(io.BytesIO(first)).namelist()
        self.assertEqual(
            names,
            [
                "benchmark.yaml",
                "data/sst/train.parquet",
                "data/sst/dev.parquet",
                "data/sst/test.parquet",
            ],
        )
