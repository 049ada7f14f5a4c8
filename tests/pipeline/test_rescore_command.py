from io import StringIO

from django.core.management import call_command
from django.core.management.base import CommandError

from submissions import pipeline as services
from submissions.models import Evaluation
from submissions.services import submission_create
from tests.base import PlatformTestCase, gold_rows, prediction_csv, upload


class RescoreCommandTests(PlatformTestCase):
    def setUp(self):
        self.submission = submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(prediction_csv(gold_rows(self.benchmark), wrong={"test-001"})),
        )
        services.submission_score(submission_id=self.submission.pk)

    def rescore(self, *args) -> str:
        out = StringIO()
        call_command("rescore", *args, stdout=out)
        return out.getvalue()

    def test_it_reports_no_change_when_nothing_changed(self):
        self.assertIn("0 values changed", self.rescore())

    def test_it_reports_and_repairs_a_changed_value(self):
        evaluation = Evaluation.objects.get(submission=self.submission, split=self.test_split)
        evaluation.metrics["accuracy"]["value"] = 0.5  # as if an old metric had a bug
        evaluation.save()

        dry = self.rescore("--dry-run", str(self.submission.pk))
        self.assertIn("test accuracy: 0.5 -> 0.9", dry.replace("sst/", ""))
        evaluation.refresh_from_db()
        self.assertEqual(evaluation.metrics["accuracy"]["value"], 0.5)

        self.assertIn("1 values changed", self.rescore("--benchmark", self.benchmark.slug))
        fixed = Evaluation.objects.get(submission=self.submission, split=self.test_split)
        self.assertAlmostEqual(fixed.metrics["accuracy"]["value"], 0.9)

    def test_it_says_so_when_nothing_matches(self):
        with self.assertRaises(CommandError):
            self.rescore("--benchmark", "nope")
