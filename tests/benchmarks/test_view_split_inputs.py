"""The download page b/<slug>/tasks/<task>/splits/<split>/inputs.<fmt>: ids and inputs, the
labels of train and public splits, never a hidden label or a metadata column; and the same
answers as the API where there is nothing to download."""

from __future__ import annotations

from django.urls import reverse

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


class SplitInputsTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.train_rows = classification_rows("train", 6, SECRET_LABELS)
        make_split(cls.task, "train", Split.Role.TRAIN, cls.train_rows)
        make_generation_task(cls.benchmark)
        make_benchmark(
            "secret-bench", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )

    def url(self, split="test", fmt="csv", slug="sentiment", task="sst"):
        return reverse("split_inputs", args=[slug, task, split, fmt])

    def api_url(self, split="test", slug="sentiment", task="sst"):
        return reverse("api-split-inputs", args=[slug, task, split])

    def test_anonymous_users_download_from_a_public_benchmark(self):
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual(
            response["Content-Disposition"],
            'attachment; filename="sentiment-sst-test-inputs.csv"',
        )

    def test_train_and_public_splits_come_with_their_labels_by_name(self):
        wanted = {"train": self.train_rows, "dev": classification_rows("dev", 10, SECRET_LABELS)}
        for split, rows in wanted.items():
            for fmt in FORMATS:
                with self.subTest(split=split, fmt=fmt):
                    response = self.client.get(self.url(split, fmt))
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
                    content = self.client.get(self.url(split, fmt, task="summ")).content
                    columns, got = read_download(content, fmt)
                    self.assertEqual(columns, ["id", "source", "reference"])
                    self.assertEqual(
                        [r["reference"] for r in got],
                        [r["reference"] for r in generation_rows(split)],
                    )

    def test_a_hidden_split_holds_ids_and_inputs_only(self):
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                columns, got = read_download(self.client.get(self.url(fmt=fmt)).content, fmt)
                self.assertEqual(columns, ["id", "text"])
                self.assertEqual(len(got), 10)

    def test_no_download_leaks_a_hidden_label(self):
        pairs = hidden_pairs(self.benchmark)
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                content = self.client.get(self.url(fmt=fmt)).content
                assert_no_hidden_labels(self, content, pairs)
                self.assertNotIn(b"label", content)
                for _, label in pairs:
                    self.assertNotIn(label.encode(), content)

    def test_no_hidden_reference_text_appears_anywhere_in_the_body(self):
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                response = self.client.get(self.url(fmt=fmt, task="summ"))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(read_download(response.content, fmt)[0], ["id", "source"])
                self.assertNotIn(b"reference", response.content)
                for row in generation_rows("test"):
                    self.assertNotIn(row["reference"].encode(), response.content)

    def test_no_download_holds_a_metadata_column(self):
        for task, split in [(t, s) for t in ("sst", "summ") for s in ("train", "dev", "test")]:
            for fmt in FORMATS:
                with self.subTest(task=task, split=split, fmt=fmt):
                    content = self.client.get(self.url(split, fmt, task=task)).content
                    for word in (b"topic", b"food", b"genre", b"zz-genre"):
                        self.assertNotIn(word, content)

    def test_a_split_whose_inputs_are_not_downloadable_is_a_404_saying_what_the_api_says(self):
        self.test_split.inputs_downloadable = False
        self.test_split.save(update_fields=["inputs_downloadable"])
        self.client.force_login(self.alice)
        page = self.client.get(self.url())
        api = self.client.get(self.api_url())
        self.assertEqual((page.status_code, api.status_code), (404, 404))
        message = "The inputs of split 'test' are not downloadable."
        self.assertEqual(page.content.decode(), message)
        self.assertEqual(api.json(), {"errors": [message]})

    def test_an_unknown_format_is_a_404_saying_what_the_api_says(self):
        page = self.client.get(self.url(fmt="xlsx"))
        api = self.client.get(self.api_url(), {"format": "xlsx"})
        self.assertEqual((page.status_code, api.status_code), (404, 404))
        message = "Unknown format 'xlsx': use csv, jsonl or parquet."
        self.assertEqual(page.content.decode(), message)
        self.assertEqual(api.json(), {"errors": [message]})

    def test_an_unknown_split_or_task_is_a_404(self):
        self.assertEqual(self.client.get(self.url(split="nope")).status_code, 404)
        self.assertEqual(self.client.get(self.url(task="nope")).status_code, 404)

    def test_a_private_benchmark_is_a_404_to_anonymous_users(self):
        self.assertEqual(self.client.get(self.url(slug="secret-bench")).status_code, 404)

    def test_a_private_benchmark_is_a_404_to_other_users(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url(slug="secret-bench")).status_code, 404)

    def test_maintainers_download_from_a_private_benchmark(self):
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(self.url(slug="secret-bench")).status_code, 200)

    def test_it_only_answers_get(self):
        self.assertEqual(self.client.post(self.url()).status_code, 405)
        self.assertEqual(self.client.post(self.url(split="train")).status_code, 405)

    def test_the_benchmark_page_says_what_each_download_holds(self):
        response = self.client.get(reverse("benchmark_detail", args=["sentiment"]))
        html = response.content.decode()
        for task, split, held in [
            ("sst", "train", "inputs and labels"),
            ("sst", "dev", "inputs and labels"),
            ("sst", "test", "inputs"),
            ("summ", "test", "inputs"),
        ]:
            with self.subTest(task=task, split=split):
                link = self.url(split, "csv", task=task)
                # The words between the cell's start and its first link.
                cell = html[: html.index(f'href="{link}"')].rsplit("<td>", 1)[1]
                self.assertEqual(cell.rsplit("<a", 1)[0].strip(), held + ":")
