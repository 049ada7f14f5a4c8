"""A scoring job's life outside the scoring itself: publishing (queue and time limits chosen
then), the atomic claim, cancelling, and the reaper (republish what waits, fail what died)."""

import time
from datetime import timedelta
from unittest import mock

from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from submissions import pipeline, reaper
from submissions.models import Submission
from submissions.services import SubmissionError, submission_cancel
from tests.base import PlatformTestCase, make_benchmark, make_user

PUBLISH = "submissions.tasks.score_submission.apply_async"


class ClaimTests(PlatformTestCase):
    def make(self, **fields):
        return Submission.objects.create(benchmark=self.benchmark, participant=self.alice, **fields)

    def test_claim_moves_queued_to_running_once(self):
        submission = self.make()
        self.assertTrue(pipeline.submission_claim(submission_id=submission.pk))
        self.assertFalse(pipeline.submission_claim(submission_id=submission.pk))
        submission.refresh_from_db()
        self.assertEqual(submission.status, "running")
        self.assertIsNotNone(submission.started_at)

    def test_a_cancelled_submission_cannot_be_claimed(self):
        submission = self.make()
        with mock.patch("submissions.pipeline.job_revoke"):
            submission_cancel(submission=submission)
        self.assertFalse(pipeline.submission_claim(submission_id=submission.pk))
        self.assertEqual(Submission.objects.get(pk=submission.pk).status, "cancelled")

    def test_a_final_submission_cannot_be_cancelled(self):
        submission = self.make(status="scored")
        with self.assertRaises(SubmissionError):
            submission_cancel(submission=submission)

    def test_a_result_is_recorded_only_over_a_running_row(self):
        submission = self.make(status="cancelled", claims=1)
        self.assertFalse(
            pipeline.submission_record(submission_id=submission.pk, claim=1, evaluations=[])
        )
        self.assertEqual(Submission.objects.get(pk=submission.pk).status, "cancelled")

    @override_settings(LEASE=timedelta(seconds=45))
    def test_a_run_whose_lease_expired_is_claimed_again_and_the_dead_run_records_nothing(self):
        now = timezone.now()
        submission = self.make()
        first = pipeline.submission_claim(submission_id=submission.pk, now=now)
        self.assertEqual(first, 1)
        # Heartbeats keep the lease: nobody else may take it.
        later = now + timedelta(seconds=40)
        self.assertIsNone(pipeline.submission_claim(submission_id=submission.pk, now=later))
        # No heartbeat for longer than the lease: its worker died.
        second = pipeline.submission_claim(
            submission_id=submission.pk, now=now + timedelta(seconds=46)
        )
        self.assertEqual(second, 2)
        self.assertFalse(
            pipeline.submission_record(submission_id=submission.pk, claim=first, evaluations=[])
        )
        self.assertFalse(
            pipeline.submission_fail(submission_id=submission.pk, claim=first, message="x")
        )
        self.assertTrue(
            pipeline.submission_record(submission_id=submission.pk, claim=second, evaluations=[])
        )
        submission.refresh_from_db()
        self.assertEqual((submission.status, submission.claims), ("scored", 2))


class PublishTests(PlatformTestCase):
    def make(self, **fields):
        return Submission.objects.create(
            benchmark=self.benchmark, participant=self.alice, celery_task_id="t-1", **fields
        )

    @override_settings(SCORING_TIME_LIMIT_SECONDS=300)
    def test_the_queue_and_time_limits_are_chosen_when_the_job_is_published(self):
        submission = self.make()
        with mock.patch(PUBLISH) as publish:
            pipeline.enqueue(submission)
        publish.assert_called_once_with(
            args=[submission.pk],
            task_id="t-1",
            queue="scoring",
            soft_time_limit=300,
            time_limit=360,
        )

    def test_a_broker_that_is_down_does_not_fail_the_upload(self):
        submission = self.make()
        with (
            mock.patch(PUBLISH, side_effect=OSError("refused")),
            self.assertLogs("submissions.pipeline", "ERROR"),
        ):
            pipeline.enqueue(submission)


@override_settings(
    REQUEUE_AFTER=timedelta(minutes=2),
    REQUEUE_MAX=timedelta(minutes=16),
    SCORING_TIME_LIMIT_SECONDS=600,
    REAPER_GRACE=timedelta(minutes=2),
)
class ReaperTests(PlatformTestCase):
    def make(self, **fields):
        return Submission.objects.create(
            benchmark=self.benchmark, participant=self.alice, celery_task_id="t-1", **fields
        )

    def test_a_queued_submission_is_republished_after_the_delay_then_with_back_off(self):
        now = timezone.now()
        stale = self.make(created_at=now - timedelta(minutes=3))
        fresh = self.make(created_at=now - timedelta(seconds=30))  # the worker will get to it
        self.make(created_at=now - timedelta(hours=1), status="running", started_at=now)
        with mock.patch(PUBLISH) as publish:
            self.assertEqual(reaper.submission_requeue_stale(now=now), [stale.pk])
            # The next republish waits twice as long: 4 minutes after the first. (By now the
            # fresh one has waited long enough for its first.)
            self.assertEqual(
                reaper.submission_requeue_stale(now=now + timedelta(minutes=3)), [fresh.pk]
            )
            self.assertEqual(
                reaper.submission_requeue_stale(now=now + timedelta(minutes=5)), [stale.pk]
            )
        self.assertEqual(publish.call_count, 3)
        stale.refresh_from_db()
        self.assertEqual(stale.attempts, 2)
        self.assertEqual(stale.requeued_at, now + timedelta(minutes=5))

    def test_the_back_off_is_capped(self):
        self.assertEqual(reaper.republish_delay(0), timedelta(minutes=2))
        self.assertEqual(reaper.republish_delay(2), timedelta(minutes=8))
        self.assertEqual(reaper.republish_delay(10), timedelta(minutes=16))

    def test_a_long_backlog_is_not_failed_as_stuck(self):
        waiting = self.make(created_at=timezone.now() - timedelta(hours=5))
        with mock.patch(PUBLISH):
            self.assertEqual(reaper.submission_reap_stuck(), [])
        waiting.refresh_from_db()
        self.assertEqual(waiting.status, "queued")

    @override_settings(LEASE=timedelta(seconds=45), MAX_CLAIMS=3)
    def test_a_dead_run_is_republished_at_once_then_with_back_off(self):
        now = timezone.now()
        dead = self.make(status="running", claims=1, heartbeat_at=now - timedelta(seconds=50))
        self.make(status="running", claims=1, heartbeat_at=now - timedelta(seconds=5))  # alive
        with mock.patch(PUBLISH) as publish:
            self.assertEqual(reaper.submission_requeue_stale(now=now), [dead.pk])
            self.assertEqual(reaper.submission_requeue_stale(now=now + timedelta(seconds=30)), [])
            # Not claimed since: published again after the back-off (3 minutes by default).
            self.assertIn(dead.pk, reaper.submission_requeue_stale(now=now + timedelta(minutes=5)))
        self.assertEqual(publish.call_count, 3)

    @override_settings(LEASE=timedelta(seconds=45), MAX_CLAIMS=3)
    def test_a_run_whose_worker_died_too_often_fails_without_charging_quota(self):
        now = timezone.now()
        stale = now - timedelta(minutes=2)
        given_up = self.make(status="running", claims=3, heartbeat_at=stale, started_at=stale)
        retried = self.make(status="running", claims=2, heartbeat_at=stale, started_at=stale)
        with mock.patch(PUBLISH):
            self.assertEqual(reaper.submission_requeue_stale(now=now), [retried.pk])
        self.assertEqual(reaper.submission_reap_stuck(now=now), [given_up.pk])
        given_up.refresh_from_db()
        self.assertEqual(given_up.status, "failed")
        self.assertTrue(given_up.failed_by_platform)
        self.assertIn("stopped 3 times", given_up.error)

    def test_a_run_past_its_hard_limit_fails_without_charging_quota(self):
        now = timezone.now()
        # Hard limit 660 s + grace 120 s = 13 minutes.
        dead = self.make(status="running", started_at=now - timedelta(minutes=14))
        alive = self.make(status="running", started_at=now - timedelta(minutes=12))
        done = self.make(status="scored", started_at=now - timedelta(hours=1))
        self.assertEqual(reaper.submission_reap_stuck(now=now), [dead.pk])
        dead.refresh_from_db()
        self.assertEqual(dead.status, "failed")
        self.assertTrue(dead.failed_by_platform)
        self.assertIn("13 minutes", dead.error)
        self.assertFalse(Submission.objects.filter(pk=dead.pk).counting_towards_quota().exists())
        alive.refresh_from_db()
        done.refresh_from_db()
        self.assertEqual((alive.status, done.status), ("running", "scored"))


class HeartbeatTests(TransactionTestCase):
    """The heartbeat thread, on a real connection of its own."""

    @override_settings(HEARTBEAT=timedelta(milliseconds=50))
    def test_a_running_job_renews_its_lease_until_it_ends(self):
        submission = Submission.objects.create(
            benchmark=make_benchmark(), participant=make_user("alice"), status="running", claims=1
        )
        Submission.objects.filter(pk=submission.pk).update(
            heartbeat_at=timezone.now() - timedelta(hours=1)
        )
        with pipeline.Heartbeat(submission_id=submission.pk, claim=1):
            time.sleep(0.4)
        beat = Submission.objects.get(pk=submission.pk).heartbeat_at
        self.assertGreater(beat, timezone.now() - timedelta(seconds=5))
        time.sleep(0.2)  # stopped: no more beats
        self.assertEqual(Submission.objects.get(pk=submission.pk).heartbeat_at, beat)

    @override_settings(HEARTBEAT=timedelta(milliseconds=50))
    def test_a_run_that_lost_its_claim_does_not_renew_the_new_runs_lease(self):
        submission = Submission.objects.create(
            benchmark=make_benchmark(), participant=make_user("alice"), status="running", claims=2
        )
        old = timezone.now() - timedelta(hours=1)
        Submission.objects.filter(pk=submission.pk).update(heartbeat_at=old)
        with pipeline.Heartbeat(submission_id=submission.pk, claim=1):
            time.sleep(0.3)
        self.assertEqual(Submission.objects.get(pk=submission.pk).heartbeat_at, old)
