"""POST /api/v1/submissions/<id>/cancel/: the owner stops a queued or running submission."""

from __future__ import annotations

from unittest import mock

from submissions.models import Submission
from tests.base import PlatformTestCase, make_scored_submission


def cancel_url(submission: Submission) -> str:
    return f"/api/v1/submissions/{submission.pk}/cancel/"


class SubmissionCancelApiTests(PlatformTestCase):
    def setUp(self):
        self.submission = Submission.objects.create(
            benchmark=self.benchmark, participant=self.alice
        )

    def cancel(self, user, submission=None):
        self.client.force_login(user)
        return self.client.post(cancel_url(submission or self.submission))

    def assert_still_queued(self):
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.status, "queued")

    def test_the_owner_cancels_a_queued_submission_and_gets_its_detail(self):
        response = self.cancel(self.alice)
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertEqual((body["id"], body["status"]), (self.submission.pk, "cancelled"))
        self.assertIsNotNone(body["finished_at"])
        self.submission.refresh_from_db()
        self.assertEqual(self.submission.status, "cancelled")

    def test_the_owner_cancels_a_running_submission(self):
        Submission.objects.filter(pk=self.submission.pk).update(status="running")
        self.assertEqual(self.cancel(self.alice).json()["status"], "cancelled")

    def test_cancelling_revokes_the_scoring_job(self):
        Submission.objects.filter(pk=self.submission.pk).update(celery_task_id="job-1")
        with mock.patch("config.celery.app.control.revoke") as revoke:
            self.assertEqual(self.cancel(self.alice).status_code, 200)
        revoke.assert_called_once_with("job-1")

    def test_a_finished_submission_cannot_be_cancelled(self):
        scored = make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 0.5}})
        errors = self.assert_errors(self.cancel(self.alice, scored), 400)
        self.assertIn("only queued or running", errors[0].lower())
        scored.refresh_from_db()
        self.assertEqual(scored.status, "scored")

    def test_a_maintainer_who_is_not_the_owner_gets_a_403(self):
        errors = self.assert_errors(self.cancel(self.author), 403)
        self.assertIn("Only the participant", errors[0])
        self.assert_still_queued()

    def test_another_participant_gets_a_404(self):
        self.assert_errors(self.cancel(self.bob), 404)
        self.assert_still_queued()

    def test_anonymous_visitors_get_a_401(self):
        self.assert_errors(self.client.post(cancel_url(self.submission)), 401)
        self.assert_still_queued()

    def test_it_refuses_other_methods(self):
        self.client.force_login(self.alice)
        for method in ("get", "put", "delete"):
            self.assert_errors(getattr(self.client, method)(cancel_url(self.submission)), 405)
        self.assert_still_queued()
