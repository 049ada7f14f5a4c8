"""GET /api/v1/benchmarks/<slug>/leaderboard/?task=&split=&sort=&page=."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authtoken.models import Token

from benchmarks.models import Benchmark, Split, Task
from submissions.models import Evaluation, Submission
from tests.base import (
    PlatformTestCase,
    make_benchmark,
    make_scored_submission,
    make_split,
    make_user,
)

URL = "/api/v1/benchmarks/sentiment/leaderboard/"


class LeaderboardApiTests(PlatformTestCase):
    def board(self, **params) -> dict:
        response = self.client.get(URL, params)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()

    def score(self, user, accuracy, f1=0.5, *, split="test", **fields) -> Submission:
        return make_scored_submission(
            self.benchmark, user, {split: {"accuracy": accuracy, "f1_macro": f1}}, **fields
        )

    def test_it_ranks_the_default_task_and_split_by_the_primary_metric(self):
        alice = self.score(self.alice, 0.7, name="alice-run")
        bob = self.score(self.bob, 0.9)
        body = self.board()
        self.assertEqual(
            {k: body[k] for k in ("benchmark", "task", "split", "sort", "next")},
            {
                "benchmark": "sentiment",
                "task": "sst",
                "split": "test",
                "sort": "accuracy",
                "next": None,
            },
        )
        self.assertEqual(body["rows"][0]["submission"], bob.pk)
        self.assertEqual(
            body["rows"][1],
            {
                "rank": 2,
                "submission": alice.pk,
                "participant": "alice",
                "team": None,  # alice competes on her own
                "name": "alice-run",
                "kind": "predictions",
                "model_url": None,  # a prediction file: no model repository
                "paper_url": "",  # no links given with the upload
                "code_url": "",
                "is_baseline": False,
                "created_at": alice.created_at.isoformat().replace("+00:00", "Z"),
                "metrics": {
                    "accuracy": {"value": 0.7, "ci": None},
                    "f1_macro": {"value": 0.5, "ci": None},
                },
                "efficiency": None,  # a prediction file: no speed or size to show
                "value": 0.7,  # what the board is ranked on
                "p_value_vs_above": None,  # no per-example results: not tested
                "tied_with_first": False,
            },
        )

    def test_it_shows_each_participant_once_with_their_best_submission(self):
        self.score(self.alice, 0.6)
        best = self.score(self.alice, 0.8)
        rows = self.board()["rows"]
        self.assertEqual([r["submission"] for r in rows], [best.pk])

    def test_ties_share_a_rank_and_skip_the_next(self):
        carol = make_user("carol")
        self.score(self.alice, 0.8)
        self.score(self.bob, 0.8)
        self.score(carol, 0.6)
        self.assertEqual([r["rank"] for r in self.board()["rows"]], [1, 1, 3])

    def test_rows_without_the_sort_value_come_last_without_a_rank(self):
        self.score(self.alice, None)
        self.score(self.bob, 0.4)
        rows = self.board()["rows"]
        self.assertEqual(
            [(r["participant"], r["rank"]) for r in rows], [("bob", 1), ("alice", None)]
        )

    def test_it_sorts_by_any_metric_of_the_task(self):
        self.score(self.alice, 0.9, f1=0.2)
        self.score(self.bob, 0.5, f1=0.6)
        body = self.board(sort="f1_macro")
        self.assertEqual(body["sort"], "f1_macro")
        self.assertEqual([r["participant"] for r in body["rows"]], ["bob", "alice"])

    def regression_task(self, scores: dict) -> Task:
        """A second task scored by an error metric, with `scores` {user: mae} on its split."""
        task = Task.objects.create(
            benchmark=self.benchmark,
            slug="rating",
            position=1,
            type="regression",
            input_columns=["text"],
            label_column="label",
            metrics=[{"name": "mae"}, {"name": "pearson"}],
            primary_metric="mae",
        )
        split = make_split(
            task, "test", Split.Role.HIDDEN, [{"id": "r-1", "text": "x", "label": 1.0}]
        )
        for user, mae in scores.items():
            submission = Submission.objects.create(
                benchmark=self.benchmark, participant=user, status="scored", task=task
            )
            Evaluation.objects.create(
                submission=submission,
                task=task,
                split=split,
                metrics={"mae": {"value": mae, "ci": None}, "pearson": {"value": mae, "ci": None}},
            )
        return task

    def test_it_ranks_error_metrics_lowest_first(self):
        self.regression_task({self.alice: 0.9, self.bob: 0.1})
        body = self.board(task="rating")
        self.assertEqual((body["task"], body["split"], body["sort"]), ("rating", "test", "mae"))
        self.assertEqual([r["participant"] for r in body["rows"]], ["bob", "alice"])
        # Correlations are still higher-is-better on the same board.
        rows = self.board(task="rating", sort="pearson")["rows"]
        self.assertEqual([r["participant"] for r in rows], ["alice", "bob"])

    def test_a_missing_error_value_comes_last_not_first(self):
        self.regression_task({self.alice: None, self.bob: 0.5})
        rows = self.board(task="rating")["rows"]
        self.assertEqual(
            [(r["participant"], r["rank"]) for r in rows], [("bob", 1), ("alice", None)]
        )

    def test_baselines_are_flagged_and_each_is_its_own_row(self):
        self.score(self.author, 0.5, is_baseline=True, name="majority class")
        self.score(self.author, 0.6, is_baseline=True, name="bag of words")
        self.score(self.alice, 0.7)
        rows = self.board()["rows"]
        self.assertEqual(
            [(r["name"], r["is_baseline"]) for r in rows],
            [("predictions.csv", False), ("bag of words", True), ("majority class", True)],
        )

    def test_hidden_and_disqualified_submissions_are_left_off(self):
        self.score(self.alice, 0.9, is_hidden=True)
        self.score(self.bob, 0.9, is_disqualified=True)
        self.assertEqual(self.board()["rows"], [])

    def test_it_shows_a_public_split_when_asked(self):
        self.score(self.alice, 0.7, split="dev")
        body = self.board(split="dev")
        self.assertEqual((body["split"], len(body["rows"])), ("dev", 1))

    def test_it_pages_by_fifty_rows(self):
        for i in range(51):
            self.score(self.author, i / 100, is_baseline=True, name=f"baseline {i}")
        first = self.board()
        self.assertEqual(len(first["rows"]), 50)
        self.assertEqual(first["next"], f"http://testserver{URL}?page=2")
        second = self.client.get(first["next"]).json()
        self.assertEqual([r["rank"] for r in second["rows"]], [51])
        self.assertIsNone(second["next"])

    def test_next_keeps_the_other_parameters(self):
        for i in range(51):
            self.score(self.author, i / 100, is_baseline=True)
        self.assertEqual(
            self.board(split="test", sort="f1_macro")["next"],
            f"http://testserver{URL}?split=test&sort=f1_macro&page=2",
        )

    def test_it_rejects_an_invalid_page(self):
        for page in ("0", "-1", "two"):
            self.assert_errors(self.client.get(URL, {"page": page}), 400)

    def test_an_unknown_sort_metric_is_a_400_listing_the_valid_ones(self):
        errors = self.assert_errors(self.client.get(URL, {"sort": "bleu"}), 400)
        self.assertIn("accuracy", errors[0])
        self.assertIn("f1_macro", errors[0])

    def test_an_unknown_task_or_split_is_a_404(self):
        self.assert_errors(self.client.get(URL, {"task": "nope"}), 404)
        self.assert_errors(self.client.get(URL, {"split": "nope"}), 404)

    def test_a_split_that_is_not_scored_has_no_leaderboard(self):
        make_split(self.task, "train", Split.Role.TRAIN, [{"id": "t-1", "text": "x", "label": "a"}])
        self.assert_errors(self.client.get(URL, {"split": "train"}), 404)

    def test_a_private_benchmark_is_a_404_to_anonymous_visitors_and_other_participants(self):
        make_benchmark("private-bench", maintainers=(self.author,), visibility="private")
        url = "/api/v1/benchmarks/private-bench/leaderboard/"
        self.assert_errors(self.client.get(url), 404)
        self.client.force_login(self.alice)
        self.assert_errors(self.client.get(url), 404)
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(url).status_code, 200)

    def test_it_refuses_other_methods(self):
        self.client.force_login(self.author)
        for method in ("post", "put", "delete"):
            self.assert_errors(getattr(self.client, method)(URL), 405)

    def test_it_takes_six_queries_however_many_rows(self):
        # Benchmark, tasks, splits, the page of board entries, their count, their
        # significance tests.
        for i in range(5):
            self.score(make_user(f"user{i}"), i / 10)
        with self.assertNumQueries(6):
            self.assertEqual(len(self.board()["rows"]), 5)
        for i in range(5, 20):
            self.score(make_user(f"user{i}"), i / 100)
        with self.assertNumQueries(6):
            self.assertEqual(len(self.board()["rows"]), 20)

    def test_token_authentication_adds_one_query(self):
        self.score(self.alice, 0.5)  # one row: no significance tests to read
        key = Token.objects.create(user=self.alice).key
        with self.assertNumQueries(6):
            response = self.client.get(URL, headers={"Authorization": f"Token {key}"})
        self.assertEqual(response.status_code, 200)


class FinalLeaderboardApiTests(PlatformTestCase):
    """A hidden split revealed after close: a Kaggle-style final board."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Benchmark.objects.filter(pk=cls.benchmark.pk).update(
            closes_at=timezone.now() + timedelta(days=7)
        )
        Split.objects.filter(pk=cls.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.6}}
        )

    def test_participants_get_a_403_until_the_benchmark_closes(self):
        self.client.force_login(self.alice)
        response = self.client.get(URL, {"split": "test"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(
            response.json(),
            {"errors": ["Scores on split 'test' are revealed when the benchmark closes."]},
        )

    def test_anonymous_visitors_get_a_403_until_the_benchmark_closes(self):
        self.assertEqual(self.client.get(URL, {"split": "test"}).status_code, 403)

    def test_maintainers_see_the_final_board_before_the_close(self):
        self.client.force_login(self.author)
        response = self.client.get(URL, {"split": "test"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["rows"][0]["metrics"]["accuracy"]["value"], 0.6)

    def test_the_default_split_is_the_public_one_until_the_close(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(URL).json()["split"], "dev")

    def test_everyone_sees_the_final_board_once_the_benchmark_closed(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() - timedelta(minutes=1)
        )
        body = self.client.get(URL).json()
        self.assertEqual(body["split"], "test")
        self.assertEqual(body["rows"][0]["metrics"]["accuracy"]["value"], 0.6)
