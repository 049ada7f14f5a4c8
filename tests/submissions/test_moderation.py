"""Moderation with reasons: authors hide, disqualify or mark a submission as a baseline in the
admin with a reason its participant is shown (and its benchmark's maintainers and reviewers,
nobody else); they rescore selected submissions and export their participants as CSV, which
holds aggregates only."""

from __future__ import annotations

import csv
import io
from unittest import mock

from django.template.loader import render_to_string
from django.urls import reverse

from submissions import pipeline
from submissions.models import Evaluation, Submission
from submissions.services import submission_create
from submissions.tasks import rescore_submission
from tests.base import (
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_scored_submission,
    make_user,
    prediction_csv,
    upload,
)
from tests.test_admin import AdminTestCase

REASON = "Trained on the test inputs (see the rules, section 3)."
PUBLISH = "submissions.tasks.rescore_submission.apply_async"


class ModerationTestCase(AdminTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.reviewer = make_user("rita")
        cls.benchmark.reviewers.add(cls.reviewer)
        # On the boards (a baseline is), so that everyone may read its page.
        cls.baseline = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.6}},
            is_baseline=True,
            moderation_reason=REASON,
        )
        cls.disqualified = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.99}},
            is_disqualified=True,
            moderation_reason=REASON,
        )

    def change(self, submission, **data):
        fields = {"evaluations-TOTAL_FORMS": "0", "evaluations-INITIAL_FORMS": "0", **data}
        return self.client.post(self.url(Submission, "change", submission.pk), fields)

    def act(self, action: str, submissions: list[Submission]):
        data = {"action": action, "_selected_action": [s.pk for s in submissions]}
        return self.client.post(self.url(Submission), data)


class ReasonShownTests(ModerationTestCase):
    def detail(self, submission):
        return self.client.get(reverse("api-submission-detail", args=[submission.pk]))

    def test_the_owner_maintainers_and_reviewers_read_the_reason(self):
        for user in (self.alice, self.author, self.reviewer, self.staff):
            with self.subTest(user=user.username):
                self.client.force_login(user)
                self.assertEqual(self.detail(self.baseline).json()["moderation_reason"], REASON)
                self.assertEqual(self.detail(self.disqualified).json()["moderation_reason"], REASON)

    def test_others_who_see_the_submission_do_not_read_the_reason(self):
        self.assertIsNone(self.detail(self.baseline).json()["moderation_reason"])
        self.client.force_login(self.bob)
        self.assertIsNone(self.detail(self.baseline).json()["moderation_reason"])
        self.assertNotIn(REASON, self.detail(self.baseline).content.decode())
        # Off the boards: not seen at all.
        self.assertEqual(self.detail(self.disqualified).status_code, 404)

    def test_the_owners_list_carries_the_reason(self):
        self.client.force_login(self.alice)
        rows = self.client.get(reverse("api-submission-list")).json()["submissions"]
        reasons = {row["id"]: row["moderation_reason"] for row in rows}
        self.assertEqual(reasons[self.disqualified.pk], REASON)
        self.assertEqual(reasons[self.mine.pk], "")


class ModerationNoticeTests(ModerationTestCase):
    def render(self, submission, *, is_insider: bool) -> str:
        context = {"submission": submission, "is_insider": is_insider}
        return render_to_string("submissions/_moderation_notice.html", context)

    def test_it_tells_the_participant_why(self):
        html = self.render(self.disqualified, is_insider=True)
        self.assertIn("<strong>Disqualified</strong>: " + REASON, html)
        self.assertIn("not on the leaderboard", html)
        self.disqualified.is_disqualified, self.disqualified.is_hidden = False, True
        html = self.render(self.disqualified, is_insider=True)
        self.assertIn("<strong>Hidden by the benchmark's authors</strong>: " + REASON, html)
        self.assertIn(
            "<strong>Marked as a baseline</strong>", self.render(self.baseline, is_insider=True)
        )

    def test_others_see_the_flag_but_not_the_reason(self):
        html = self.render(self.baseline, is_insider=False)
        self.assertIn("<strong>Marked as a baseline</strong>.", html)
        self.assertNotIn(REASON, html)

    def test_nothing_for_a_submission_without_flags(self):
        self.assertEqual(self.render(self.mine, is_insider=True).strip(), "")

    def test_the_reason_is_escaped(self):
        self.baseline.moderation_reason = "<script>alert(1)</script>"
        html = self.render(self.baseline, is_insider=True)
        self.assertNotIn("<script>", html)
        self.assertIn("&lt;script&gt;", html)


class ModerationAdminTests(ModerationTestCase):
    def test_an_author_writes_the_reason_next_to_the_flags(self):
        self.client.force_login(self.author)
        response = self.change(self.mine, is_hidden="on", moderation_reason=REASON)
        self.assertEqual(response.status_code, 302)
        self.mine.refresh_from_db()
        self.assertTrue(self.mine.is_hidden)
        self.assertEqual(self.mine.moderation_reason, REASON)

    def test_another_author_cannot_write_a_reason(self):
        self.client.force_login(self.rival)
        self.change(self.mine, moderation_reason=REASON)
        self.mine.refresh_from_db()
        self.assertEqual(self.mine.moderation_reason, "")


class RescoreActionTests(ModerationTestCase):
    def test_it_queues_a_rescore_of_each_scored_submission_selected(self):
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.bob)
        self.client.force_login(self.author)
        with (
            mock.patch(PUBLISH) as publish,
            self.captureOnCommitCallbacks(execute=True),
        ):
            response = self.act("rescore", [self.mine, self.baseline, queued])
        self.assertEqual(response.status_code, 302)
        published = sorted(call.kwargs["args"][0] for call in publish.call_args_list)
        self.assertEqual(published, sorted([self.mine.pk, self.baseline.pk]))
        self.assertEqual(publish.call_args.kwargs["queue"], "scoring")

    def test_an_author_cannot_rescore_another_authors_submissions(self):
        self.client.force_login(self.author)
        with mock.patch(PUBLISH) as publish, self.captureOnCommitCallbacks(execute=True):
            self.act("rescore", [self.theirs])
        publish.assert_not_called()

    def test_participants_cannot_use_the_action(self):
        self.client.force_login(self.alice)
        with mock.patch(PUBLISH) as publish, self.captureOnCommitCallbacks(execute=True):
            self.assertEqual(self.act("rescore", [self.mine]).status_code, 302)
        publish.assert_not_called()

    def test_the_job_recomputes_the_scores_from_the_stored_file(self):
        submission = submission_create(
            benchmark=self.benchmark,
            participant=self.bob,
            uploaded_file=upload(prediction_csv(gold_rows(self.benchmark), wrong={"test-001"})),
        )
        pipeline.submission_score(submission_id=submission.pk)
        evaluation = Evaluation.objects.get(submission=submission, split=self.test_split)
        evaluation.metrics["accuracy"]["value"] = 0.5  # as if an old metric had a bug
        evaluation.save()

        rescore_submission(submission.pk)
        fixed = Evaluation.objects.get(submission=submission, split=self.test_split)
        self.assertAlmostEqual(fixed.value("accuracy"), 0.9)

    def test_the_job_leaves_a_submission_that_is_not_scored(self):
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.bob)
        rescore_submission(queued.pk)
        queued.refresh_from_db()
        self.assertEqual(queued.status, Submission.Status.QUEUED)


class ParticipantsExportTests(ModerationTestCase):
    def export(self, submissions) -> list[dict]:
        response = self.act("export_participants", submissions)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv; charset=utf-8")
        assert_no_hidden_labels(self, response.content, hidden_pairs(self.benchmark))
        self.assertNotIn("zz-label", response.content.decode())
        return list(csv.DictReader(io.StringIO(response.content.decode())))

    def test_one_row_per_participant_with_their_best_score(self):
        self.alice.email = "alice@example.org"
        self.alice.save()
        # Ranked on the task's board split (here the hidden `test`), as the board ranks.
        for accuracy in (0.7, 0.95, 0.8):
            make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": accuracy}})
        make_scored_submission(self.benchmark, self.bob, {"dev": {"accuracy": 0.4}})
        self.client.force_login(self.author)
        rows = self.export(Submission.objects.filter(benchmark=self.benchmark))
        self.assertEqual([row["username"] for row in rows], ["alice", "bob"])
        alice, bob = rows
        self.assertEqual(alice["submissions"], "6")
        self.assertEqual(alice["team"], "")  # on her own
        self.assertEqual(float(alice["sst/test best accuracy"]), 0.95)
        self.assertEqual(bob["sst/test best accuracy"], "")
        self.assertLessEqual(alice["first_submission"], alice["last_submission"])
        # Authors are staff, but only platform operators get e-mail addresses.
        self.assertNotIn("email", alice)
        self.assertNotIn("alice@example.org", str(rows))

    def test_platform_operators_get_e_mail_addresses(self):
        self.alice.email = "alice@example.org"
        self.alice.save()
        self.client.force_login(self.root)
        rows = self.export([self.mine])
        self.assertEqual(rows[0]["email"], "alice@example.org")

    def test_it_exports_one_benchmark_at_a_time(self):
        self.client.force_login(self.root)
        response = self.act("export_participants", [self.mine, self.theirs])
        self.assertEqual(response.status_code, 302)
        self.assertNotIn("text/csv", response.get("Content-Type", ""))

    def test_an_author_exports_only_their_benchmarks_submissions(self):
        self.client.force_login(self.author)
        rows = self.export([self.mine, self.theirs])
        self.assertEqual([row["username"] for row in rows], ["alice"])

    def test_anonymous_visitors_get_nothing(self):
        self.client.logout()
        response = self.act("export_participants", [self.mine])
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])
