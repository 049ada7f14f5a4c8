"""Exports: a leaderboard view as CSV or JSON (`/b/<slug>/leaderboard/export.<fmt>` and
`GET /api/v1/benchmarks/<slug>/leaderboard/export?format=`), and a submission's scores as a
Hugging Face `model-index` (its result page, `GET /api/v1/submissions/<id>/model-index/`)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from huggingface_hub import ModelCardData
from rest_framework.authtoken.models import Token

from benchmarks.models import Benchmark, Split, Task
from submissions.models import Evaluation, Submission
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_benchmark,
    make_scored_submission,
    make_split,
    make_user,
)
from tests.examples_artifacts import attach_examples, classification_examples

API = "/api/v1/benchmarks/{slug}/leaderboard/export"
BOARD_API = "/api/v1/benchmarks/{slug}/leaderboard/"


def page_url(fmt: str, slug: str = "sentiment") -> str:
    return reverse("leaderboard_export", args=[slug, fmt])


def parse_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def topic_cells(food: float | None, service: float, n: int) -> list[dict]:
    return [
        {"slice": "topic", "cell": "food", "n": n, "metrics": {"accuracy": {"value": food}}},
        {"slice": "topic", "cell": "service", "n": n, "metrics": {"accuracy": {"value": service}}},
    ]


class ExportsMixin:
    def export(self, fmt: str, slug: str = "sentiment", **params):
        return self.client.get(page_url(fmt, slug), params)

    def api_export(self, fmt: str | None = None, slug: str = "sentiment", **params):
        if fmt:
            params["format"] = fmt
        return self.client.get(API.format(slug=slug), params)

    def page_rows(self, slug: str = "sentiment", **params) -> list[tuple]:
        """(rank, participant, name, submission id, value, {metric: (value, ci low, ci high)})
        of each row of the page's board, in its order."""
        response = self.client.get(reverse("leaderboard", args=[slug]), params)
        self.assertEqual(response.status_code, 200)
        board = response.context["board"]
        rows = []
        for r in board.rows:
            metrics = {}
            for key in board.columns:
                entry = r.evaluation.metrics.get(key) or {}
                metrics[key] = (entry.get("value"), *(entry.get("ci") or (None, None)))
            submission = r.submission
            rows.append(
                (r.rank, submission.participant.username, submission.display_name,
                 submission.pk, r.value, metrics)
            )  # fmt: skip
        return rows

    def export_rows(self, records: list[dict], read=lambda v: v) -> list[tuple]:
        """The same of an export's records (`read` turns a CSV cell into a value)."""
        columns = [f for f in records[0] if f"{f}_ci_low" in records[0]] if records else []
        return [
            (read(r["rank"]) and int(read(r["rank"])), r["participant"], r["name"],
             int(r["submission"]), read(r["value"]),
             {k: (read(r[k]), read(r[f"{k}_ci_low"]), read(r[f"{k}_ci_high"])) for k in columns})
            for r in records
        ]  # fmt: skip

    def csv_rows(self, **params) -> list[tuple]:
        response = self.export("csv", **params)
        self.assertEqual(response.status_code, 200, response.content)
        return self.export_rows(parse_csv(response), number)

    def json_rows(self, response) -> list[tuple]:
        self.assertEqual(response.status_code, 200, response.content)
        return self.export_rows(response.json()["rows"])


class BoardExportTests(ExportsMixin, PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # A board by an error metric: ties, a missing value, a baseline, intervals.
        cls.rating = Task.objects.create(
            benchmark=cls.benchmark,
            slug="rating",
            title="Rating",
            position=1,
            type="regression",
            input_columns=["text"],
            label_column="label",
            metrics=[{"name": "mae"}, {"name": "pearson"}],
            primary_metric="mae",
        )
        split = make_split(
            cls.rating, "test", Split.Role.HIDDEN, [{"id": "r-1", "text": "x", "label": 1.0}]
        )
        cls.carol, cls.dave = make_user("carol"), make_user("dave")
        cls.scores = {}
        for user, mae, pearson, fields in (
            (cls.alice, 0.30, 0.50, {"name": "alice-run"}),
            (cls.bob, 0.20, 0.40, {"name": "bob-run"}),
            (cls.carol, 0.20, 0.90, {"name": "carol-run"}),
            (cls.dave, None, -0.25, {"name": "dave-run"}),
            (cls.author, 0.60, 0.10, {"name": "mean baseline", "is_baseline": True}),
        ):
            submission = Submission.objects.create(
                benchmark=cls.benchmark,
                participant=user,
                status=Submission.Status.SCORED,
                task=cls.rating,
                **fields,
            )
            Evaluation.objects.create(
                submission=submission,
                task=cls.rating,
                split=split,
                metrics={
                    "mae": {"value": mae, "ci": None if mae is None else [mae - 0.05, mae + 0.05]},
                    "pearson": {"value": pearson, "ci": None},
                },
            )
            cls.scores[user.username] = submission

    def test_the_csv_and_json_hold_the_pages_rows_in_its_order(self):
        for params in ({"task": "rating"}, {"task": "rating", "sort": "pearson"}):
            expected = self.page_rows(**params)
            self.assertEqual(len(expected), 5)
            self.assertEqual(self.csv_rows(**params), expected)
            self.assertEqual(self.json_rows(self.export("json", **params)), expected)
            self.assertEqual(self.json_rows(self.api_export("json", **params)), expected)
            api_csv = self.api_export("csv", **params)
            self.assertEqual(api_csv.content, self.export("csv", **params).content)

    def test_ties_share_a_rank_lower_is_better_and_missing_values_come_last(self):
        rows = self.csv_rows(task="rating")
        self.assertEqual(
            [(rank, name) for rank, _, name, *_ in rows],
            [(1, "bob-run"), (1, "carol-run"), (3, "alice-run"), (4, "mean baseline"),
             (None, "dave-run")],
        )  # fmt: skip

    def test_the_csv_parses_back_to_every_column(self):
        response = self.export("csv", task="rating")
        header = next(csv.reader(io.StringIO(response.content.decode())))
        self.assertEqual(
            header,
            ["rank", "participant", "name", "submission", "url", "model_url", "paper_url",
             "code_url", "kind", "created_at", "is_baseline", "value", "p_value_vs_above",
             "tied_with_first", "mae", "mae_ci_low", "mae_ci_high", "pearson", "pearson_ci_low",
             "pearson_ci_high"],
        )  # fmt: skip
        rows = {r["participant"]: r for r in parse_csv(response)}
        bob, author = self.scores["bob"], rows["author"]
        self.assertEqual(
            rows["bob"],
            {
                "rank": "1",
                "participant": "bob",
                "name": "bob-run",
                "submission": str(bob.pk),
                "url": f"http://testserver/submissions/{bob.pk}/",
                "model_url": "",
                "paper_url": "",
                "code_url": "",
                "kind": "predictions",
                "created_at": bob.created_at.isoformat().replace("+00:00", "Z"),
                "is_baseline": "false",
                "value": "0.2",
                "p_value_vs_above": "",  # no per-example results: not tested
                "tied_with_first": "false",
                "mae": "0.2",
                "mae_ci_low": str(0.2 - 0.05),
                "mae_ci_high": str(0.2 + 0.05),
                "pearson": "0.4",
                "pearson_ci_low": "",
                "pearson_ci_high": "",
            },
        )
        self.assertEqual(author["is_baseline"], "true")
        # A negative number is a number, not a formula.
        self.assertEqual(rows["dave"]["pearson"], "-0.25")
        self.assertEqual((rows["dave"]["mae"], rows["dave"]["rank"]), ("", ""))

    def test_the_json_says_which_board_it_is_and_types_its_values(self):
        body = self.export("json", task="rating", sort="pearson").json()
        self.assertEqual(
            {k: body[k] for k in ("benchmark", "task", "split", "sort", "slice", "columns")},
            {
                "benchmark": "sentiment",
                "task": "rating",
                "split": "test",
                "sort": "pearson",
                "slice": None,
                "columns": ["mae", "pearson"],
            },
        )
        self.assertEqual(body["fields"], list(body["rows"][0]))
        dave = next(r for r in body["rows"] if r["participant"] == "dave")
        self.assertEqual((dave["mae"], dave["mae_ci_low"], dave["pearson"]), (None, None, -0.25))
        self.assertIs(dave["is_baseline"], False)

    def test_files_are_attachments_named_for_the_board(self):
        csv_response = self.export("csv", task="rating")
        self.assertEqual(csv_response["Content-Type"], "text/csv; charset=utf-8")
        self.assertEqual(
            csv_response["Content-Disposition"],
            'attachment; filename="sentiment-rating-test-leaderboard.csv"',
        )
        json_response = self.api_export("json", task="rating", sort="pearson")
        self.assertEqual(json_response["Content-Type"], "application/json")
        self.assertEqual(
            json_response["Content-Disposition"],
            'attachment; filename="sentiment-rating-test-leaderboard-by-pearson.json"',
        )
        # The API's default is CSV.
        self.assertEqual(self.api_export(task="rating")["Content-Type"], "text/csv; charset=utf-8")

    def test_efficiency_columns_come_with_a_model_run(self):
        evaluation = self.scores["carol"].evaluations.get()
        evaluation.efficiency = {"rows_per_second": 120.5, "peak_rss_mb": 900, "device": "cpu"}
        evaluation.save()
        rows = {r["participant"]: r for r in parse_csv(self.export("csv", task="rating"))}
        self.assertEqual(
            (rows["carol"]["rows_per_second"], rows["carol"]["peak_rss_mb"]), ("120.5", "900")
        )
        self.assertEqual(rows["carol"]["device"], "cpu")
        self.assertEqual(rows["bob"]["rows_per_second"], "")
        # A board without any has no such columns.
        self.score_sst(self.alice, 0.9)
        self.assertNotIn("rows_per_second", parse_csv(self.export("csv"))[0])

    def score_sst(self, user, accuracy, **fields) -> Submission:
        return make_scored_submission(
            self.benchmark, user, {"test": {"accuracy": accuracy, "f1_macro": 0.5}}, **fields
        )

    def test_a_formula_in_a_name_is_written_as_text(self):
        self.score_sst(self.alice, 0.9, name='=HYPERLINK("http://example.com","x")')
        row = parse_csv(self.export("csv"))[0]
        self.assertEqual(row["name"], '\'=HYPERLINK("http://example.com","x")')
        self.assertEqual(
            self.export("json").json()["rows"][0]["name"], '=HYPERLINK("http://example.com","x")'
        )

    def test_private_hidden_and_disqualified_submissions_never_appear(self):
        shown = self.score_sst(self.alice, 0.5, name="on-board")
        left_off = [
            self.score_sst(self.bob, 0.9, name="private-run", is_private=True),
            self.score_sst(self.carol, 0.9, name="hidden-run", is_hidden=True),
            self.score_sst(self.dave, 0.9, name="dq-run", is_disqualified=True),
        ]
        for user in (None, self.alice, self.bob):
            self.client.logout()
            if user:
                self.client.force_login(user)
            for response in (self.export("csv"), self.export("json"), self.api_export("json")):
                content = response.content.decode()
                self.assertIn("on-board", content)
                for submission in left_off:
                    self.assertNotIn(submission.name, content)
                    self.assertNotIn(f"/submissions/{submission.pk}/", content)
        ids = [int(r["submission"]) for r in parse_csv(self.export("csv"))]
        self.assertEqual(ids, [shown.pk])

    def test_the_page_links_both_exports_with_its_query(self):
        self.score_sst(self.alice, 0.9)
        response = self.client.get(reverse("leaderboard", args=["sentiment"]), {"sort": "f1_macro"})
        query = "?task=sst&amp;split=test&amp;sort=f1_macro"
        self.assertContains(response, f'href="/b/sentiment/leaderboard/export.csv{query}"')
        self.assertContains(response, f'href="/b/sentiment/leaderboard/export.json{query}"')

    def test_it_only_answers_get(self):
        self.assertEqual(self.client.post(page_url("csv")).status_code, 405)
        self.assert_errors(self.client.post(API.format(slug="sentiment")), 405)


class RefusalTests(ExportsMixin, PlatformTestCase):
    """Refused where the page and the board's API refuse, with the same words."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        make_scored_submission(cls.benchmark, cls.alice, {"test": {"accuracy": 0.9}})
        Split.objects.create(task=cls.task, name="train", role=Split.Role.TRAIN, fingerprint="x")

    def test_an_unknown_sort_metric_is_a_400_saying_what_the_page_says(self):
        page = self.client.get(reverse("leaderboard", args=["sentiment"]), {"sort": "bleu"})
        self.assertEqual(page.status_code, 400)
        (message,) = self.assert_errors(
            self.client.get(BOARD_API.format(slug="sentiment"), {"sort": "bleu"}), 400
        )
        self.assertContains(page, escape(message), status_code=400)
        for fmt in ("csv", "json"):
            response = self.export(fmt, sort="bleu")
            self.assertEqual(response.status_code, 400)
            self.assertEqual(response["Content-Type"], "text/plain; charset=utf-8")
            self.assertEqual(response.content.decode(), message)
            self.assertEqual(self.assert_errors(self.api_export(fmt, sort="bleu"), 400), [message])

    def test_a_cell_the_board_cannot_be_ranked_on_is_a_400(self):
        for params in ({"slice": "topic", "cell": "nope"}, {"slice": "topic"}):
            page = self.client.get(reverse("leaderboard", args=["sentiment"]), params)
            self.assertEqual(page.status_code, 400)
            self.assertEqual(self.export("csv", **params).status_code, 400)
            self.assert_errors(self.api_export("json", **params), 400)

    def test_an_unknown_task_or_split_or_an_unscored_split_is_a_404(self):
        for params in ({"task": "nope"}, {"split": "nope"}, {"split": "train"}):
            page = self.client.get(reverse("leaderboard", args=["sentiment"]), params)
            self.assertEqual(page.status_code, 404)
            self.assertEqual(self.export("csv", **params).status_code, 404)
            self.assert_errors(self.api_export("csv", **params), 404)

    def test_an_unknown_format_is_a_404(self):
        self.assertEqual(self.export("xml").status_code, 404)
        (message,) = self.assert_errors(self.api_export("xml"), 404)
        self.assertIn("csv or json", message)

    def test_a_viewer_who_cannot_see_the_board_gets_the_pages_404(self):
        make_benchmark("secret-bench", maintainers=(self.author,), visibility="private")
        page = reverse("leaderboard", args=["secret-bench"])
        for user in (None, self.bob):
            self.client.logout()
            if user:
                self.client.force_login(user)
            self.assertEqual(self.client.get(page).status_code, 404)
            self.assertEqual(self.export("csv", slug="secret-bench").status_code, 404)
            self.assert_errors(self.api_export("json", slug="secret-bench"), 404)
        self.client.force_login(self.author)
        self.assertEqual(self.export("csv", slug="secret-bench").status_code, 200)
        self.assertEqual(self.api_export("json", slug="secret-bench").status_code, 200)


class WithheldBoardExportTests(ExportsMixin, PlatformTestCase):
    """A hidden split revealed after the close: its scores are exported to nobody but its
    maintainers until then."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Benchmark.objects.filter(pk=cls.benchmark.pk).update(
            closes_at=timezone.now() + timedelta(days=7)
        )
        Split.objects.filter(pk=cls.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.61}, "test": {"accuracy": 0.777}}
        )

    def test_participants_and_visitors_get_a_403_and_no_score(self):
        for user in (None, self.alice, self.bob):
            self.client.logout()
            if user:
                self.client.force_login(user)
            for fmt in ("csv", "json"):
                response = self.export(fmt, split="test")
                self.assertEqual(response.status_code, 403)
                self.assertEqual(
                    response.content.decode(),
                    "Scores on split 'test' are revealed when the benchmark closes.",
                )
                api = self.api_export(fmt, split="test")
                self.assert_errors(api, 403)
                self.assertNotIn("0.777", api.content.decode())

    def test_the_default_export_is_the_public_board(self):
        content = self.export("csv").content.decode()
        self.assertIn("0.61", content)
        self.assertNotIn("0.777", content)
        self.assertEqual(self.export("json").json()["split"], "dev")

    def test_maintainers_export_the_final_board_before_the_close(self):
        self.client.force_login(self.author)
        self.assertEqual(parse_csv(self.export("csv", split="test"))[0]["accuracy"], "0.777")


class SliceExportTests(ExportsMixin, PlatformTestCase):
    def test_a_board_ranked_on_a_cell_exports_that_order_and_the_cells_value(self):
        carol = make_user("carol")
        scores = ((self.alice, 0.9, 0.5), (self.bob, 0.8, 0.7), (carol, 0.7, 0.9))
        for user, overall, food in scores:
            evaluation = make_scored_submission(
                self.benchmark, user, {"dev": {"accuracy": overall}}
            ).evaluations.get()
            evaluation.slices = topic_cells(food, 0.6, n=30)
            evaluation.save()
        params = {"split": "dev", "slice": "topic", "cell": "food"}
        expected = self.page_rows(**params)
        self.assertEqual([r[1] for r in expected], ["carol", "bob", "alice"])
        self.assertEqual(self.csv_rows(**params), expected)
        body = self.api_export("json", **params).json()
        self.assertEqual(body["slice"], {"slice": "topic", "cell": "food"})
        self.assertEqual([r["value"] for r in body["rows"]], [0.9, 0.7, 0.5])
        self.assertEqual([r["accuracy"] for r in body["rows"]], [0.7, 0.8, 0.9])
        self.assertEqual(
            self.export("csv", **params)["Content-Disposition"],
            'attachment; filename="sentiment-sst-dev-leaderboard-topic-food.csv"',
        )
        response = self.client.get(reverse("leaderboard", args=["sentiment"]), params)
        # The view's own query (the default sort left out): the same board again.
        self.assertContains(
            response, "export.csv?task=sst&amp;split=dev&amp;slice=topic&amp;cell=food"
        )

    def test_a_small_hidden_cell_cannot_be_exported(self):
        # The shared benchmark's hidden split has 10 rows: every topic cell holds 5.
        evaluation = make_scored_submission(
            self.benchmark, self.alice, {"test": {"accuracy": 1}}
        ).evaluations.get()
        evaluation.slices = topic_cells(0.123456, 0.654321, n=5)
        evaluation.save()
        for fmt in ("csv", "json"):
            response = self.export(fmt, split="test", slice="topic", cell="food")
            self.assertEqual(response.status_code, 400)
            api = self.api_export(fmt, split="test", slice="topic", cell="food")
            self.assert_errors(api, 400)
            for content in (response.content, api.content, self.export(fmt).content):
                self.assertNotIn(b"0.123", content)
                self.assertNotIn(b"0.654", content)


class HiddenLabelExportTests(ExportsMixin, PlatformTestCase):
    def test_no_export_carries_a_hidden_label_or_a_hidden_row(self):
        submission = make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.6}}
        )
        hidden = submission.evaluations.get(split=self.test_split)
        # Per-example results of the hidden split (its rows' ids, gold labels as cells), small
        # cells, a confusion matrix: the scorer's private records, which no export reads.
        gold = [r for r in gold_rows(self.benchmark) if r["id"].startswith("test-")]
        attach_examples(hidden, classification_examples(gold, set(), SECRET_LABELS))
        hidden.slices = topic_cells(0.123456, 0.654321, n=5)
        hidden.confusion = {"labels": SECRET_LABELS, "matrix": [[5, 0], [0, 5]]}
        hidden.save()
        pairs = hidden_pairs(self.benchmark)
        token = Token.objects.create(user=self.bob).key
        responses = []
        for split in ("test", "dev"):
            for fmt in ("csv", "json"):
                responses += [
                    self.export(fmt, split=split),
                    self.api_export(fmt, split=split),
                    self.client.get(
                        API.format(slug="sentiment"),
                        {"split": split, "format": fmt},
                        headers={"Authorization": f"Token {token}"},
                    ),
                ]
        responses.append(self.client.get(f"/api/v1/submissions/{submission.pk}/model-index/"))
        responses.append(self.client.get(reverse("submission_detail", args=[submission.pk])))
        for response in responses:
            self.assertEqual(response.status_code, 200, response.content)
            content = response.content.decode()
            assert_no_hidden_labels(self, content, pairs)
            for row_id, _ in pairs:
                self.assertNotIn(row_id, content)
            for secret in ("0.123", "0.654", "examples/"):
                self.assertNotIn(secret, content)


class ExportQueryCountTests(ExportsMixin, PlatformTestCase):
    def queries(self, request) -> int:
        with CaptureQueriesContext(connection) as context:
            response = request()
        self.assertEqual(response.status_code, 200, response.content)
        return len(context.captured_queries)

    def test_the_query_count_does_not_grow_with_rows(self):
        for i in range(3):
            make_scored_submission(
                self.benchmark, make_user(f"p{i}"), {"test": {"accuracy": i / 10}}
            )
        self.client.force_login(self.alice)
        requests = {
            "page csv": lambda: self.export("csv"),
            "page json": lambda: self.export("json"),
            "api json": lambda: self.api_export("json"),
        }
        # Benchmark, tasks, splits, the board, its significance tests; the API reads the session
        # and its user first (the page does not need them for a public benchmark's board).
        before = {name: self.queries(request) for name, request in requests.items()}
        self.assertEqual(before, {"page csv": 5, "page json": 5, "api json": 7})
        for i in range(3, 12):
            make_scored_submission(
                self.benchmark,
                make_user(f"p{i}"),
                {"test": {"accuracy": i / 100}},
                is_baseline=i % 2 == 0,
            )
        with self.assertNumQueries(before["page csv"]):
            self.assertEqual(len(parse_csv(self.export("csv"))), 12)
        with self.assertNumQueries(before["api json"]):
            self.assertEqual(len(self.api_export("json").json()["rows"]), 12)
        self.client.logout()
        with self.assertNumQueries(5):
            self.export("csv")


class ModelIndexTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.submission = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.8125, "f1_macro": None}, "test": {"accuracy": 0.75}},
            name="alice-model",
        )
        for evaluation in cls.submission.evaluations.all():
            evaluation.metrics["accuracy"]["ci"] = [0.7, 0.9]
            evaluation.save()

    def api(self, submission=None, **headers):
        submission = submission or self.submission
        return self.client.get(f"/api/v1/submissions/{submission.pk}/model-index/", headers=headers)

    def test_the_api_returns_yaml_matching_the_evaluations(self):
        response = self.api()
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response["Content-Type"], "text/yaml; charset=utf-8")
        index = yaml.safe_load(response.content)
        url = f"http://testserver/submissions/{self.submission.pk}/"

        def result(split, accuracy):
            return {
                "task": {"type": "text-classification", "name": "Text Classification"},
                "dataset": {
                    "name": "Sentiment (Sentiment)",
                    "type": "sentiment",
                    "config": "sst",
                    "split": split,
                },
                # An undefined value (f1_macro on dev) is left out.
                "metrics": [{"type": "accuracy", "value": accuracy, "name": "Accuracy"}],
                "source": {"name": "Sentiment leaderboard", "url": url},
            }

        self.assertEqual(
            index,
            {
                "model-index": [
                    {
                        "name": "alice-model",
                        "results": [result("dev", 0.8125), result("test", 0.75)],
                    }
                ]
            },
        )
        # Whatever the client accepts.
        self.assertEqual(self.api(Accept="text/yaml").content, response.content)

    def test_huggingface_hub_reads_it_back_unchanged(self):
        index = yaml.safe_load(self.api().content)
        card = ModelCardData(**index)
        self.assertEqual(
            [(r.dataset_split, r.metric_type, r.metric_value) for r in card.eval_results],
            [("dev", "accuracy", 0.8125), ("test", "accuracy", 0.75)],
        )
        self.assertEqual(card.to_dict()["model-index"], index["model-index"])

    def test_the_result_page_shows_the_same_yaml_to_copy(self):
        response = self.client.get(reverse("submission_detail", args=[self.submission.pk]))
        self.assertContains(response, "model-index")
        self.assertEqual(response.context["model_index"], self.api().content.decode())
        self.assertContains(response, escape(response.context["model_index"]))

    def test_withheld_scores_are_left_out_until_the_close(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() + timedelta(days=7)
        )
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        for user in (None, self.alice, self.bob):
            self.client.logout()
            if user:
                self.client.force_login(user)
            splits = [
                r["dataset"]["split"]
                for r in yaml.safe_load(self.api().content)["model-index"][0]["results"]
            ]
            self.assertEqual(splits, ["dev"])
            page = self.client.get(reverse("submission_detail", args=[self.submission.pk]))
            self.assertNotIn("0.75", page.context["model_index"])
        self.client.force_login(self.author)
        index = yaml.safe_load(self.api().content)
        self.assertEqual(len(index["model-index"][0]["results"]), 2)

    def test_a_submission_with_every_score_withheld_has_none(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() + timedelta(days=7)
        )
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        final_only = make_scored_submission(self.benchmark, self.bob, {"test": {"accuracy": 0.66}})
        (message,) = self.assert_errors(self.api(final_only), 403)
        self.assertIn("revealed when the benchmark closes", message)
        page = self.client.get(reverse("submission_detail", args=[final_only.pk]))
        self.assertEqual(page.context["model_index"], "")
        self.assertNotContains(page, "model-index")

    def test_it_is_a_404_before_scoring_and_to_those_who_cannot_see_the_result(self):
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        private = make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.5}}, is_private=True
        )
        self.client.force_login(self.alice)
        self.assert_errors(self.api(queued), 404)
        self.assertEqual(self.api(private).status_code, 200)
        self.client.force_login(self.bob)
        self.assert_errors(self.api(private), 404)
        self.client.logout()
        self.assert_errors(self.api(private), 404)

    def test_it_holds_no_slice_cell(self):
        evaluation = self.submission.evaluations.get(split=self.test_split)
        evaluation.slices = topic_cells(0.123456, 0.654321, n=30)
        evaluation.save()
        content = self.api().content.decode()
        self.assertNotIn("0.123", content)
        self.assertNotIn("food", content)

    def test_regression_is_filed_as_text_classification_and_names_are_yaml_safe(self):
        task = Task.objects.create(
            benchmark=self.benchmark,
            slug="rating",
            position=1,
            type="regression",
            input_columns=["text"],
            label_column="label",
            metrics=[{"name": "mae"}],
            primary_metric="mae",
        )
        split = make_split(
            task, "test", Split.Role.HIDDEN, [{"id": "r-1", "text": "x", "label": 1.0}]
        )
        submission = Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.bob,
            status=Submission.Status.SCORED,
            task=task,
            name="model: {evil}\n- [x]",
        )
        Evaluation.objects.create(
            submission=submission, task=task, split=split, metrics={"mae": {"value": 0.25}}
        )
        (entry,) = yaml.safe_load(self.api(submission).content)["model-index"]
        self.assertEqual(entry["name"], "model: {evil}\n- [x]")
        (result,) = entry["results"]
        self.assertEqual(result["task"], {"type": "text-classification", "name": "Regression"})
        self.assertEqual(result["metrics"], [{"type": "mae", "value": 0.25, "name": "MAE"}])
