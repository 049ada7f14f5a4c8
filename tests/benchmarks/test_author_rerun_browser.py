"""An author changes a task's slices in a real Chromium and re-runs the scored submissions: the
slices are edited through the structured editor (django-jsonform) of the task's admin page and
saved as entered; the submissions admin's action "Re-run selected submissions (rescore)"
publishes one rescoring job per scored submission once the request commits and says so on the
page. There is no Celery worker here: the published jobs are recorded (the task's
`apply_async`, patched in this test only) and run in the test, after which each evaluation
carries a breakdown by the new slice. Screenshots go to var/screenshots/authors/ (git-ignored
with var/)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings

from submissions import pipeline
from submissions.models import Evaluation, Submission
from submissions.services import submission_create
from submissions.tasks import rescore_submission, score_submission
from tests.base import gold_rows, make_user, prediction_csv, upload
from tests.benchmarks.test_author_browser import (  # noqa: F401 (chromium_browser: a fixture)
    AdminBrowserTestCase,
    chromium_browser,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ACTION = "Re-run selected submissions (rescore)"
# The slice the author adds: a second breakdown over the metadata column `topic`.
NEW_SLICE = {"name": "subject", "column": "topic"}


class RerunBrowserTests(AdminBrowserTestCase):
    benchmark_slug = "rerun"

    def scored(self, username: str, wrong: set[str]) -> Submission:
        """A submission scored for real from a stored prediction file (the scoring job run
        here, not published), so that a rescore has a file to read."""
        participant = make_user(username)
        content = prediction_csv(gold_rows(self.benchmark), wrong=wrong)
        with mock.patch.object(score_submission, "apply_async"):
            submission = submission_create(
                benchmark=self.benchmark, participant=participant, uploaded_file=upload(content)
            )
        pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.SCORED, submission.error
        return submission

    def slice_names(self, submission: Submission) -> dict[str, set[str]]:
        """{split: the slices its evaluation has cells of (the task's, and the platform's own
        by gold and predicted label)}."""
        return {
            evaluation.split.name: {cell["slice"] for cell in evaluation.slices}
            for evaluation in Evaluation.objects.filter(submission=submission)
        }

    def test_an_author_adds_a_slice_and_reruns_the_scored_submissions(self):
        self.log_in()
        page = self.page
        folder = Path(settings.BASE_DIR) / "var/screenshots/authors"
        folder.mkdir(parents=True, exist_ok=True)
        submissions = [
            self.scored("alice", wrong=set()),
            self.scored("bob", wrong={"dev-001", "test-002", "test-005"}),
        ]
        queued = Submission.objects.create(
            benchmark=self.benchmark, participant=submissions[0].participant
        )
        for submission in submissions:
            names = self.slice_names(submission)
            self.assertEqual(set(names), {"dev", "test"})
            for split_slices in names.values():
                self.assertIn("topic", split_slices)
                self.assertNotIn(NEW_SLICE["name"], split_slices)
        scores_before = {
            (e.submission_id, e.split_id): e.metrics
            for e in Evaluation.objects.filter(submission__in=submissions)
        }

        # The slices, through the structured editor: a second slice over `topic`.
        page.goto(f"{self.live_server_url}/admin/benchmarks/task/{self.task.pk}/change/")
        slices = page.locator(".field-slices")
        assert slices.locator(".rjf-form-wrapper, .rjf-form").count() >= 1
        slices.get_by_role("button", name="Add item").last.click()
        slices.locator("input[name$='§1§name']").fill(NEW_SLICE["name"])
        slices.locator("input[name$='§1§column']").fill(NEW_SLICE["column"])
        page.screenshot(path=str(folder / "rerun-slices-edited.png"), full_page=True)
        page.locator("input[name=_continue]").click()
        page.wait_for_load_state("load")
        assert page.locator(".errornote").count() == 0, page.locator("#content").inner_text()
        self.task.refresh_from_db()
        self.assertEqual(self.task.slices, [{"name": "topic", "column": "topic"}, NEW_SLICE])

        # The submissions of the benchmark, every row selected (the queued one too), re-run.
        page.goto(
            f"{self.live_server_url}/admin/submissions/submission/"
            f"?benchmark__id__exact={self.benchmark.pk}"
        )
        rows = page.locator("input[name=_selected_action]")
        self.assertEqual(rows.count(), 3)
        page.locator("#action-toggle").check()
        page.locator("select[name=action]").select_option(label=ACTION)
        page.screenshot(path=str(folder / "rerun-action-chosen.png"), full_page=True)
        with mock.patch.object(rescore_submission, "apply_async") as publish:
            page.locator("button[name=index]").click()
            page.wait_for_load_state("load")
            message = page.locator(".messagelist").inner_text()
        page.screenshot(path=str(folder / "rerun-action-done.png"), full_page=True)
        self.assertIn(
            "Rescoring 2 submissions: their scores are replaced when it is done.", message
        )
        self.assertIn("1 not scored were left alone.", message)
        published = sorted(call.kwargs["args"][0] for call in publish.call_args_list)
        self.assertEqual(published, sorted(s.pk for s in submissions))
        self.assertEqual({call.kwargs["queue"] for call in publish.call_args_list}, {"scoring"})

        # What a worker would do with the published jobs.
        for submission_id in published:
            rescore_submission.run(submission_id)
        for submission in submissions:
            names = self.slice_names(submission)
            self.assertEqual(set(names), {"dev", "test"})
            for split_slices in names.values():
                self.assertLessEqual({"topic", NEW_SLICE["name"]}, split_slices)
            for evaluation in Evaluation.objects.filter(submission=submission):
                cells = {c["cell"]: c for c in evaluation.slices if c["slice"] == "subject"}
                topic = {c["cell"]: c for c in evaluation.slices if c["slice"] == "topic"}
                # Over the same column: the same cells, counts and scores as `topic`.
                self.assertEqual(set(cells), {"food", "service"})
                for cell, found in cells.items():
                    self.assertEqual(found["n"], topic[cell]["n"])
                    self.assertEqual(found["metrics"], topic[cell]["metrics"])
                # The overall scores are what they were: the file and splits did not change.
                self.assertEqual(
                    evaluation.metrics, scores_before[(submission.pk, evaluation.split_id)]
                )
        queued.refresh_from_db()
        self.assertEqual(queued.status, Submission.Status.QUEUED)
        self.assertFalse(queued.evaluations.exists())

        # The author sees the new breakdown in the admin.
        evaluation = Evaluation.objects.filter(submission=submissions[1]).first()
        page.goto(f"{self.live_server_url}/admin/submissions/evaluation/{evaluation.pk}/change/")
        assert "subject" in page.locator(".field-slices").inner_text()
        page.screenshot(path=str(folder / "rerun-evaluation.png"), full_page=True)
        # The admin's pages link no icon, so Chromium asks for /favicon.ico and logs its 404.
        errors = [e for e in self.errors if "/favicon.ico" not in e]
        assert errors == [], errors
