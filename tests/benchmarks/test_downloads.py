"""Split downloads in every format, for every kind of column: bytes (images) and lists (tokens,
tags, answers) too. Train and public splits carry their labels; hidden splits never do, and no
split carries its metadata columns. Checked on small built splits and on every demo bundle."""

from __future__ import annotations

import base64
import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.test import TestCase, override_settings

from benchmarks.downloads import carries_labels, split_download_file
from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import benchmark_import
from tests.base import PlatformTestCase, make_split, make_task

PNG = b"\x89PNG\r\n\x1a\n-not-utf8-\xff"
FORMATS = ("csv", "jsonl", "parquet")
DEMO_ROOT = Path(settings.BASE_DIR) / "demo"


def generation_rows(split: str, n: int = 3) -> list[dict]:
    """Rows whose references and metadata values are distinctive markers, findable in any
    body that leaks them."""
    return [
        {
            "id": f"{split}-s{i}",
            "source": f"a source text, number {i}",
            "reference": f"zz-reference-{split}-{i}",
            "genre": f"zz-genre-{split}-{i}",
        }
        for i in range(n)
    ]


def make_generation_task(benchmark: Benchmark, slug: str = "summ") -> Task:
    """A text-generation task with a train, a public and a hidden split of generation_rows."""
    task = make_task(
        benchmark,
        slug,
        type="text-generation",
        input_columns=["source"],
        label_column="reference",
        metadata_columns=["genre"],
        metrics=[{"name": "chrf"}],
        primary_metric="chrf",
    )
    for name, role in (("train", "train"), ("dev", "public"), ("test", "hidden")):
        make_split(task, name, role, generation_rows(name))
    return task


def read_download(content: bytes, fmt: str) -> tuple[list[str], list[dict]]:
    """(column names, rows) of a download, as a participant's code would read it."""
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(content))
        return table.column_names, table.to_pylist()
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(content.decode()))
        return list(reader.fieldnames or []), list(reader)
    rows = [json.loads(line) for line in content.decode().splitlines()]
    return (list(rows[0]) if rows else []), rows


def decoded(value, field: pa.Field, fmt: str):
    """A value read back from a download, in the type the stored split holds: text formats
    carry bytes as base64, CSV carries lists as JSON and numbers as text."""
    if value is None or fmt == "parquet":
        return value
    kind = field.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return base64.b64decode(value)
    if fmt == "csv" and pa.types.is_nested(kind):
        return json.loads(value)
    if fmt == "csv" and pa.types.is_floating(kind):
        return float(value)
    return value


class SplitDownloadFileTests(PlatformTestCase):
    def make_task(self, slug: str, type_: str, inputs: list[str], **fields) -> Task:
        return make_task(
            self.benchmark,
            slug,
            type=type_,
            input_columns=inputs,
            label_names=["red", "blue"],
            **fields,
        )

    def test_image_bytes_are_base64_in_text_formats_and_raw_in_parquet(self):
        task = self.make_task("colours", "image-classification", ["image"])
        rows = [{"id": "i-1", "image": PNG, "label": "zz-label-pos"}]
        split = make_split(task, "test", Split.Role.HIDDEN, rows)

        content, _, name = split_download_file(split, "csv")
        (row,) = csv.DictReader(io.StringIO(content.decode()))
        self.assertEqual(base64.b64decode(row["image"]), PNG)
        self.assertEqual(set(row), {"id", "image"})
        self.assertTrue(name.endswith("colours-test-inputs.csv"))

        content, _, _ = split_download_file(split, "jsonl")
        self.assertEqual(base64.b64decode(json.loads(content)["image"]), PNG)

        content, _, _ = split_download_file(split, "parquet")
        table = pq.read_table(io.BytesIO(content))
        self.assertEqual(table.column_names, ["id", "image"])
        self.assertEqual(table.column("image")[0].as_py(), PNG)
        for fmt in FORMATS:
            self.assertNotIn(b"zz-label-pos", split_download_file(split, fmt)[0])

    def test_hidden_token_lists_are_json_in_csv_and_lists_in_jsonl_without_tags(self):
        task = self.make_task("ner", "token-classification", ["tokens"])
        rows = [{"id": "t-1", "tokens": ["Ada", "wrote", "code"], "label": ["B-PER", "O", "O"]}]
        split = make_split(task, "test", Split.Role.HIDDEN, rows)
        (row,) = csv.DictReader(io.StringIO(split_download_file(split, "csv")[0].decode()))
        self.assertEqual(json.loads(row["tokens"]), ["Ada", "wrote", "code"])
        line = json.loads(split_download_file(split, "jsonl")[0])
        self.assertEqual(line, {"id": "t-1", "tokens": ["Ada", "wrote", "code"]})
        for fmt in FORMATS:
            self.assertNotIn(b"B-PER", split_download_file(split, fmt)[0])

    def test_train_token_tags_come_as_json_lists_in_csv_and_lists_elsewhere(self):
        task = self.make_task("ner", "token-classification", ["tokens"])
        rows = [{"id": "t-1", "tokens": ["Ada", "wrote"], "label": ["B-PER", "O"]}]
        split = make_split(task, "train", Split.Role.TRAIN, rows)
        (row,) = csv.DictReader(io.StringIO(split_download_file(split, "csv")[0].decode()))
        self.assertEqual(list(row), ["id", "tokens", "label"])
        self.assertEqual(json.loads(row["label"]), ["B-PER", "O"])
        line = json.loads(split_download_file(split, "jsonl")[0])
        self.assertEqual(line, {"id": "t-1", "tokens": ["Ada", "wrote"], "label": ["B-PER", "O"]})
        table = pq.read_table(io.BytesIO(split_download_file(split, "parquet")[0]))
        self.assertEqual(table.column("label").to_pylist(), [["B-PER", "O"]])

    def test_integer_class_labels_come_as_label_names(self):
        task = self.make_task("colours", "image-classification", ["image"])
        rows = [{"id": "i-1", "image": PNG, "label": 1}, {"id": "i-2", "image": PNG, "label": 0}]
        split = make_split(task, "dev", Split.Role.PUBLIC, rows)
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                _, got = read_download(split_download_file(split, fmt)[0], fmt)
                self.assertEqual([r["label"] for r in got], ["blue", "red"])

    def test_integer_tags_come_as_tag_names(self):
        task = self.make_task("ner", "token-classification", ["tokens"])
        rows = [{"id": "t-1", "tokens": ["Ada", "wrote"], "label": [1, 0]}]
        split = make_split(task, "train", Split.Role.TRAIN, rows)
        line = json.loads(split_download_file(split, "jsonl")[0])
        self.assertEqual(line["label"], ["blue", "red"])

    def test_star_ratings_named_by_numbers_are_kept_as_they_are(self):
        task = make_task(self.benchmark, "stars", label_names=["1", "2", "3"])
        split = make_split(
            task, "dev", Split.Role.PUBLIC, [{"id": "r-1", "text": "ok", "label": 2}]
        )
        self.assertEqual(json.loads(split_download_file(split, "jsonl")[0])["label"], 2)

    def test_question_answering_answers_come_as_json_lists_in_csv(self):
        task = make_task(
            self.benchmark,
            "qa",
            type="question-answering",
            input_columns=["question", "context"],
            label_column="answers",
            metrics=[{"name": "squad"}],
            primary_metric="f1",
        )
        rows = [
            {"id": "q-1", "question": "Who?", "context": "Ada did.", "answers": ["Ada"]},
            {"id": "q-2", "question": "When?", "context": "Nobody knows.", "answers": []},
        ]
        split = make_split(task, "dev", Split.Role.PUBLIC, rows)
        (first, second) = csv.DictReader(io.StringIO(split_download_file(split, "csv")[0].decode()))
        self.assertEqual(
            (json.loads(first["answers"]), json.loads(second["answers"])), (["Ada"], [])
        )
        lines = split_download_file(split, "jsonl")[0].decode().splitlines()
        self.assertEqual(json.loads(lines[1])["answers"], [])

    def test_regression_targets_come_as_numbers(self):
        task = make_task(
            self.benchmark,
            "stars",
            type="regression",
            label_column="stars",
            metrics=[{"name": "mse"}],
            primary_metric="mse",
        )
        rows = [
            {"id": "r-1", "text": "fine", "stars": 3.5},
            {"id": "r-2", "text": "bad", "stars": 1.0},
        ]
        split = make_split(task, "train", Split.Role.TRAIN, rows)
        (first, _) = csv.DictReader(io.StringIO(split_download_file(split, "csv")[0].decode()))
        self.assertEqual(float(first["stars"]), 3.5)
        self.assertEqual(
            json.loads(split_download_file(split, "jsonl")[0].splitlines()[0])["stars"], 3.5
        )
        table = pq.read_table(io.BytesIO(split_download_file(split, "parquet")[0]))
        self.assertEqual(table.column("stars").to_pylist(), [3.5, 1.0])

    def test_each_role_holds_ids_inputs_and_labels_where_it_may_and_never_metadata(self):
        task = make_generation_task(self.benchmark)
        expected = {
            "train": ["id", "source", "reference"],
            "dev": ["id", "source", "reference"],
            "test": ["id", "source"],
        }
        for split in task.splits.all():
            for fmt in FORMATS:
                with self.subTest(split=split.name, fmt=fmt):
                    content, _, name = split_download_file(split, fmt)
                    columns, rows = read_download(content, fmt)
                    self.assertEqual(columns, expected[split.name])
                    self.assertNotIn(b"zz-genre", content)
                    self.assertNotIn(b"genre", content)
                    if split.name == "test":
                        self.assertNotIn(b"zz-reference", content)
                        self.assertTrue(name.endswith("summ-test-inputs." + fmt))
                    else:
                        wanted = [r["reference"] for r in generation_rows(split.name)]
                        self.assertEqual([r["reference"] for r in rows], wanted)
                        self.assertTrue(name.endswith(f"summ-{split.name}-inputs-and-labels.{fmt}"))

    def test_only_train_and_public_splits_carry_labels(self):
        task = make_generation_task(self.benchmark)
        carried = {s.name: carries_labels(s) for s in task.splits.all()}
        self.assertEqual(carried, {"train": True, "dev": True, "test": False})

    def test_an_unknown_format_is_refused(self):
        with self.assertRaisesMessage(ValueError, "use csv, jsonl or parquet"):
            split_download_file(self.dev, "xlsx")


class DemoDownloadTests(TestCase):
    """Every split of every demo bundle (one per task type), in every format: the columns its
    role allows, and values that read back equal to the stored split's."""

    @classmethod
    def setUpClass(cls):
        folder = tempfile.TemporaryDirectory()
        cls.addClassCleanup(folder.cleanup)
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": folder.name},
            },
        }
        cls.enterClassContext(override_settings(STORAGES=storages))
        super().setUpClass()

    @classmethod
    def setUpTestData(cls):
        for bundle in sorted(p.parent for p in DEMO_ROOT.glob("*/benchmark.yaml")):
            benchmark_import(source=bundle)

    def test_every_demo_task_type_is_here(self):
        types = set(Task.objects.values_list("type", flat=True))
        self.assertEqual(
            types,
            {
                "text-classification",
                "token-classification",
                "question-answering",
                "text-generation",
                "regression",
                "image-classification",
            },
        )

    def test_every_demo_split_downloads_with_labels_where_its_role_allows(self):
        splits = Split.objects.select_related("task__benchmark")
        self.assertEqual({s.role for s in splits}, {"train", "public", "hidden"})
        for split in splits:
            task = split.task
            with split.data.open("rb") as f:
                stored = pq.read_table(f)
            labelled = split.role != Split.Role.HIDDEN
            columns = [task.id_column, *task.input_columns]
            columns += [task.label_column] if labelled else []
            for fmt in FORMATS:
                with self.subTest(split=str(split), fmt=fmt):
                    content, _, _ = split_download_file(split, fmt)
                    got_columns, rows = read_download(content, fmt)
                    self.assertEqual(got_columns, columns)
                    self.assertEqual(len(rows), split.num_rows)
                    for name in columns:
                        field = stored.schema.field(name)
                        got = [decoded(row[name], field, fmt) for row in rows]
                        self.assertEqual(got, stored.column(name).to_pylist(), name)
