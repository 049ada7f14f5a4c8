"""GET /api/v1/benchmarks/<slug>/tasks/<task>/splits/<split>/inputs?format=csv|jsonl|parquet:
ids and inputs, the labels of train and public splits, never a hidden label or a metadata
column."""

from __future__ import annotations

from benchmarks.models import Benchmark, Split
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    assert_no_hidden_labels,
    classification_rows,
    hidden_pairs,
    make_benchmark,
    make_split,
)
from tests.benchmarks.test_downloads import generation_rows, make_generation_task, read_download

FORMATS = ("csv", "jsonl", "parquet")


def inputs_url(split: str = "test", *, slug: str = "sentiment", task: str = "sst") -> str:
    return f"/api/v1/benchmarks/{slug}/tasks/{task}/splits/{split}/inputs"


class SplitInputsApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.train_rows = classification_rows("train", 6, SECRET_LABELS)
        make_split(cls.task, "train", Split.Role.TRAIN, cls.train_rows)
        make_generation_task(cls.benchmark)
        cls.private = make_benchmark(
            "private-bench", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )

    def get(self, split: str, fmt: str | None = None, **where):
        return self.client.get(inputs_url(split, **where), {"format": fmt} if fmt else {})

    def test_it_sends_csv_by_default(self):
        response = self.get("test")
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

    def test_each_format_has_its_content_type(self):
        types = {
            "csv": "text/csv; charset=utf-8",
            "jsonl": "application/x-ndjson; charset=utf-8",
            "parquet": "application/vnd.apache.parquet",
        }
        for fmt, content_type in types.items():
            with self.subTest(fmt=fmt):
                self.assertEqual(self.get("dev", fmt)["Content-Type"], content_type)

    def test_train_and_public_splits_come_with_their_labels_by_name(self):
        wanted = {"train": self.train_rows, "dev": classification_rows("dev", 10, SECRET_LABELS)}
        for split, rows in wanted.items():
            for fmt in FORMATS:
                with self.subTest(split=split, fmt=fmt):
                    response = self.get(split, fmt)
                    self.assertEqual(response.status_code, 200)
                    self.assertIn(
                        f"sentiment-sst-{split}-inputs-and-labels.{fmt}",
                        response["Content-Disposition"],
                    )
                    columns, got = read_download(response.content, fmt)
                    self.assertEqual(columns, ["id", "text", "label"])
                    self.assertEqual(
                        [(r["id"], r["label"]) for r in got],
                        [(r["id"], r["label"]) for r in rows],
                    )

    def test_generation_references_of_train_and_public_splits_are_sent(self):
        for split in ("train", "dev"):
            for fmt in FORMATS:
                with self.subTest(split=split, fmt=fmt):
                    columns, got = read_download(self.get(split, fmt, task="summ").content, fmt)
                    self.assertEqual(columns, ["id", "source", "reference"])
                    self.assertEqual(
                        [r["reference"] for r in got],
                        [r["reference"] for r in generation_rows(split)],
                    )

    def test_a_hidden_split_holds_ids_and_inputs_only(self):
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                columns, got = read_download(self.get("test", fmt).content, fmt)
                self.assertEqual(columns, ["id", "text"])
                self.assertEqual(len(got), 10)

    def test_no_hidden_label_leaks_in_any_format(self):
        pairs = hidden_pairs(self.benchmark)
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                content = self.get("test", fmt).content
                assert_no_hidden_labels(self, content, pairs)
                for word in (b"zz-label", b"label"):
                    self.assertNotIn(word, content)

    def test_no_hidden_reference_text_appears_anywhere_in_the_body(self):
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                response = self.get("test", fmt, task="summ")
                self.assertEqual(response.status_code, 200)
                columns, _ = read_download(response.content, fmt)
                self.assertEqual(columns, ["id", "source"])
                self.assertNotIn(b"reference", response.content)
                for row in generation_rows("test"):
                    self.assertNotIn(row["reference"].encode(), response.content)

    def test_no_download_holds_a_metadata_column(self):
        for task, split in [(t, s) for t in ("sst", "summ") for s in ("train", "dev", "test")]:
            for fmt in FORMATS:
                with self.subTest(task=task, split=split, fmt=fmt):
                    content = self.get(split, fmt, task=task).content
                    for word in (b"topic", b"food", b"genre", b"zz-genre"):
                        self.assertNotIn(word, content)

    def test_an_unknown_format_is_a_404_that_names_the_formats(self):
        errors = self.assert_errors(self.get("test", "xlsx"), 404)
        self.assertEqual(errors, ["Unknown format 'xlsx': use csv, jsonl or parquet."])

    def test_a_split_whose_inputs_are_not_downloadable_is_a_404_that_says_so(self):
        self.test_split.inputs_downloadable = False
        self.test_split.save(update_fields=["inputs_downloadable"])
        self.client.force_login(self.alice)
        errors = self.assert_errors(self.get("test"), 404)
        self.assertEqual(errors, ["The inputs of split 'test' are not downloadable."])

    def test_an_unknown_split_or_task_is_a_404(self):
        self.assert_errors(self.get("nope"), 404)
        self.assert_errors(self.get("test", task="nope"), 404)

    def test_anonymous_visitors_download_from_a_public_benchmark(self):
        self.assertEqual(self.get("train").status_code, 200)

    def test_a_private_benchmark_is_a_404_to_anonymous_visitors(self):
        self.assert_errors(self.get("test", slug="private-bench"), 404)

    def test_a_private_benchmark_is_a_404_to_other_participants(self):
        self.client.force_login(self.alice)
        self.assert_errors(self.get("dev", slug="private-bench"), 404)

    def test_maintainers_download_from_a_private_benchmark(self):
        self.client.force_login(self.author)
        self.assertEqual(self.get("test", slug="private-bench").status_code, 200)

    def test_it_refuses_other_methods(self):
        self.client.force_login(self.author)
        self.assert_errors(self.client.post(inputs_url()), 405)
        self.assert_errors(self.client.delete(inputs_url()), 405)

    def test_the_benchmark_detail_says_which_downloads_carry_labels(self):
        self.dev.inputs_downloadable = False
        self.dev.save(update_fields=["inputs_downloadable"])
        body = self.client.get("/api/v1/benchmarks/sentiment/").json()
        carried = {
            (task["slug"], split["name"]): split["inputs_include_labels"]
            for task in body["tasks"]
            for split in task["splits"]
        }
        self.assertEqual(
            carried,
            {
                ("sst", "dev"): False,  # not downloadable at all
                ("sst", "test"): False,
                ("sst", "train"): True,
                ("summ", "train"): True,
                ("summ", "dev"): True,
                ("summ", "test"): False,
            },
        )
