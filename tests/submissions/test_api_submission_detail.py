"""GET /api/v1/submissions/<id>/: a submission as its owner and maintainers see it, and (once on
a public board) everyone who can see the board."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.authtoken.models import Token

from benchmarks.models import Benchmark, Split
from submissions.models import Submission
from tests.base import PlatformTestCase, make_scored_submission


def detail_url(submission: Submission) -> str:
    return f"/api/v1/submissions/{submission.pk}/"


class SubmissionDetailApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.submission = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.7}},
            name="first try",
        )

    def get(self, user, submission=None):
        self.client.force_login(user)
        return self.client.get(detail_url(submission or self.submission))

    def test_the_owner_sees_status_progress_and_evaluations(self):
        response = self.get(self.alice)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        s = self.submission
        self.assertEqual(
            body,
            {
                "id": s.pk,
                "url": f"/api/v1/submissions/{s.pk}/",
                "benchmark": "sentiment",
                "task": None,
                "kind": "predictions",
                "participant": "alice",
                "team": None,  # alice competes on her own
                "phase": None,  # a benchmark without phases
                "selected_final": False,
                "name": "first try",
                "description": "",
                "is_private": False,
                "is_baseline": False,
                "moderation_reason": "",
                "status": "scored",
                "stage": "score",
                "progress": 1.0,
                "rows_done": 0,
                "rows_total": 0,
                "stage_seconds": {},
                "error": None,
                "created_at": s.created_at.isoformat().replace("+00:00", "Z"),
                "started_at": None,
                "finished_at": None,
                "model": None,
                "evaluations": [
                    {
                        "task": "sst",
                        "split": "dev",
                        "role": "public",
                        "withheld": False,
                        "metrics": {"accuracy": {"value": 0.8, "ci": None}},
                        "slices": [],
                        "confusion": None,
                        "efficiency": None,
                        "provenance": {"split": {"fingerprint": self.dev.fingerprint}},
                    },
                    {
                        "task": "sst",
                        "split": "test",
                        "role": "hidden",
                        "withheld": False,
                        "metrics": {"accuracy": {"value": 0.7, "ci": None}},
                        "slices": [],
                        "confusion": None,
                        "efficiency": None,
                        "provenance": {"split": {"fingerprint": self.test_split.fingerprint}},
                    },
                ],
            },
        )

    def test_it_shows_the_error_of_a_failed_submission(self):
        failed = Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.alice,
            status=Submission.Status.FAILED,
            error="2 ids of the task are missing from the file.",
        )
        body = self.get(self.alice, failed).json()
        self.assertEqual(body["status"], "failed")
        self.assertEqual(body["error"], "2 ids of the task are missing from the file.")
        self.assertEqual(body["evaluations"], [])

    def test_a_maintainer_of_the_benchmark_sees_it(self):
        self.assertEqual(self.get(self.author).status_code, 200)

    def test_staff_see_it(self):
        self.assertEqual(self.get(self.staff).status_code, 200)

    def test_another_participant_sees_it_on_the_board_and_gets_a_404_once_private(self):
        self.assertEqual(self.get(self.bob).status_code, 200)
        private = make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.1}}, is_private=True
        )
        self.assert_errors(self.get(self.bob, private), 404)
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        self.assert_errors(self.get(self.bob, queued), 404)

    def test_an_unknown_id_is_a_404(self):
        self.client.force_login(self.alice)
        self.assert_errors(self.client.get("/api/v1/submissions/999999/"), 404)

    def test_anonymous_visitors_see_a_submission_on_the_board_and_nothing_else(self):
        self.assertEqual(self.client.get(detail_url(self.submission)).status_code, 200)
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        self.assert_errors(self.client.get(detail_url(queued)), 404)

    def test_the_owner_reads_it_with_a_token(self):
        key = Token.objects.create(user=self.alice).key
        response = self.client.get(
            detail_url(self.submission), headers={"Authorization": f"Token {key}"}
        )
        self.assertEqual(response.status_code, 200)

    def test_status_and_flags_cannot_be_written(self):
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        self.client.force_login(self.alice)
        for method in ("put", "patch", "post", "delete"):
            response = getattr(self.client, method)(
                detail_url(queued),
                {"status": "scored", "is_baseline": True, "progress": 1},
                content_type="application/json",
            )
            self.assert_errors(response, 405)
        queued.refresh_from_db()
        self.assertEqual((queued.status, queued.is_baseline, queued.progress), ("queued", False, 0))


class WithheldScoresApiTests(PlatformTestCase):
    """Scores on a hidden split revealed after close stay withheld from participants."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Benchmark.objects.filter(pk=cls.benchmark.pk).update(
            closes_at=timezone.now() + timedelta(days=1)
        )
        Split.objects.filter(pk=cls.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        cls.submission = make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.6543}}
        )

    def evaluations(self, user) -> list[dict]:
        self.client.force_login(user)
        response = self.client.get(detail_url(self.submission))
        self.assertEqual(response.status_code, 200)
        return response.json()["evaluations"]

    def test_the_owner_sees_public_scores_and_a_withheld_hidden_split(self):
        dev, test = self.evaluations(self.alice)
        self.assertEqual(dev["metrics"], {"accuracy": {"value": 0.8, "ci": None}})
        self.assertEqual(
            test,
            {
                "task": "sst",
                "split": "test",
                "role": "hidden",
                "withheld": True,
                "metrics": None,
                "slices": None,
                "confusion": None,
                "efficiency": None,
                "provenance": None,
            },
        )
        self.client.force_login(self.alice)
        self.assertNotIn(b"0.6543", self.client.get(detail_url(self.submission)).content)

    def test_maintainers_see_the_withheld_scores(self):
        _, test = self.evaluations(self.author)
        self.assertEqual((test["withheld"], test["metrics"]["accuracy"]["value"]), (False, 0.6543))

    def test_the_owner_sees_them_once_the_benchmark_closed(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() - timedelta(minutes=1)
        )
        _, test = self.evaluations(self.alice)
        self.assertEqual(test["metrics"]["accuracy"]["value"], 0.6543)
