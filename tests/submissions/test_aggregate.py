"""The benchmark-level board (submissions/aggregate.py): weighted, direction-normalised scores
with answers worked out by hand, weights in the URL, refusals, withholding and query counts."""

from __future__ import annotations

import html
from datetime import timedelta

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Split
from submissions.models import Evaluation, Submission
from tests.base import PlatformTestCase, make_split, make_task, make_user

PAGE = "overall_board"
API = "api-overall-board"


@override_settings(THROTTLE_RATES={"anon": None, "user": None, "uploads": None})
class AggregateTests(PlatformTestCase):
    """Two tasks: sentiment accuracy (0–1, higher is better) and a rating MAE (no scale, lower is
    better, min–max scaled over the board)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.rate = make_task(
            cls.benchmark,
            "rate",
            type="text-regression",
            label_column="score",
            metrics=[{"name": "mae"}, {"name": "pearson"}],
            primary_metric="mae",
        )
        rows = [{"id": f"r{i}", "text": "t", "score": float(i)} for i in range(10)]
        cls.rate_test = make_split(cls.rate, "test", Split.Role.HIDDEN, rows)
        cls.carol, cls.dave = make_user("carol"), make_user("dave")
        cls.scores = {
            "alice": (0.9, 2.0),
            "bob": (0.8, 1.0),
            "carol": (0.7, 3.0),
            "dave": (0.95, None),  # no rating submission: unranked while the MAE counts
        }
        cls.made = {}
        for name, (accuracy, mae) in cls.scores.items():
            cls.made[name] = cls.submit(getattr(cls, name), accuracy, mae)

    @classmethod
    def submit(cls, user, accuracy, mae, **fields) -> Submission:
        fields.setdefault("name", f"{user.username}-run")
        submission = Submission.objects.create(
            benchmark=cls.benchmark,
            participant=user,
            status=Submission.Status.SCORED,
            progress=1.0,
            **fields,
        )
        Evaluation.objects.create(
            submission=submission,
            task=cls.task,
            split=cls.test_split,
            metrics={"accuracy": {"value": accuracy, "ci": None}},
        )
        if mae is not None:
            Evaluation.objects.create(
                submission=submission,
                task=cls.rate,
                split=cls.rate_test,
                metrics={"mae": {"value": mae, "ci": None}, "pearson": {"value": 0.5, "ci": None}},
            )
        return submission

    def api(self, **params):
        return self.client.get(reverse(API, args=[self.benchmark.slug]), params)

    def ranking(self, **params) -> list[tuple]:
        body = self.api(**params).json()
        return [(r["participant"], r["rank"], r["score"]) for r in body["rows"]]

    def assert_ranking(self, found, expected):
        self.assertEqual([(p, r) for p, r, _ in found], [(p, r) for p, r, _ in expected])
        for (_, _, got), (_, _, want) in zip(found, expected, strict=True):
            if want is None:
                self.assertIsNone(got)
            else:
                self.assertAlmostEqual(got, want)

    def test_default_weights_combine_each_tasks_primary_metric(self):
        # MAE scaled from the worst (3) to the best (1): alice 0.5, bob 1, carol 0.
        self.assert_ranking(
            self.ranking(),
            [("bob", 1, 0.9), ("alice", 2, 0.7), ("carol", 3, 0.35), ("dave", None, None)],
        )
        body = self.api().json()
        self.assertEqual(
            [(c["name"], c["weight"], c["normalisation"]) for c in body["components"]],
            [("sst.accuracy", 1.0, "scale"), ("rate.mae", 1.0, "min-max")],
        )

    def test_weights_in_the_url_re_rank(self):
        self.assert_ranking(
            self.ranking(**{"w.sst.accuracy": "3"}),
            [("bob", 1, 0.85), ("alice", 2, 0.8), ("carol", 3, 0.525), ("dave", None, None)],
        )
        # Leaving the MAE out ranks dave, who has no rating submission.
        self.assert_ranking(
            self.ranking(**{"w.rate.mae": "0"}),
            [("dave", 1, 0.95), ("alice", 2, 0.9), ("bob", 3, 0.8), ("carol", 4, 0.7)],
        )
        # Any metric can be weighted, not only the primary ones.
        found = self.ranking(**{"w.rate.mae": "0", "w.rate.pearson": "1"})
        # Pearson 0.5 for all three (its scale is 1), averaged with accuracy; dave has none.
        self.assert_ranking(
            found,
            [("alice", 1, (0.9 + 0.5) / 2), ("bob", 2, (0.8 + 0.5) / 2),
             ("carol", 3, (0.7 + 0.5) / 2), ("dave", None, None)],
        )  # fmt: skip

    def test_the_authors_weights_are_the_default(self):
        self.benchmark.aggregate_weights = {"rate": 2, "sst.accuracy": 1}
        self.benchmark.save()
        self.assert_ranking(
            self.ranking(),
            [("bob", 1, (0.8 + 2) / 3), ("alice", 2, (0.9 + 1) / 3), ("carol", 3, 0.7 / 3),
             ("dave", None, None)],
        )  # fmt: skip

    def test_each_participant_shows_their_best_submission_and_baselines_their_own(self):
        self.submit(self.alice, 0.1, 3.0, name="worse")
        self.submit(self.author, 0.5, 2.0, is_baseline=True)
        found = self.ranking()
        self.assertEqual([p for p, _, _ in found].count("alice"), 1)
        self.assertIn("author", [p for p, _, _ in found])
        names = [r["name"] for r in self.api().json()["rows"]]
        self.assertNotIn("worse", names)

    def test_private_hidden_and_disqualified_submissions_are_left_out(self):
        self.submit(self.alice, 1.0, 0.5, name="secret", is_private=True)
        self.submit(self.bob, 1.0, 0.5, name="hidden", is_hidden=True)
        names = [r["name"] for r in self.api().json()["rows"]]
        self.assertNotIn("secret", names)
        self.assertNotIn("hidden", names)

    def test_bad_parameters_are_refused_on_page_and_api_alike(self):
        cases = {
            "sort": "x",
            "w.sst.bleu": "1",
            "w.nope.accuracy": "1",
            "w.sst.accuracy": "lots",
        }
        for name, value in cases.items():
            errors = self.assert_errors(self.api(**{name: value}), 400)
            page = self.client.get(reverse(PAGE, args=[self.benchmark.slug]), {name: value})
            self.assertEqual(page.status_code, 400)
            self.assertIn(errors[0], html.unescape(page.content.decode()))
        for value in ("-1", "1e9", "nan", "inf"):
            self.assert_errors(self.api(**{"w.sst.accuracy": value}), 400)
        zero = self.api(**{"w.sst.accuracy": "0", "w.rate.mae": "0"})
        self.assertIn("Every weight is 0", self.assert_errors(zero, 400)[0])

    def test_a_withheld_split_leaves_its_task_out_for_participants_only(self):
        self.rate_test.reveal = Split.Reveal.AFTER_CLOSE
        self.rate_test.save()
        self.benchmark.closes_at = timezone.now() + timedelta(days=2)
        self.benchmark.save()
        self.client.force_login(self.alice)
        body = self.api().json()
        self.assertEqual(body["withheld_tasks"], ["rate"])
        self.assertEqual([c["name"] for c in body["components"]], ["sst.accuracy"])
        self.assertTrue(all("rate.mae" not in r["values"] for r in body["rows"]))
        page = self.client.get(reverse(PAGE, args=[self.benchmark.slug]))
        self.assertContains(page, "Left out until the benchmark closes")
        self.client.force_login(self.author)
        self.assertEqual(self.api().json()["withheld_tasks"], [])

    def test_the_page_keeps_the_weights_in_its_form(self):
        page = self.client.get(reverse(PAGE, args=[self.benchmark.slug]), {"w.sst.accuracy": "3"})
        self.assertEqual(page.status_code, 200)
        content = page.content.decode()
        self.assertIn('name="w.sst.accuracy" value="3"', content)
        self.assertIn("your own", content)
        self.assertIn("Back to the authors", content)
        rows = page.context["board"].rows
        self.assertEqual(
            [r.submission.participant.username for r in rows][:3], ["bob", "alice", "carol"]
        )

    def test_queries_do_not_grow_with_submissions(self):
        self.client.force_login(self.alice)
        url = reverse(API, args=[self.benchmark.slug])
        self.client.get(url)
        with self.assertNumQueries(7) as before:
            self.client.get(url)
        for i in range(10):
            self.submit(make_user(f"extra{i}"), i / 10, float(i))
        with self.assertNumQueries(len(before.captured_queries)):
            self.assertEqual(len(self.client.get(url).json()["rows"]), 14)

    def test_a_benchmark_the_viewer_cannot_see_is_a_404(self):
        self.benchmark.visibility = "private"
        self.benchmark.save()
        self.client.force_login(self.alice)
        self.assertEqual(self.api().status_code, 404)
        self.assertEqual(
            self.client.get(reverse(PAGE, args=[self.benchmark.slug])).status_code, 404
        )
