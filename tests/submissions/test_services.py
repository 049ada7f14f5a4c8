from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from submissions.models import Submission
from submissions.services import (
    SubmissionError,
    submission_cancel,
    submission_claim,
    submission_create,
    submission_reap_stuck,
)
from tests.base import PlatformTestCase, gold_rows, hidden_pairs, prediction_csv, upload


class SubmissionCreateTests(PlatformTestCase):
    def create(self, content=None, **kwargs):
        content = content if content is not None else prediction_csv(gold_rows(self.benchmark))
        return submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(content, kwargs.pop("name", "preds.csv")),
            **kwargs,
        )

    def test_it_stores_a_valid_file_queued_and_enqueues_on_commit(self):
        with self.captureOnCommitCallbacks() as callbacks:
            submission = self.create()
        self.assertEqual(submission.status, Submission.Status.QUEUED)
        self.assertEqual(submission.task, None)
        self.assertTrue(submission.file.storage.exists(submission.file.name))
        self.assertEqual(len(callbacks), 1)

    def test_it_rejects_a_file_with_missing_ids_and_stores_nothing(self):
        rows = gold_rows(self.benchmark)[:-3]
        with self.assertRaises(SubmissionError) as caught:
            self.create(prediction_csv(rows))
        self.assertEqual(caught.exception.status_code, 400)
        self.assertIn("3", " ".join(caught.exception.messages))
        self.assertFalse(Submission.objects.exists())
        for message in caught.exception.messages:
            for row_id, label in hidden_pairs(self.benchmark):
                if row_id in message:
                    self.assertNotIn(label, message)

    def test_it_refuses_a_closed_benchmark(self):
        self.benchmark.closes_at = timezone.now() - timedelta(hours=1)
        self.benchmark.save()
        with self.assertRaises(SubmissionError) as caught:
            self.create()
        self.assertEqual(caught.exception.status_code, 403)

    def test_it_refuses_a_benchmark_not_yet_open(self):
        self.benchmark.opens_at = timezone.now() + timedelta(hours=1)
        self.benchmark.save()
        with self.assertRaises(SubmissionError) as caught:
            self.create()
        self.assertEqual(caught.exception.status_code, 403)

    def test_it_enforces_the_daily_quota_but_not_for_platform_failures(self):
        self.benchmark.max_per_day = 1
        self.benchmark.save()
        first = self.create()
        with self.assertRaises(SubmissionError) as caught:
            self.create()
        self.assertEqual(caught.exception.status_code, 429)
        Submission.objects.filter(pk=first.pk).update(status="failed", failed_by_platform=True)
        self.create()

    def test_it_enforces_the_total_quota(self):
        self.benchmark.max_total = 1
        self.benchmark.save()
        self.create()
        with self.assertRaises(SubmissionError) as caught:
            self.create()
        self.assertEqual(caught.exception.status_code, 429)

    @override_settings(MAX_PREDICTION_FILE_MB=0)
    def test_it_refuses_a_file_over_the_size_limit(self):
        with self.assertRaises(SubmissionError) as caught:
            self.create()
        self.assertIn("limit", caught.exception.messages[0])


class SubmissionStateTests(PlatformTestCase):
    def make(self, **fields):
        return Submission.objects.create(benchmark=self.benchmark, participant=self.alice, **fields)

    def test_claim_moves_queued_to_running_once(self):
        submission = self.make()
        self.assertTrue(submission_claim(submission_id=submission.pk))
        self.assertFalse(submission_claim(submission_id=submission.pk))
        submission.refresh_from_db()
        self.assertEqual(submission.status, "running")
        self.assertIsNotNone(submission.started_at)

    def test_a_cancelled_submission_cannot_be_claimed(self):
        submission = self.make()
        submission_cancel(submission=submission)
        self.assertFalse(submission_claim(submission_id=submission.pk))
        self.assertEqual(Submission.objects.get(pk=submission.pk).status, "cancelled")

    def test_a_final_submission_cannot_be_cancelled(self):
        submission = self.make(status="scored")
        with self.assertRaises(SubmissionError):
            submission_cancel(submission=submission)

    def test_the_reaper_fails_stuck_submissions_without_charging_quota(self):
        old = timezone.now() - timedelta(hours=2)
        stuck_queued = self.make(created_at=old)
        stuck_running = self.make(status="running", created_at=old, started_at=old)
        fresh_running = self.make(status="running", created_at=old, started_at=timezone.now())
        done = self.make(status="scored", created_at=old)

        reaped = submission_reap_stuck(older_than=timedelta(minutes=30))

        self.assertEqual(sorted(reaped), sorted([stuck_queued.pk, stuck_running.pk]))
        for submission in (stuck_queued, stuck_running):
            submission.refresh_from_db()
            self.assertEqual(submission.status, "failed")
            self.assertTrue(submission.failed_by_platform)
            self.assertIn("30 minutes", submission.error)
        fresh_running.refresh_from_db()
        done.refresh_from_db()
        self.assertEqual((fresh_running.status, done.status), ("running", "scored"))


class EnqueueRobustnessTests(PlatformTestCase):
    def make(self, **fields):
        return Submission.objects.create(
            benchmark=self.benchmark, participant=self.alice, celery_task_id="t-1", **fields
        )

    def test_a_broker_that_is_down_does_not_fail_the_upload(self):
        from unittest import mock

        from submissions import services

        submission = self.make()
        with (
            mock.patch(
                "scoring.tasks.score_submission.apply_async", side_effect=OSError("refused")
            ),
            self.assertLogs("submissions.services", "ERROR"),
        ):
            services.enqueue(submission)

    def test_stale_queued_submissions_are_republished_once(self):
        from unittest import mock

        from submissions.services import submission_requeue_stale

        old = timezone.now() - timedelta(minutes=5)
        stale = self.make(created_at=old)
        self.make(created_at=timezone.now())  # fresh: the worker will get to it
        self.make(created_at=old, status="running")
        with mock.patch("scoring.tasks.score_submission.apply_async") as publish:
            self.assertEqual(submission_requeue_stale(), [stale.pk])
            self.assertEqual(submission_requeue_stale(), [])
        publish.assert_called_once_with(args=[stale.pk], task_id="t-1")
