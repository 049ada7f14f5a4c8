"""GET /api/v1/submissions/<id>/breakdown/: per-slice metrics, small hidden cells suppressed."""

from __future__ import annotations

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from benchmarks.models import Split
from submissions.models import Evaluation
from tests.base import PlatformTestCase, make_scored_submission, make_split


def cell(slice_name: str, name: str, n: int, accuracy: float) -> dict:
    return {"slice": slice_name, "cell": name, "n": n, "metrics": {"accuracy": {"value": accuracy}}}


CELLS = [
    cell("topic", "billing", 60, 0.9),
    cell("topic", "delivery", 30, 0.7),
    cell("topic", "rare", 5, 0.2),  # < 20: suppressed, and so must be the next smallest
    cell("length", "[0,10)", 50, 0.8),
    cell("length", "[10,inf)", 45, 0.75),
]


def hidden_rows() -> list[dict]:
    """A hidden split whose rows give exactly the cells of CELLS (suppression is decided on the
    split's rows, so stored cells must match them)."""
    cells = [("billing", 5.0, 30), ("billing", 50.0, 30), ("delivery", 5.0, 15)]
    cells += [("delivery", 50.0, 15), ("rare", 5.0, 5)]
    rows = [(topic, score) for topic, score, n in cells for _ in range(n)]
    return [
        {"id": f"test-{i:03d}", "text": "t", "label": "zz-label-pos", "topic": t, "score": v}
        for i, (t, v) in enumerate(rows)
    ]


@override_settings(MIN_SLICE_SIZE=20)
class SubmissionBreakdownApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.task.metadata_columns = ["topic", "score"]
        cls.task.slices = [
            {"name": "topic", "column": "topic"},
            {"name": "length", "column": "score", "measure": "value", "bins": [0, 10]},
        ]
        cls.task.save()
        cls.test_split.delete()
        cls.test_split = make_split(cls.task, "test", Split.Role.HIDDEN, hidden_rows())
        cls.submission = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.78}},
        )
        Evaluation.objects.filter(submission=cls.submission).update(slices=CELLS)

    def url(self, **params) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"/api/v1/submissions/{self.submission.pk}/breakdown/?{query}"

    def get(self, user, **params):
        if user:
            self.client.force_login(user)
        return self.client.get(self.url(**params))

    def test_a_hidden_split_suppresses_small_cells_and_enough_others(self):
        body = self.get(self.alice, task="sst", split="test").json()
        self.assertEqual((body["task"], body["split"]), ("sst", "test"))
        self.assertEqual(body["overall"]["accuracy"]["value"], 0.78)
        topic = {c["cell"]: c for c in body["slices"] if c["slice"] == "topic"}
        self.assertTrue(topic["rare"]["suppressed"])
        self.assertEqual((topic["rare"]["n"], topic["rare"]["metrics"]), (None, None))
        # 5 rows alone could be recovered from the overall score: delivery goes too.
        self.assertTrue(topic["delivery"]["suppressed"])
        self.assertFalse(topic["billing"]["suppressed"])
        self.assertEqual(topic["billing"]["n"], 60)
        length = [c for c in body["slices"] if c["slice"] == "length"]
        self.assertFalse(any(c["suppressed"] for c in length))
        self.assertNotIn("0.2", str(body["slices"]))

    def test_maintainers_get_the_same_suppression(self):
        body = self.get(self.author, split="test").json()
        self.assertTrue(next(c for c in body["slices"] if c["cell"] == "rare")["suppressed"])

    def test_a_public_split_shows_every_cell(self):
        body = self.get(self.alice, split="dev").json()
        self.assertFalse(any(c["suppressed"] for c in body["slices"]))
        self.assertEqual(next(c for c in body["slices"] if c["cell"] == "rare")["n"], 5)

    def test_it_is_withheld_before_an_after_close_reveal(self):
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        self.benchmark.closes_at = timezone.now() + timedelta(days=1)
        self.benchmark.save()
        response = self.get(self.alice, split="test")
        self.assertEqual(response.status_code, 403)
        self.assertIn("revealed when the benchmark closes", response.json()["errors"][0])

    def test_anyone_sees_it_while_on_the_board_and_nobody_else_once_private(self):
        self.assertEqual(self.get(None, split="test").status_code, 200)
        self.assertEqual(self.get(self.bob, split="test").status_code, 200)
        self.submission.is_private = True
        self.submission.save()
        self.client.logout()
        self.assertEqual(self.get(None, split="test").status_code, 404)
        response = self.get(self.bob, split="test")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(list(response.json()), ["errors"])
        self.assertEqual(self.get(self.alice, split="test").status_code, 200)

    def test_an_unknown_split_is_404(self):
        self.assertEqual(self.get(self.alice, split="nope").status_code, 404)

    def test_it_accepts_only_get(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.post(self.url(split="test")).status_code, 405)


@override_settings(MIN_SLICE_SIZE=20)
class ConfusionMatrixApiTests(PlatformTestCase):
    """One row predicted as a class of its own would show that row's gold label in the class's
    column: on hidden splits such a matrix is withheld."""

    PROBE = {"labels": ["neg", "pos"], "matrix": [[40, 1], [35, 0]]}  # "pos" predicted once
    SAFE = {"labels": ["neg", "pos"], "matrix": [[30, 12], [10, 24]]}

    def breakdown(self, confusion: dict, split: str) -> dict:
        submission = make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.5}}
        )
        Evaluation.objects.filter(submission=submission).update(confusion=confusion)
        self.client.force_login(self.alice)
        url = f"/api/v1/submissions/{submission.pk}/breakdown/?split={split}"
        return self.client.get(url).json()["confusion"]

    def test_a_probing_matrix_on_a_hidden_split_is_withheld(self):
        confusion = self.breakdown(self.PROBE, "test")
        self.assertEqual(confusion, {"labels": ["neg", "pos"], "matrix": None, "suppressed": True})

    def test_a_matrix_with_large_columns_is_shown_on_a_hidden_split(self):
        confusion = self.breakdown(self.SAFE, "test")
        self.assertEqual(confusion["matrix"], self.SAFE["matrix"])
        self.assertFalse(confusion["suppressed"])

    def test_a_public_split_shows_any_matrix(self):
        self.assertEqual(self.breakdown(self.PROBE, "dev")["matrix"], self.PROBE["matrix"])

    def test_the_page_says_why_the_matrix_is_withheld(self):
        submission = make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 0.5}})
        Evaluation.objects.filter(submission=submission).update(confusion=self.PROBE)
        self.client.force_login(self.alice)
        response = self.client.get(f"/submissions/{submission.pk}/")
        self.assertContains(response, "Confusion matrix withheld")
        self.assertNotContains(response, '<td class="num">35</td>')
