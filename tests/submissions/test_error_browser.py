"""The error browser (`/submissions/<id>/errors/`, `/api/v1/submissions/<id>/examples/`) and its
thumbnails: filters, sort, pagination and search on a public split's per-example results; QA
spans marked on escaped text; and every way of reaching a hidden split's rows refused."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.base import ContentFile
from django.http import QueryDict
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Benchmark, Split
from submissions import analysis
from submissions.models import Evaluation, Submission
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    assert_no_hidden_labels,
    classification_rows,
    hidden_pairs,
    make_scored_submission,
    make_split,
    make_task,
    parquet_bytes,
)
from tests.examples_artifacts import attach_examples, classification_examples, examples_table

NEG, POS = SECRET_LABELS
WRONG = {"dev-001", "dev-004", "dev-007"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24 + b"png-body"
HIDDEN_ANSWER = "zz-secret-answer"


def read_rows(split: Split) -> list[dict]:
    with split.data.open("rb") as f:
        return pq.read_table(f).to_pylist()


def evaluation_of(submission: Submission, split: Split) -> Evaluation:
    return submission.evaluations.get(split=split)


@override_settings(THROTTLE_RATES={"anon": None, "user": None, "uploads": None})
class ErrorBrowserTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        analysis.clear_caches()
        make_split(cls.task, "train", Split.Role.TRAIN, classification_rows("train", 4, [NEG, POS]))
        scores = {"dev": {"accuracy": 0.7}, "test": {"accuracy": 0.6}}
        cls.submission = make_scored_submission(cls.benchmark, cls.alice, scores)
        dev_rows = read_rows(cls.dev)
        attach_examples(
            evaluation_of(cls.submission, cls.dev),
            classification_examples(dev_rows, WRONG, [NEG, POS]),
        )
        # The hidden split's artifact exists too (the pipeline writes one for every split):
        # nothing may read it for display.
        test_rows = read_rows(cls.test_split)
        attach_examples(
            evaluation_of(cls.submission, cls.test_split),
            classification_examples(test_rows, {"test-002"}, [NEG, POS]),
        )

    def setUp(self):
        analysis.clear_caches()
        self.client.force_login(self.alice)

    def api(self, submission=None, **params):
        url = reverse("api-submission-examples", args=[(submission or self.submission).pk])
        return self.client.get(url, params)

    def page(self, submission=None, **params):
        url = reverse("submission_errors", args=[(submission or self.submission).pk])
        return self.client.get(url, params)

    def ids(self, response) -> list[str]:
        self.assertEqual(response.status_code, 200, response.content)
        return [row["id"] for row in response.json()["rows"]]

    # Rows, sort and filters -------------------------------------------------------------------

    def test_the_api_answers_the_first_public_split_worst_first(self):
        body = self.api().json()
        self.assertEqual((body["task"], body["split"]), ("sst", "dev"))
        self.assertEqual(
            (body["count"], body["page"], body["pages"], body["next"]), (10, 1, 1, None)
        )
        self.assertEqual([r["id"] for r in body["rows"][:3]], sorted(WRONG))
        row = body["rows"][0]
        self.assertEqual(
            set(row), {"id", "inputs", "gold", "prediction", "score", "correct", "cells"}
        )
        self.assertEqual(row["inputs"], {"text": "sample text number 1 bad"})
        self.assertEqual((row["gold"], row["prediction"]), (POS, NEG))
        self.assertEqual((row["score"], row["correct"]), (0.0, False))
        self.assertEqual(
            row["cells"], {"topic": "service", "gold label": POS, "predicted label": NEG}
        )

    def test_sorts_best_first_and_by_id(self):
        best = self.ids(self.api(sort="best"))
        self.assertEqual(best[-3:], sorted(WRONG))
        self.assertEqual(self.ids(self.api(sort="id")), [f"dev-{i:03d}" for i in range(10)])

    def test_filters_by_correctness(self):
        self.assertEqual(self.ids(self.api(correct="no")), sorted(WRONG))
        right = self.ids(self.api(correct="yes"))
        self.assertEqual(len(right), 7)
        self.assertFalse(set(right) & WRONG)

    def test_filters_by_slice_cell_and_combines_filters(self):
        food = self.ids(self.api(cell="topic:food", sort="id"))
        self.assertEqual(food, [f"dev-{i:03d}" for i in range(0, 10, 2)])
        self.assertEqual(self.ids(self.api(cell="topic:food", correct="no")), ["dev-004"])
        self.assertEqual(
            self.ids(self.api(cell="predicted label:" + NEG, sort="id")),
            ["dev-000", "dev-001", "dev-002", "dev-006", "dev-007", "dev-008"],
        )

    def test_filters_by_gold_and_predicted_label(self):
        self.assertEqual(
            self.ids(self.api(gold=POS, sort="id")), [f"dev-{i:03d}" for i in range(1, 10, 2)]
        )
        self.assertEqual(
            self.ids(self.api(gold=POS, predicted=NEG, sort="id")), ["dev-001", "dev-007"]
        )

    def test_searches_text_inputs_case_insensitively(self):
        # Rows 0, 3, 6 and 9 say "not bad".
        self.assertEqual(
            self.ids(self.api(q="NoT BaD", sort="id")), ["dev-000", "dev-003", "dev-006", "dev-009"]
        )
        self.assertEqual(self.ids(self.api(q="no such words")), [])

    def test_bad_filter_values_are_400s_saying_what_is_allowed(self):
        cases = {
            "cell": ("topic:drinks", "'food', 'service'"),
            "gold": ("maybe", f"'{NEG}', '{POS}'"),
            "predicted": ("maybe", f"'{NEG}', '{POS}'"),
            "correct": ("perhaps", "yes or no"),
            "sort": ("random", "worst, best, id"),
            "page": ("0", "positive whole number"),
        }
        for name, (value, allowed) in cases.items():
            with self.subTest(name):
                errors = self.assert_errors(self.api(**{name: value}), 400)
                self.assertIn(allowed, errors[0])
        errors = self.assert_errors(self.api(cell="colour:red"), 400)
        self.assertIn("'topic'", errors[0])
        self.assert_errors(self.api(page="2"), 404)
        response = self.page(cell="topic:drinks")
        self.assertContains(response, "has no cell", status_code=400)
        self.assertContains(response, 'name="cell"', status_code=400)  # the form, to fix it

    def test_the_page_shows_the_rows_and_a_get_form_with_the_artifacts_values(self):
        response = self.page(correct="no")
        self.assertContains(response, "3 rows match")
        self.assertContains(response, '<form method="get"')
        self.assertContains(response, '<optgroup label="topic">')
        self.assertContains(response, '<option value="topic:food">food</option>', html=False)
        self.assertContains(response, f'<option value="{POS}">{POS}</option>', html=False)
        self.assertContains(response, '<option value="no" selected>Incorrect</option>')
        self.assertContains(response, "dev-004")
        self.assertNotContains(response, "dev-003")
        self.assertContains(response, "analysis.css")

    def test_another_split_and_task_by_name(self):
        self.assertEqual(self.api(task="sst", split="dev").json()["split"], "dev")
        self.assertEqual(self.api(task="nope").status_code, 404)
        self.assertEqual(self.api(split="nope").status_code, 404)

    def test_an_evaluation_without_per_example_results_says_so(self):
        other = make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        errors = self.assert_errors(self.api(other), 404)
        self.assertIn("No per-example results", errors[0])
        self.assertContains(self.page(other), "No per-example results", status_code=404)

    # Pagination -------------------------------------------------------------------------------

    def test_pages_of_fifty_with_next_links(self):
        benchmark = Benchmark.objects.create(slug="big", title="Big")
        task = make_task(benchmark, "sst", label_names=[NEG, POS])
        rows = classification_rows("big", 120, [NEG, POS])
        split = make_split(task, "dev", Split.Role.PUBLIC, rows)
        submission = make_scored_submission(benchmark, self.alice, {"dev": {"accuracy": 1.0}})
        attach_examples(
            evaluation_of(submission, split), classification_examples(rows, set(), [NEG, POS])
        )
        first = self.api(submission, sort="id").json()
        self.assertEqual((first["count"], first["pages"], len(first["rows"])), (120, 3, 50))
        self.assertIn("page=2", first["next"])
        self.assertTrue(first["next"].startswith("http://testserver/api/v1/submissions/"))
        last = self.api(submission, sort="id", page="3").json()
        self.assertEqual(len(last["rows"]), 20)
        self.assertEqual(last["rows"][0]["id"], "big-100")
        self.assertIsNone(last["next"])
        response = self.page(submission, sort="id", page="2")
        self.assertContains(response, "page 2 of 3")
        self.assertContains(response, "page=3")
        self.assertContains(response, "page=1")

    def test_a_large_split_pages_quickly_when_warm(self):
        n = 100_000
        benchmark = Benchmark.objects.create(slug="large", title="Large")
        task = make_task(benchmark, "sst", label_names=[NEG, POS])
        labels = np.where(np.arange(n) % 2 == 0, NEG, POS)
        ids = [f"r-{i:06d}" for i in range(n)]
        gold = pa.table(
            {
                "id": ids,
                "text": [f"row {i} text {'alpha' if i % 7 == 0 else 'beta'}" for i in range(n)],
                "label": labels.tolist(),
            }
        )
        split = Split(
            task=task, name="dev", role=Split.Role.PUBLIC, fingerprint="f" * 64, num_rows=n
        )
        split.data.save("dev.parquet", ContentFile(parquet_bytes(gold)), save=False)
        split.save()
        submission = make_scored_submission(benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        rng = np.random.default_rng(0)
        correct = rng.random(n) < 0.8
        attach_examples(
            evaluation_of(submission, split),
            examples_table(
                ids,
                np.where(correct, labels, np.where(labels == NEG, POS, NEG)).tolist(),
                correct.astype(float).tolist(),
                correct.tolist(),
                {"parity": np.where(np.arange(n) % 2 == 0, "even", "odd").tolist()},
                pa.string(),
            ),
        )
        params = {"cell": ["parity:odd"], "correct": ["no"], "q": ["ALPHA"], "page": ["3"]}
        query = QueryDict(mutable=True)
        for key, values in params.items():
            query.setlist(key, values)

        def page():
            browser = analysis.error_browser(self.alice, submission, task=None, split=None)
            return browser.page(browser.parse(query))

        page()  # cold: reads the split and the artifact
        started = time.perf_counter()
        result = page()
        elapsed = time.perf_counter() - started
        self.assertEqual(len(result["rows"]), 50)
        self.assertTrue(all(r["correct"] is False for r in result["rows"]))
        self.assertLess(elapsed, 0.1, f"a warm page took {elapsed * 1000:.0f} ms")
        started = time.perf_counter()
        response = self.api(submission, sort="best", page="40")
        self.assertEqual(response.status_code, 200)
        self.assertLess(time.perf_counter() - started, 0.5)

    # Question answering: spans marked on escaped text ----------------------------------------

    def qa_benchmark(self):
        benchmark = Benchmark.objects.create(slug="qa", title="QA")
        task = make_task(
            benchmark,
            "squad",
            type="question-answering",
            input_columns=["question", "context"],
            label_column="answers",
            metrics=[{"name": "squad"}],
            primary_metric="f1",
        )
        public = [
            {
                "id": "q-1",
                "question": "Who <b>wrote</b> it?",
                "context": 'Before <script>alert("x")</script> Ada Lovelace wrote & Babbage built.',
                "answers": ["Ada Lovelace"],
            },
            {
                "id": "q-2",
                "question": "Where?",
                "context": "In London town.",
                "answers": ["London"],
            },
        ]
        hidden = [
            {
                "id": f"qh-{i}",
                "question": "Secret?",
                "context": f"The code is {HIDDEN_ANSWER}-{i}.",
                "answers": [f"{HIDDEN_ANSWER}-{i}"],
            }
            for i in range(3)
        ]
        dev = make_split(task, "dev", Split.Role.PUBLIC, public)
        test = make_split(task, "test", Split.Role.HIDDEN, hidden)
        submission = Submission.objects.create(
            benchmark=benchmark, participant=self.alice, status=Submission.Status.SCORED
        )
        for split, rows, predictions in (
            (dev, public, ["Lovelace wrote", "Paris"]),
            (test, hidden, [f"{HIDDEN_ANSWER}-{i}" for i in range(3)]),
        ):
            evaluation = Evaluation.objects.create(
                submission=submission,
                task=task,
                split=split,
                metrics={"f1": {"value": 50.0, "ci": None}},
            )
            attach_examples(
                evaluation,
                examples_table(
                    [r["id"] for r in rows],
                    predictions,
                    [66.7, 0.0, 100.0][: len(rows)],
                    None,
                    {"answer": ["yes"] * len(rows)},
                    pa.string(),
                ),
            )
        return submission

    def test_qa_context_marks_gold_and_predicted_spans_and_escapes_everything(self):
        submission = self.qa_benchmark()
        response = self.page(submission)
        content = response.content.decode()
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("<script>alert", content)
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;", content)
        self.assertIn("Who &lt;b&gt;wrote&lt;/b&gt; it?", content)
        self.assertIn('<mark class="mark-gold" title="gold answer">Ada </mark>', content)
        self.assertIn(
            '<mark class="mark-gold mark-pred" title="gold answer and prediction">Lovelace</mark>',
            content,
        )
        self.assertIn(
            '<mark class="mark-pred" title="prediction"> wrote</mark> &amp; Babbage', content
        )
        # The API gives the raw values (JSON, not HTML).
        row = next(r for r in self.api(submission).json()["rows"] if r["id"] == "q-1")
        self.assertEqual(row["gold"], ["Ada Lovelace"])
        self.assertEqual(row["prediction"], "Lovelace wrote")

    def test_highlighting_known_answer(self):
        html = analysis.highlight_context("a <x> b <x>", ["<x>"], "b")
        self.assertEqual(
            str(html),
            'a <mark class="mark-gold" title="gold answer">&lt;x&gt;</mark> '
            '<mark class="mark-pred" title="prediction">b</mark> '
            '<mark class="mark-gold" title="gold answer">&lt;x&gt;</mark>',
        )
        self.assertEqual(str(analysis.highlight_context("<i>", [], "")), "&lt;i&gt;")

    def test_a_hidden_qa_split_is_refused_and_never_shows_its_answers(self):
        submission = self.qa_benchmark()
        for response in (
            self.page(submission, split="test"),
            self.api(submission, split="test"),
            self.page(submission, task="squad", split="test", q="code"),
        ):
            self.assertEqual(response.status_code, 403)
            content = response.content.decode()
            self.assertNotIn(HIDDEN_ANSWER, content)
            self.assertNotIn("qh-", content)
            self.assertIn("hidden", content)
        self.assertNotIn(HIDDEN_ANSWER, self.page(submission).content.decode())
        self.assertNotIn(HIDDEN_ANSWER, self.api(submission).content.decode())

    # Images -----------------------------------------------------------------------------------

    def image_benchmark(self):
        benchmark = Benchmark.objects.create(slug="pics", title="Pics")
        task = make_task(
            benchmark, "cls", type="image-classification", input_columns=["image"],
            label_names=["cat", "dog"],
        )  # fmt: skip
        public = [
            {"id": "img-1", "image": PNG, "label": "cat"},
            {"id": "img-2", "image": b"<svg onload=alert(1)></svg>", "label": "dog"},
        ]
        hidden = [{"id": "imgh-1", "image": PNG + b"hidden", "label": "dog"}]
        dev = make_split(task, "dev", Split.Role.PUBLIC, public)
        test = make_split(task, "test", Split.Role.HIDDEN, hidden)
        submission = Submission.objects.create(
            benchmark=benchmark, participant=self.alice, status=Submission.Status.SCORED
        )
        for split, rows in ((dev, public), (test, hidden)):
            evaluation = Evaluation.objects.create(
                submission=submission, task=task, split=split, metrics={}
            )
            attach_examples(
                evaluation,
                examples_table(
                    [r["id"] for r in rows],
                    ["cat"] * len(rows),
                    [1.0] * len(rows),
                    [True] * len(rows),
                    None,
                    pa.string(),
                ),
            )
        return submission

    def image(self, submission, **params):
        return self.client.get(reverse("submission_example_image", args=[submission.pk]), params)

    def test_thumbnails_of_public_rows(self):
        submission = self.image_benchmark()
        response = self.image(submission, task="cls", split="dev", id="img-1")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "image/png")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(b"".join(response), PNG)
        page = self.page(submission)
        self.assertContains(page, '<img class="thumb" src="/submissions/')
        self.assertContains(page, "id=img-1")
        api_row = self.api(submission, sort="id").json()["rows"][0]
        self.assertTrue(api_row["inputs"]["image"]["image"].startswith("http://testserver/"))

    def test_thumbnails_refuse_other_bytes_unknown_rows_and_hidden_splits(self):
        submission = self.image_benchmark()
        for params in (
            {"split": "dev", "id": "img-2"},  # not an image type: never served
            {"split": "dev", "id": "nope"},
            {"split": "test", "id": "imgh-1"},
            {"split": "dev"},
        ):
            with self.subTest(params):
                response = self.image(submission, task="cls", **params)
                self.assertEqual(response.status_code, 404)
                body = b"".join(response)
                self.assertNotIn(b"png-body", body)
                self.assertNotIn(b"onload", body)
        self.client.force_login(self.bob)
        private_free = self.image(submission, task="cls", split="dev", id="img-1")
        self.assertEqual(private_free.status_code, 200)  # on the boards: anyone may see it
        Submission.objects.filter(pk=submission.pk).update(is_private=True)
        self.assertEqual(
            self.image(submission, task="cls", split="dev", id="img-1").status_code, 404
        )

    # Refusals ---------------------------------------------------------------------------------

    def test_a_hidden_split_is_refused_everywhere_with_the_reason(self):
        pairs = hidden_pairs(self.benchmark)
        for response in (
            self.api(split="test"),
            self.api(task="sst", split="test", correct="no"),
            self.page(split="test"),
        ):
            self.assertEqual(response.status_code, 403)
            assert_no_hidden_labels(self, response.content, pairs)
            self.assertNotIn(b"test-0", response.content)
        self.assertIn("hidden", self.assert_errors(self.api(split="test"), 403)[0])
        self.assertContains(self.page(split="test"), "only aggregate scores", status_code=403)

    def test_maintainers_and_staff_are_refused_hidden_rows_too(self):
        for user in (self.author, self.staff):
            self.client.force_login(user)
            self.assert_errors(self.api(split="test"), 403)

    def test_a_train_split_has_no_rows_to_browse(self):
        errors = self.assert_errors(self.api(split="train"), 404)
        self.assertIn("train split", errors[0])
        self.assertContains(self.page(split="train"), "not scored", status_code=404)

    def test_a_withheld_split_is_refused_until_the_close(self):
        benchmark = Benchmark.objects.create(
            slug="final", title="Final", closes_at=timezone.now() + timedelta(days=3)
        )
        benchmark.maintainers.set([self.author])
        task = make_task(benchmark, "sst", label_names=[NEG, POS])
        rows = classification_rows("fin", 6, [NEG, POS])
        split = make_split(task, "final", Split.Role.PUBLIC, rows, reveal=Split.Reveal.AFTER_CLOSE)
        submission = make_scored_submission(benchmark, self.alice, {"final": {"accuracy": 0.5}})
        attach_examples(
            evaluation_of(submission, split),
            classification_examples(rows, {"fin-001"}, [NEG, POS], slices=()),
        )
        errors = self.assert_errors(self.api(submission, split="final"), 403)
        self.assertIn("revealed when the benchmark closes", errors[0])
        response = self.page(submission, split="final")
        self.assertContains(response, "revealed when the benchmark closes", status_code=403)
        self.assertNotContains(response, "fin-001", status_code=403)
        self.client.force_login(self.author)
        self.assertEqual(self.api(submission, split="final").status_code, 200)

    def test_another_participants_private_submission_is_a_404(self):
        Submission.objects.filter(pk=self.submission.pk).update(is_private=True)
        self.client.force_login(self.bob)
        self.assert_errors(self.api(), 404)
        self.assertEqual(self.page().status_code, 404)
        self.client.logout()
        self.assertEqual(self.api().status_code, 404)
        self.assertEqual(self.page().status_code, 404)
        self.client.force_login(self.alice)
        self.assertEqual(self.api().status_code, 200)
        self.client.force_login(self.author)
        self.assertEqual(self.api().status_code, 200)

    def test_a_submission_on_the_boards_is_browsable_by_anyone_who_sees_the_benchmark(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.api().status_code, 200)
        self.client.logout()
        self.assertEqual(self.page().status_code, 200)

    def test_regression_sorts_by_the_largest_error_and_has_no_correct_filter(self):
        benchmark = Benchmark.objects.create(slug="reg", title="Reg")
        task = make_task(
            benchmark, "stars", type="regression", metrics=[{"name": "mae"}], primary_metric="mae"
        )
        rows = [{"id": f"g-{i}", "text": f"t {i}", "label": float(i)} for i in range(4)]
        split = make_split(task, "dev", Split.Role.PUBLIC, rows)
        submission = make_scored_submission(benchmark, self.alice, {"dev": {"mae": 1.0}})
        attach_examples(
            evaluation_of(submission, split),
            examples_table(
                [r["id"] for r in rows], [0.5, 1.0, 5.0, 2.0], [0.5, 0.0, 3.0, 1.0],
                None, None, pa.float64(),
            ),
        )  # fmt: skip
        self.assertEqual(self.ids(self.api(submission)), ["g-2", "g-3", "g-0", "g-1"])
        self.assertEqual(self.ids(self.api(submission, sort="best")), ["g-1", "g-0", "g-3", "g-2"])
        self.assertIn(
            "does not apply", self.assert_errors(self.api(submission, correct="no"), 400)[0]
        )
        self.assertIn("classification", self.assert_errors(self.api(submission, gold="1"), 400)[0])
