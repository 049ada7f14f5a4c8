"""The scoring service in-process (the worker calls exactly this)."""

from unittest import mock

from submissions import pipeline as services
from submissions.models import Evaluation, Submission
from submissions.services import submission_create
from tests.base import PlatformTestCase, gold_rows, hidden_pairs, prediction_csv, upload


class SubmissionScoreTests(PlatformTestCase):
    def submit(self, content: bytes) -> Submission:
        return submission_create(
            benchmark=self.benchmark, participant=self.alice, uploaded_file=upload(content)
        )

    def test_it_scores_every_scored_split_with_provenance(self):
        rows = gold_rows(self.benchmark)
        wrong = {"test-001", "test-002", "dev-003"}
        submission = self.submit(prediction_csv(rows, wrong=wrong))

        services.submission_score(submission_id=submission.pk)

        submission.refresh_from_db()
        self.assertEqual(submission.status, "scored", submission.error)
        test = Evaluation.objects.get(submission=submission, split=self.test_split)
        dev = Evaluation.objects.get(submission=submission, split=self.dev)
        self.assertAlmostEqual(test.metrics["accuracy"]["value"], 0.8)
        self.assertAlmostEqual(dev.metrics["accuracy"]["value"], 0.9)
        self.assertIn("f1_macro", test.metrics)
        self.assertEqual(test.provenance["split"]["fingerprint"], self.test_split.fingerprint)
        self.assertIn("scorer_version", test.provenance)
        self.assertTrue(test.slices)

    def test_a_submission_scored_twice_is_scored_once(self):
        submission = self.submit(prediction_csv(gold_rows(self.benchmark)))
        services.submission_score(submission_id=submission.pk)
        services.submission_score(submission_id=submission.pk)
        self.assertEqual(Evaluation.objects.filter(submission=submission).count(), 2)

    def test_a_submission_cancelled_while_running_stays_cancelled(self):
        submission = self.submit(prediction_csv(gold_rows(self.benchmark)))
        real_compute = services.evaluations_compute

        def cancel_midway(**kwargs):
            result = real_compute(**kwargs)
            Submission.objects.filter(pk=submission.pk).update(status="cancelled")
            return result

        with mock.patch.object(services, "evaluations_compute", cancel_midway):
            services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, "cancelled")
        self.assertFalse(Evaluation.objects.filter(submission=submission).exists())

    def test_an_unexpected_error_fails_as_the_platforms_fault_without_leaking(self):
        submission = self.submit(prediction_csv(gold_rows(self.benchmark)))
        pairs = hidden_pairs(self.benchmark)
        secret = f"{pairs[0][0]} is {pairs[0][1]}"
        with (
            mock.patch.object(services, "score_split", side_effect=RuntimeError(secret)),
            self.assertLogs("submissions.pipeline", "ERROR") as logs,
        ):
            services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, "failed")
        self.assertTrue(submission.failed_by_platform)
        self.assertNotIn(secret, submission.error)
        self.assertNotIn(secret, "\n".join(logs.output))
        self.assertIn("RuntimeError", "\n".join(logs.output))

    def test_a_file_that_takes_longer_than_the_time_limit_fails_and_is_charged(self):
        from celery.exceptions import SoftTimeLimitExceeded

        submission = self.submit(prediction_csv(gold_rows(self.benchmark)))
        with mock.patch.object(services, "score_split", side_effect=SoftTimeLimitExceeded()):
            services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, "failed")
        self.assertFalse(submission.failed_by_platform)
        self.assertIn("10-minute limit", submission.error)
        self.assertIn("counts towards your quota", submission.error)
