import csv
import io
import json

import pyarrow.parquet as pq
from django.urls import reverse

from benchmarks.models import Benchmark
from tests.base import PlatformTestCase, assert_no_hidden_labels, hidden_pairs, make_benchmark


class SplitInputsTests(PlatformTestCase):
    def url(self, split="test", fmt="csv", slug="sentiment"):
        return reverse("split_inputs", args=[slug, "sst", split, fmt])

    def test_anonymous_users_can_download_the_inputs_of_a_public_benchmark(self):
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertIn("attachment;", response["Content-Disposition"])
        self.assertIn("sentiment-sst-test-inputs.csv", response["Content-Disposition"])

    def test_the_csv_holds_ids_and_inputs_only(self):
        rows = list(csv.DictReader(io.StringIO(self.client.get(self.url()).content.decode())))
        self.assertEqual(len(rows), 10)
        self.assertEqual(list(rows[0]), ["id", "text"])

    def test_the_jsonl_holds_ids_and_inputs_only(self):
        lines = self.client.get(self.url(fmt="jsonl")).content.decode().splitlines()
        self.assertEqual(len(lines), 10)
        self.assertEqual(set(json.loads(lines[0])), {"id", "text"})

    def test_the_parquet_holds_ids_and_inputs_only(self):
        content = self.client.get(self.url(fmt="parquet")).content
        table = pq.read_table(io.BytesIO(content))
        self.assertEqual(table.column_names, ["id", "text"])
        self.assertEqual(table.num_rows, 10)

    def test_no_download_leaks_a_hidden_label(self):
        pairs = hidden_pairs(self.benchmark)
        for fmt in ("csv", "jsonl", "parquet"):
            content = self.client.get(self.url(fmt=fmt)).content
            assert_no_hidden_labels(self, content, pairs)
            for _, label in pairs:
                self.assertNotIn(label.encode(), content)

    def test_metadata_columns_are_not_downloadable(self):
        self.assertNotIn(b"topic", self.client.get(self.url(fmt="csv")).content)

    def test_a_split_whose_inputs_are_not_downloadable_is_a_404(self):
        self.test_split.inputs_downloadable = False
        self.test_split.save()
        self.assertEqual(self.client.get(self.url()).status_code, 404)

    def test_an_unknown_format_or_split_is_a_404(self):
        self.assertEqual(self.client.get(self.url(fmt="xlsx")).status_code, 404)
        self.assertEqual(self.client.get(self.url(split="nope")).status_code, 404)

    def test_a_private_benchmark_is_a_404_to_other_users(self):
        make_benchmark("secret-bench", visibility=Benchmark.Visibility.PRIVATE)
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url(slug="secret-bench")).status_code, 404)

    def test_it_only_answers_get(self):
        self.assertEqual(self.client.post(self.url()).status_code, 405)
