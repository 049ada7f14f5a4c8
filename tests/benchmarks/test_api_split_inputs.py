"""GET /api/v1/benchmarks/<slug>/tasks/<task>/splits/<split>/inputs?format=csv|jsonl|parquet."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq

from benchmarks.models import Benchmark
from tests.base import PlatformTestCase, assert_no_hidden_labels, hidden_pairs, make_benchmark


def inputs_url(split: str = "test", *, slug: str = "sentiment", task: str = "sst") -> str:
    return f"/api/v1/benchmarks/{slug}/tasks/{task}/splits/{split}/inputs"


class SplitInputsApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.private = make_benchmark(
            "private-bench", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )

    def test_it_sends_ids_and_inputs_as_csv_by_default(self):
        response = self.client.get(inputs_url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="sentiment-sst-test-inputs.csv"',
        )
        lines = response.content.decode().splitlines()
        self.assertEqual(lines[0], '"id","text"')
        self.assertEqual(len(lines), 11)
        self.assertTrue(lines[1].startswith('"test-000",'))

    def test_it_sends_jsonl(self):
        response = self.client.get(inputs_url(), {"format": "jsonl"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/x-ndjson; charset=utf-8")
        rows = [json.loads(line) for line in response.content.decode().splitlines()]
        self.assertEqual(len(rows), 10)
        self.assertEqual(set(rows[0]), {"id", "text"})

    def test_it_sends_parquet(self):
        response = self.client.get(inputs_url(), {"format": "parquet"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/vnd.apache.parquet")
        table = pq.read_table(io.BytesIO(response.content))
        self.assertEqual(table.column_names, ["id", "text"])
        self.assertEqual(table.num_rows, 10)

    def test_it_never_sends_labels_or_metadata(self):
        pairs = hidden_pairs(self.benchmark)
        for fmt in ("csv", "jsonl", "parquet"):
            with self.subTest(fmt=fmt):
                content = self.client.get(inputs_url(), {"format": fmt}).content
                assert_no_hidden_labels(self, content, pairs)
                for word in (b"zz-label", b"label", b"topic", b"food"):
                    self.assertNotIn(word, content)

    def test_it_rejects_an_unknown_format(self):
        errors = self.assert_errors(self.client.get(inputs_url(), {"format": "xlsx"}), 400)
        self.assertIn("csv, jsonl or parquet", errors[0])

    def test_it_is_a_404_where_inputs_are_not_downloadable(self):
        self.test_split.inputs_downloadable = False
        self.test_split.save(update_fields=["inputs_downloadable"])
        self.client.force_login(self.alice)
        errors = self.assert_errors(self.client.get(inputs_url()), 404)
        self.assertIn("not downloadable", errors[0])

    def test_an_unknown_split_or_task_is_a_404(self):
        self.assert_errors(self.client.get(inputs_url("nope")), 404)
        self.assert_errors(self.client.get(inputs_url(task="nope")), 404)

    def test_a_private_benchmark_is_a_404_to_anonymous_visitors(self):
        self.assert_errors(self.client.get(inputs_url(slug="private-bench")), 404)

    def test_a_private_benchmark_is_a_404_to_other_participants(self):
        self.client.force_login(self.alice)
        self.assert_errors(self.client.get(inputs_url(slug="private-bench")), 404)

    def test_maintainers_download_inputs_of_a_private_benchmark(self):
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(inputs_url(slug="private-bench")).status_code, 200)

    def test_it_refuses_other_methods(self):
        self.client.force_login(self.author)
        self.assert_errors(self.client.post(inputs_url()), 405)
        self.assert_errors(self.client.delete(inputs_url()), 405)
