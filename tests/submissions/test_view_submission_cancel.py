from unittest import mock

from django.urls import reverse

from submissions.models import Submission
from tests.base import PlatformTestCase, make_scored_submission


class SubmissionCancelTests(PlatformTestCase):
    def setUp(self):
        self.submission = Submission.objects.create(
            benchmark=self.benchmark, participant=self.alice, celery_task_id="task-1"
        )
        self.url = reverse("submission_cancel", args=[self.submission.pk])
        revoke = mock.patch("config.celery.app.control.revoke")
        self.revoke = revoke.start()
        self.addCleanup(revoke.stop)

    def status(self):
        self.submission.refresh_from_db()
        return self.submission.status

    def test_the_owner_cancels_a_queued_submission(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url, follow=True)
        self.assertRedirects(response, reverse("submission_detail", args=[self.submission.pk]))
        self.assertEqual(self.status(), Submission.Status.CANCELLED)
        self.assertContains(response, "Submission cancelled.")
        self.revoke.assert_called_once_with("task-1")

    def test_the_owner_cancels_a_running_submission(self):
        Submission.objects.filter(pk=self.submission.pk).update(status=Submission.Status.RUNNING)
        self.client.force_login(self.alice)
        self.client.post(self.url)
        self.assertEqual(self.status(), Submission.Status.CANCELLED)

    def test_a_final_submission_cannot_be_cancelled(self):
        scored = make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        self.client.force_login(self.alice)
        url = reverse("submission_cancel", args=[scored.pk])
        response = self.client.post(url, follow=True)
        self.assertContains(response, "Only queued or running submissions can be cancelled")
        scored.refresh_from_db()
        self.assertEqual(scored.status, Submission.Status.SCORED)

    def test_anonymous_users_are_sent_to_log_in(self):
        response = self.client.post(self.url)
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))
        self.assertEqual(self.status(), Submission.Status.QUEUED)

    def test_another_participant_gets_a_404(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url).status_code, 404)
        self.assertEqual(self.status(), Submission.Status.QUEUED)

    def test_a_maintainer_may_see_but_not_cancel_it(self):
        self.client.force_login(self.author)
        self.assertEqual(self.client.post(self.url).status_code, 403)
        self.assertEqual(self.status(), Submission.Status.QUEUED)

    def test_it_only_answers_post(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(self.url).status_code, 405)
        self.assertEqual(self.status(), Submission.Status.QUEUED)
