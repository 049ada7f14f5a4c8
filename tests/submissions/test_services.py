from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from submissions.models import Submission
from submissions.services import SubmissionError, submission_cancel, submission_create
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

    def test_cancelling_a_submission_that_never_started_costs_no_quota(self):
        self.benchmark.max_total = 1
        self.benchmark.save()
        submission_cancel(submission=self.create())
        self.create()  # the cancelled one yielded no score: the slot is free again

    def test_cancelling_a_running_submission_uses_quota(self):
        self.benchmark.max_total = 1
        self.benchmark.save()
        first = self.create()
        Submission.objects.filter(pk=first.pk).update(status="running", started_at=timezone.now())
        submission_cancel(submission=first)
        with self.assertRaises(SubmissionError) as caught:
            self.create()
        self.assertEqual(caught.exception.status_code, 429)

    def test_a_refused_upload_leaves_no_stored_file(self):
        self.benchmark.max_total = 1
        self.benchmark.save()
        kept = self.create()
        storage = kept.file.storage
        before = set(storage.listdir(kept.file.name.rsplit("/", 1)[0])[1])
        with self.assertRaises(SubmissionError):
            self.create()
        self.assertEqual(set(storage.listdir(kept.file.name.rsplit("/", 1)[0])[1]), before)
