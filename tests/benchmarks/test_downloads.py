"""Split inputs in every format, for every kind of input column: bytes (images) and lists
(tokens) too, and never the label."""

import base64
import csv
import io
import json

import pyarrow.parquet as pq

from benchmarks.downloads import split_inputs_file
from benchmarks.models import Split, Task
from tests.base import PlatformTestCase, make_split, make_task

PNG = b"\x89PNG\r\n\x1a\n-not-utf8-\xff"


class SplitInputsFileTests(PlatformTestCase):
    def make_task(self, slug: str, type_: str, inputs: list[str]) -> Task:
        return make_task(
            self.benchmark, slug, type=type_, input_columns=inputs, label_names=["red", "blue"]
        )

    def test_image_bytes_are_base64_in_text_formats_and_raw_in_parquet(self):
        task = self.make_task("colours", "image-classification", ["image"])
        rows = [{"id": "i-1", "image": PNG, "label": "zz-label-pos"}]
        split = make_split(task, "test", Split.Role.HIDDEN, rows)

        content, _, name = split_inputs_file(split, "csv")
        (row,) = csv.DictReader(io.StringIO(content.decode()))
        self.assertEqual(base64.b64decode(row["image"]), PNG)
        self.assertEqual(set(row), {"id", "image"})
        self.assertTrue(name.endswith("colours-test-inputs.csv"))

        content, _, _ = split_inputs_file(split, "jsonl")
        self.assertEqual(base64.b64decode(json.loads(content)["image"]), PNG)

        content, _, _ = split_inputs_file(split, "parquet")
        table = pq.read_table(io.BytesIO(content))
        self.assertEqual(table.column_names, ["id", "image"])
        self.assertEqual(table.column("image")[0].as_py(), PNG)
        for fmt in ("csv", "jsonl", "parquet"):
            self.assertNotIn(b"zz-label-pos", split_inputs_file(split, fmt)[0])

    def test_token_lists_are_json_in_csv_and_lists_in_jsonl(self):
        task = self.make_task("ner", "token-classification", ["tokens"])
        rows = [{"id": "t-1", "tokens": ["Ada", "wrote", "code"], "label": ["B-PER", "O", "O"]}]
        split = make_split(task, "test", Split.Role.HIDDEN, rows)
        (row,) = csv.DictReader(io.StringIO(split_inputs_file(split, "csv")[0].decode()))
        self.assertEqual(json.loads(row["tokens"]), ["Ada", "wrote", "code"])
        line = json.loads(split_inputs_file(split, "jsonl")[0])
        self.assertEqual(line, {"id": "t-1", "tokens": ["Ada", "wrote", "code"]})
        for fmt in ("csv", "jsonl", "parquet"):
            self.assertNotIn(b"B-PER", split_inputs_file(split, fmt)[0])
