"""End to end through a real worker process: participant uploads → broker → worker claims and
scores → evaluations → leaderboard. Runs on whatever DATABASE_URL / CELERY_BROKER_URL say:
PostgreSQL + Redis in CI, SQLite + the embedded broker by default."""

from __future__ import annotations

import time

import pytest
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from submissions.models import Evaluation, Submission
from submissions.tasks import score_submission
from tests.base import (
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_benchmark,
    make_user,
    prediction_csv,
    upload,
)
from tests.e2e.embedded import wait_until_final

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("scoring_worker")]


class ScoringWorkerEndToEndTests(TransactionTestCase):
    def setUp(self):
        self.author = make_user("author")
        self.alice = make_user("alice")
        self.bob = make_user("bob")
        self.benchmark = make_benchmark(maintainers=(self.author,), public_rows=20, hidden_rows=20)
        self.rows = gold_rows(self.benchmark)

    def api(self, user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return client

    def submit(self, client: APIClient, content: bytes, name: str = "run") -> int:
        response = client.post(
            f"/api/v1/benchmarks/{self.benchmark.slug}/submissions/",
            {"file": upload(content), "name": name},
            format="multipart",
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(response.json()["status"], "queued")
        return response.json()["id"]

    def test_an_uploaded_csv_is_scored_by_the_worker_and_ranked(self):
        alice, bob = self.api(self.alice), self.api(self.bob)
        # Read (and so cache) the empty board first: the worker's scores must replace it.
        url = f"/api/v1/benchmarks/{self.benchmark.slug}/leaderboard/"
        self.assertEqual(APIClient().get(url).json()["rows"], [])
        page = self.client.get(f"/b/{self.benchmark.slug}/leaderboard/")
        self.assertContains(page, "No scored submissions")
        # alice: 4 of 20 hidden rows wrong; bob: all right.
        wrong = [r["id"] for r in self.rows if r["id"].startswith("test-")][:4]
        alice_id = self.submit(alice, prediction_csv(self.rows, wrong=set(wrong)), "alice-run")
        bob_id = self.submit(bob, prediction_csv(self.rows), "bob-run")

        for submission_id in (alice_id, bob_id):
            submission = wait_until_final(submission_id)
            self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
            self.assertEqual(submission.progress, 1.0)

        alice_test = Evaluation.objects.get(submission_id=alice_id, split__name="test")
        self.assertAlmostEqual(alice_test.metrics["accuracy"]["value"], 16 / 20)
        lo, hi = alice_test.metrics["accuracy"]["ci"]
        self.assertLessEqual(lo, 0.8)
        self.assertGreaterEqual(hi, 0.8)
        self.assertEqual(
            alice_test.provenance["split"]["fingerprint"],
            self.benchmark.tasks.get().splits.get(name="test").fingerprint,
        )
        alice_dev = Evaluation.objects.get(submission_id=alice_id, split__name="dev")
        self.assertEqual(alice_dev.metrics["accuracy"]["value"], 1.0)

        status = alice.get(f"/api/v1/submissions/{alice_id}/").json()
        self.assertEqual(status["status"], "scored")
        self.assertEqual(
            {(e["split"], e["metrics"]["accuracy"]["value"]) for e in status["evaluations"]},
            {("dev", 1.0), ("test", 0.8)},
        )

        board = APIClient().get(url).json()
        self.assertEqual(board["split"], "test")
        self.assertEqual(
            [(r["rank"], r["participant"]) for r in board["rows"]], [(1, "bob"), (2, "alice")]
        )
        for body in (status, board):
            assert_no_hidden_labels(self, body, hidden_pairs(self.benchmark))
        page = self.client.get(f"/b/{self.benchmark.slug}/leaderboard/")
        self.assertContains(page, "bob-run")
        self.assertContains(page, "alice-run")

    def test_a_worker_side_failure_fails_one_submission_and_the_worker_carries_on(self):
        alice = self.api(self.alice)
        broken_id = self.submit(alice, prediction_csv(self.rows), "broken")
        self.assertEqual(wait_until_final(broken_id).status, Submission.Status.SCORED)
        # Score it again after its stored file was lost: the platform's fault, not alice's.
        broken = Submission.objects.get(pk=broken_id)
        broken.file.storage.delete(broken.file.name)
        Submission.objects.filter(pk=broken_id).update(status=Submission.Status.QUEUED)
        score_submission.delay(broken_id)
        failed = wait_until_final(broken_id)
        self.assertEqual(failed.status, Submission.Status.FAILED)
        self.assertTrue(failed.failed_by_platform)
        self.assertIn("internal error", failed.error)

        next_id = self.submit(alice, prediction_csv(self.rows), "next")
        self.assertEqual(wait_until_final(next_id).status, Submission.Status.SCORED)

    def test_a_duplicate_message_does_not_score_twice(self):
        alice = self.api(self.alice)
        submission_id = self.submit(alice, prediction_csv(self.rows))
        score_submission.delay(submission_id)  # a redelivered or duplicated message
        self.assertEqual(wait_until_final(submission_id).status, Submission.Status.SCORED)
        time.sleep(1)  # give the duplicate time to be consumed
        self.assertEqual(Evaluation.objects.filter(submission_id=submission_id).count(), 2)
        self.assertEqual(Submission.objects.get(pk=submission_id).status, "scored")
