"""The e-mail a participant gets when a submission of theirs is scored or fails
(submissions/notifications.py), sent after the commit that records the outcome."""

from smtplib import SMTPException
from unittest import mock

from django.core import mail
from django.test import override_settings

from accounts.models import Profile
from benchmarks.models import Split
from submissions import pipeline
from submissions.models import Evaluation, Submission
from submissions.services import submission_create
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    prediction_csv,
    upload,
)
from tests.test_settings import SettingsTestCase

ADDRESS = "alice@example.org"


class ResultEmailTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice.email = ADDRESS
        cls.alice.save(update_fields=["email"])

    def running(self, **fields) -> Submission:
        """A submission a worker holds (claim 1)."""
        return Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.alice,
            name="my best run",
            status=Submission.Status.RUNNING,
            claims=1,
            **fields,
        )

    def evaluations(self, submission, values: dict[str, float]) -> list[Evaluation]:
        return [
            Evaluation(
                submission=submission,
                task=self.task,
                split=self.task.splits.get(name=name),
                metrics={"accuracy": {"value": value, "ci": None}},
            )
            for name, value in values.items()
        ]

    def record(self, submission, values=None) -> bool:
        evaluations = self.evaluations(submission, values or {"dev": 0.8125, "test": 0.6875})
        with self.captureOnCommitCallbacks(execute=True):
            return pipeline.submission_record(
                submission_id=submission.pk, claim=1, evaluations=evaluations
            )

    def fail_run(self, submission, message="2 ids are missing.", **kwargs) -> bool:
        with self.captureOnCommitCallbacks(execute=True):
            return pipeline.submission_fail(
                submission_id=submission.pk, message=message, claim=1, **kwargs
            )

    # Scored

    def test_a_scored_submission_is_mailed_with_its_primary_scores_and_its_page(self):
        submission = self.running()
        self.assertTrue(self.record(submission))
        self.assertEqual(len(mail.outbox), 1)
        sent = mail.outbox[0]
        self.assertEqual(sent.to, [ADDRESS])
        self.assertEqual(sent.from_email, "Benchmark platform <noreply@localhost>")
        self.assertEqual(sent.subject, 'Sentiment: "my best run" is scored')
        self.assertIn('your submission "my best run"', sent.body)
        self.assertIn("to the benchmark Sentiment is scored", sent.body)
        self.assertIn("sst / dev: Accuracy 0.812", sent.body)
        self.assertIn("sst / test: Accuracy 0.688", sent.body)
        self.assertIn(f"http://127.0.0.1:8000/submissions/{submission.pk}/", sent.body)
        self.assertIn("http://127.0.0.1:8000/accounts/profile/", sent.body)

    @override_settings(SITE_URL="https://bench.example.org")
    def test_links_are_built_from_the_site_url(self):
        submission = self.running()
        self.record(submission)
        self.assertIn(
            f"https://bench.example.org/submissions/{submission.pk}/", mail.outbox[0].body
        )

    def test_scores_withheld_until_the_close_are_not_mailed(self):
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        self.record(self.running())
        body = mail.outbox[0].body
        self.assertIn("sst / dev: Accuracy 0.812", body)
        self.assertIn("sst / test: revealed after the benchmark closes", body)
        self.assertNotIn("0.688", body)

    def test_it_is_sent_only_once_the_result_is_committed(self):
        submission = self.running()
        evaluations = self.evaluations(submission, {"dev": 0.5})
        with self.captureOnCommitCallbacks() as callbacks:
            pipeline.submission_record(
                submission_id=submission.pk, claim=1, evaluations=evaluations
            )
            self.assertEqual(mail.outbox, [])
        self.assertEqual(mail.outbox, [])
        for callback in callbacks:
            callback()
        self.assertEqual(len(mail.outbox), 1)

    def test_a_run_that_lost_its_claim_records_nothing_and_sends_nothing(self):
        submission = self.running()
        Submission.objects.filter(pk=submission.pk).update(claims=2)
        self.assertFalse(self.record(submission))
        self.assertFalse(self.fail_run(submission))
        self.assertEqual(mail.outbox, [])

    # Failed

    def test_a_failed_submission_is_mailed_with_its_error(self):
        submission = self.running()
        self.assertTrue(self.fail_run(submission, '2 ids are missing, e.g. "test-001".'))
        sent = mail.outbox[0]
        self.assertEqual(sent.subject, 'Sentiment: "my best run" failed')
        self.assertIn('2 ids are missing, e.g. "test-001".', sent.body)
        self.assertNotIn("Accuracy", sent.body)
        self.assertNotIn("platform's fault", sent.body)
        self.assertIn(f"/submissions/{submission.pk}/", sent.body)

    def test_a_failure_of_the_platform_says_it_costs_no_quota(self):
        self.fail_run(
            self.running(), "Scoring failed because of an internal error.", by_platform=True
        )
        self.assertIn("does not count towards your quota", mail.outbox[0].body)

    def test_a_cancelled_submission_is_not_mailed(self):
        submission = self.running()
        Submission.objects.filter(pk=submission.pk).update(status=Submission.Status.CANCELLED)
        self.assertFalse(self.fail_run(submission))
        self.assertEqual(mail.outbox, [])

    # Who gets one

    def test_a_participant_who_opted_out_gets_none(self):
        Profile.objects.create(user=self.alice, email_on_result=False)
        self.record(self.running())
        self.fail_run(self.running())
        self.assertEqual(mail.outbox, [])

    def test_a_participant_without_an_address_or_an_active_account_gets_none(self):
        self.alice.email = ""
        self.alice.save(update_fields=["email"])
        self.record(self.running())
        self.alice.email, self.alice.is_active = ADDRESS, False
        self.alice.save(update_fields=["email", "is_active"])
        self.fail_run(self.running())
        self.assertEqual(mail.outbox, [])

    def test_a_name_with_a_line_break_still_makes_a_one_line_subject(self):
        submission = self.running()
        Submission.objects.filter(pk=submission.pk).update(name="two\nlines")
        self.record(submission)
        self.assertEqual(mail.outbox[0].subject, 'Sentiment: "two lines" is scored')

    # Never a leak, never a failed job

    def test_the_whole_scoring_job_mails_no_hidden_label(self):
        rows = gold_rows(self.benchmark)
        submission = submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(prediction_csv(rows, wrong={"test-001", "dev-002"})),
            name="real run",
        )
        with self.captureOnCommitCallbacks(execute=True):
            pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
        self.assertEqual(len(mail.outbox), 1)
        body = mail.outbox[0].body
        self.assertIn("sst / test: Accuracy 0.900", body)
        assert_no_hidden_labels(self, body, hidden_pairs(self.benchmark))
        for row_id, _ in hidden_pairs(self.benchmark):
            self.assertNotIn(row_id, body)

    def test_a_mail_that_cannot_be_sent_is_logged_by_type_and_the_job_goes_on(self):
        rows = gold_rows(self.benchmark)
        submission = submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(prediction_csv(rows)),
        )
        refused = SMTPException(f"550 {ADDRESS} refused")
        with (
            mock.patch("submissions.notifications.send_mail", side_effect=refused),
            self.assertLogs("submissions.notifications", "WARNING") as logs,
            self.captureOnCommitCallbacks(execute=True),
        ):
            pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, Submission.Status.SCORED)
        self.assertEqual(len(logs.output), 1)
        self.assertIn("SMTPException", logs.output[0])
        self.assertNotIn(ADDRESS, logs.output[0])

    def test_a_failure_mail_that_cannot_be_sent_leaves_the_failure_recorded(self):
        submission = self.running()
        with (
            mock.patch("submissions.notifications.send_mail", side_effect=OSError("refused")),
            self.assertLogs("submissions.notifications", "WARNING"),
        ):
            self.assertTrue(self.fail_run(submission))
        submission.refresh_from_db()
        self.assertEqual(submission.status, Submission.Status.FAILED)


class SiteUrlSettingTests(SettingsTestCase):
    """Links in these mails are built from SITE_URL: a value that is no address stops start-up."""

    READ = ["-c", "from django.conf import settings; print(settings.SITE_URL)"]

    def test_it_defaults_to_the_local_server_and_drops_a_trailing_slash(self):
        self.assertEqual(self.run_python(self.READ, {}).stdout.strip(), "http://127.0.0.1:8000")
        done = self.run_python(self.READ, {"SITE_URL": "https://bench.example.org/"})
        self.assertEqual(done.stdout.strip(), "https://bench.example.org")

    def test_a_value_that_is_not_an_address_stops_start_up(self):
        for value in ("bench.example.org", "https://bench.example.org/bench", "ftp://x"):
            done = self.run_python(self.READ, {"SITE_URL": value})
            self.assertNotEqual(done.returncode, 0, value)
            self.assertIn("SITE_URL", done.stderr)
