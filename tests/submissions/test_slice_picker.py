"""The leaderboard's slice picker: a board ranked on one slice cell ("best on long reviews"),
on the page and in the API; on a hidden split only cells that may be published are offered."""

from __future__ import annotations

from django.urls import reverse

from submissions.models import Evaluation
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission, make_user


def topic_cells(food: float | None, service: float, n: int = 30) -> list[dict]:
    return [
        {"slice": "topic", "cell": "food", "n": n, "metrics": {"accuracy": {"value": food}}},
        {"slice": "topic", "cell": "service", "n": n, "metrics": {"accuracy": {"value": service}}},
    ]


class SlicePickerTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.carol = make_user("carol")
        # Overall: alice best, then bob, then carol. On food: carol best, alice last.
        for user, overall, food, service in (
            (cls.alice, 0.9, 0.5, 0.95),
            (cls.bob, 0.8, 0.7, 0.85),
            (cls.carol, 0.7, 0.9, 0.6),
        ):
            submission = make_scored_submission(
                cls.benchmark, user, {"dev": {"accuracy": overall}}, name=f"{user.username}-run"
            )
            evaluation = submission.evaluations.get()
            evaluation.slices = topic_cells(food, service)
            evaluation.save()
        cls.url = f"/api/v1/benchmarks/{cls.benchmark.slug}/leaderboard/"

    def board(self, **params):
        return self.client.get(self.url, {"task": "sst", "split": "dev", **params})

    def test_the_cell_value_is_stored_for_ranking(self):
        evaluation = Evaluation.objects.filter(submission__participant=self.carol).get()
        self.assertEqual(sorted(v["accuracy"] for v in evaluation.cell_values.values()), [0.6, 0.9])

    def test_the_api_ranks_on_a_slice_cell(self):
        overall = self.board().json()
        self.assertEqual([r["participant"] for r in overall["rows"]], ["alice", "bob", "carol"])
        self.assertIsNone(overall["slice"])
        body = self.board(slice="topic", cell="food").json()
        self.assertEqual([r["participant"] for r in body["rows"]], ["carol", "bob", "alice"])
        self.assertEqual([r["value"] for r in body["rows"]], [0.9, 0.7, 0.5])
        self.assertEqual([r["rank"] for r in body["rows"]], [1, 2, 3])
        self.assertEqual(body["slice"], {"slice": "topic", "cell": "food"})
        self.assertIn({"slice": "topic", "cell": "food"}, body["slices"])

    def test_an_undefined_cell_value_ranks_last(self):
        evaluation = Evaluation.objects.filter(submission__participant=self.carol).get()
        evaluation.slices = topic_cells(None, 0.6)
        evaluation.save()
        body = self.board(slice="topic", cell="food").json()
        self.assertEqual([r["participant"] for r in body["rows"]], ["bob", "alice", "carol"])
        self.assertIsNone(body["rows"][-1]["rank"])

    def test_an_unknown_cell_is_a_400_naming_the_cells(self):
        (message,) = self.assert_errors(self.board(slice="topic", cell="nope"), 400)
        self.assertIn("topic: food", message)
        self.assert_errors(self.board(slice="topic"), 400)

    def test_the_page_offers_the_cells_and_shows_the_cell_column(self):
        page = reverse("leaderboard", args=[self.benchmark.slug])
        response = self.client.get(page, {"task": "sst", "split": "dev"})
        self.assertContains(response, "Rank on a slice")
        self.assertContains(response, "slice=topic&amp;cell=food")
        response = self.client.get(
            page, {"task": "sst", "split": "dev", "slice": "topic", "cell": "food"}
        )
        self.assertContains(response, "on topic: food")
        html = response.content.decode()
        self.assertLess(html.index("carol-run"), html.index("alice-run"))

    def test_a_bad_cell_on_the_page_says_why_and_shows_the_plain_board(self):
        page = reverse("leaderboard", args=[self.benchmark.slug])
        response = self.client.get(page, {"split": "dev", "slice": "topic", "cell": "nope"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "cannot be ranked on", status_code=400)
        self.assertContains(response, "alice-run", status_code=400)


class HiddenSlicePickerTests(PlatformTestCase):
    def test_small_hidden_cells_are_not_offered_and_cannot_be_ranked_on(self):
        # The shared benchmark's hidden split has 10 rows: every topic cell holds 5.
        submission = make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 1}})
        evaluation = submission.evaluations.get()
        evaluation.slices = topic_cells(0.123, 0.456, n=5)
        evaluation.save()
        url = f"/api/v1/benchmarks/{self.benchmark.slug}/leaderboard/"
        body = self.client.get(url, {"split": "test"}).json()
        self.assertNotIn({"slice": "topic", "cell": "food"}, body["slices"])
        (message,) = self.assert_errors(
            self.client.get(url, {"split": "test", "slice": "topic", "cell": "food"}), 400
        )
        self.assertNotIn("0.123", message)

    def test_large_hidden_cells_are_offered(self):
        benchmark = make_benchmark("big-hidden", hidden_rows=80)
        submission = make_scored_submission(benchmark, self.alice, {"test": {"accuracy": 1}})
        evaluation = submission.evaluations.get()
        evaluation.slices = topic_cells(0.25, 0.75, n=40)
        evaluation.save()
        url = f"/api/v1/benchmarks/{benchmark.slug}/leaderboard/"
        body = self.client.get(url, {"split": "test", "slice": "topic", "cell": "food"}).json()
        self.assertEqual(body["rows"][0]["value"], 0.25)
        self.assertIn({"slice": "topic", "cell": "service"}, body["slices"])
