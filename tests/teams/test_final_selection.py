"""Final selection: a participant or team marks up to N scored submissions as final; the final
board ranks each group's best of those, or its best overall when it marked none."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from submissions.finals import FinalError, submission_select_final
from submissions.leaderboards import leaderboard_build
from submissions.models import Submission
from submissions.teams import invitation_answer, team_create, team_invite
from tests.base import PlatformTestCase, make_scored_submission


class FinalSelectionTests(PlatformTestCase):
    def setUp(self):
        self.benchmark.max_final = 1
        self.benchmark.save()
        self.task = self.benchmark.tasks.get()
        self.split = self.task.splits.get(name="test")

    def score(self, user, accuracy, **fields) -> Submission:
        return make_scored_submission(
            self.benchmark, user, {"test": {"accuracy": accuracy}}, **fields
        )

    def final_board(self) -> list[tuple[int, float]]:
        board = leaderboard_build(task=self.task, split=self.split, show="final")
        return [(row.submission.pk, row.value) for row in board.rows]

    def test_the_final_board_ranks_the_marked_submission_or_the_best_when_none_is(self):
        best = self.score(self.alice, 0.9)
        chosen = self.score(self.alice, 0.7)
        bob = self.score(self.bob, 0.8)
        self.assertEqual(self.final_board(), [(best.pk, 0.9), (bob.pk, 0.8)])
        submission_select_final(submission=chosen, user=self.alice, selected=True)
        self.assertEqual(self.final_board(), [(bob.pk, 0.8), (chosen.pk, 0.7)])
        # The usual board still shows each participant's best.
        usual = leaderboard_build(task=self.task, split=self.split)
        self.assertEqual([r.submission.pk for r in usual.rows], [best.pk, bob.pk])
        submission_select_final(submission=chosen, user=self.alice, selected=False)
        self.assertEqual(self.final_board(), [(best.pk, 0.9), (bob.pk, 0.8)])

    def test_at_most_max_final_are_marked(self):
        first, second = self.score(self.alice, 0.9), self.score(self.alice, 0.7)
        submission_select_final(submission=first, user=self.alice, selected=True)
        with self.assertRaisesMessage(FinalError, "1 submissions are marked as final already"):
            submission_select_final(submission=second, user=self.alice, selected=True)
        self.assertFalse(Submission.objects.get(pk=second.pk).selected_final)

    def test_who_may_mark_and_when(self):
        mine = self.score(self.alice, 0.9)
        with self.assertRaises(FinalError) as refused:
            submission_select_final(submission=mine, user=self.bob, selected=True)
        self.assertEqual(refused.exception.status_code, 403)
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        with self.assertRaisesMessage(FinalError, "Only scored submissions"):
            submission_select_final(submission=queued, user=self.alice, selected=True)
        self.benchmark.closes_at = timezone.now() - dt.timedelta(minutes=1)
        self.benchmark.save()
        mine.benchmark.refresh_from_db()
        with self.assertRaisesMessage(FinalError, "the final selection is fixed"):
            submission_select_final(submission=mine, user=self.alice, selected=True)

    def test_a_team_chooses_together(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        invitation_answer(
            invitation=team_invite(team=team, by=self.alice, who="bob"), user=self.bob, accept=True
        )
        alices = self.score(self.alice, 0.9, team=team)
        bobs = self.score(self.bob, 0.6, team=team)
        submission_select_final(submission=alices, user=self.bob, selected=True)  # a teammate
        with self.assertRaisesMessage(FinalError, "marked as final already"):
            submission_select_final(submission=bobs, user=self.bob, selected=True)
        self.assertEqual(self.final_board(), [(alices.pk, 0.9)])

    def test_the_api_and_the_page_mark_and_show_the_final_board(self):
        chosen = self.score(self.alice, 0.7)
        self.score(self.alice, 0.9)
        url = f"/api/v1/submissions/{chosen.pk}/final/"
        self.assertEqual(  # not signed in
            self.client.post(url, {"final": True}, "application/json").status_code, 401
        )
        self.client.force_login(self.bob)
        answer = self.client.post(url, {"final": True}, content_type="application/json")
        self.assertEqual(answer.status_code, 403)
        self.assertEqual(
            answer.json(),
            {"errors": ["Only its participant or their team choose the final submissions."]},
        )
        self.client.force_login(self.alice)
        answer = self.client.post(url, {"final": "maybe"}, content_type="application/json")
        self.assertEqual(answer.status_code, 400)
        answer = self.client.post(url, {"final": True}, content_type="application/json")
        self.assertEqual(answer.status_code, 200, answer.content)
        self.assertTrue(answer.json()["selected_final"])
        board = self.client.get("/api/v1/benchmarks/sentiment/leaderboard/?split=test&show=final")
        self.assertEqual([r["submission"] for r in board.json()["rows"]], [chosen.pk])
        page = self.client.get(f"/submissions/{chosen.pk}/")
        self.assertContains(page, "Unmark final")
        response = self.client.post(f"/submissions/{chosen.pk}/final/", {"final": "0"}, follow=True)
        self.assertContains(response, "No longer marked as final")
        self.assertFalse(Submission.objects.get(pk=chosen.pk).selected_final)
        page = self.client.get("/b/sentiment/leaderboard/?split=test")
        self.assertContains(page, "final selection")

    def test_show_final_is_refused_where_there_is_no_final_selection(self):
        self.benchmark.max_final = None
        self.benchmark.save()
        answer = self.client.get("/api/v1/benchmarks/sentiment/leaderboard/?show=final")
        self.assertEqual(answer.status_code, 400)
        self.assertIn("no final selection", answer.json()["errors"][0])
