"""Teams: create, invite by username or e-mail, accept or decline, leave; one team per user per
benchmark; submissions made for the team, sharing its quota and one board row; earlier own
submissions brought in on joining."""

from unittest import mock

from django.core import mail
from django.db import IntegrityError, transaction

from benchmarks.authors import author_grant
from submissions.admin import participants_table
from submissions.board_entries import board_entries, entries_rebuild
from submissions.leaderboards import leaderboard_build
from submissions.models import TEAM_GROUPS, BoardEntry, Submission, Team, TeamMember
from submissions.services import SubmissionError, submission_create, submission_quota
from submissions.teams import (
    TeamError,
    invitation_answer,
    invitations_for,
    team_create,
    team_invite,
    team_leave,
    team_of,
)
from tests.base import (
    PlatformTestCase,
    gold_rows,
    make_benchmark,
    make_scored_submission,
    make_user,
    prediction_csv,
    upload,
)


class TeamLifeTests(PlatformTestCase):
    def setUp(self):
        publish = mock.patch("submissions.tasks.score_submission.apply_async")
        publish.start()
        self.addCleanup(publish.stop)

    def test_create_invite_by_username_accept_and_leave(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="  Night   Owls ")
        self.assertEqual(team.name, "Night Owls")
        self.assertEqual(team_of(benchmark=self.benchmark, user=self.alice), team)
        invitation = team_invite(team=team, by=self.alice, who="BOB")  # any case
        self.assertEqual(invitation.user, self.bob)
        self.assertEqual(list(invitations_for(user=self.bob)), [invitation])
        invitation_answer(invitation=invitation, user=self.bob, accept=True)
        self.assertEqual(team_of(benchmark=self.benchmark, user=self.bob), team)
        self.assertEqual(list(invitations_for(user=self.bob)), [])
        team_leave(team=team, user=self.bob)
        self.assertIsNone(team_of(benchmark=self.benchmark, user=self.bob))

    def test_invite_by_email_reaches_a_later_account_with_that_address(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        invitation = team_invite(team=team, by=self.alice, who="Carol@Example.org")
        self.assertIsNone(invitation.user)
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["carol@example.org"])
        self.assertIn("/b/sentiment/team/", mail.outbox[0].body)
        carol = make_user("carol", email="carol@example.org")
        self.assertEqual(list(invitations_for(user=carol, benchmark=self.benchmark)), [invitation])
        # Nobody else may answer it.
        with self.assertRaises(TeamError) as refused:
            invitation_answer(invitation=invitation, user=self.bob, accept=True)
        self.assertEqual(refused.exception.status_code, 403)
        invitation_answer(invitation=invitation, user=carol, accept=True)
        self.assertEqual(team_of(benchmark=self.benchmark, user=carol), team)
        with self.assertRaises(TeamError):  # answered once
            invitation_answer(invitation=invitation, user=carol, accept=False)

    def test_an_unknown_username_is_refused_by_name(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        with self.assertRaisesMessage(TeamError, "No participant is called 'nobody'"):
            team_invite(team=team, by=self.alice, who="nobody")

    def test_one_team_per_user_per_benchmark_and_unique_names(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        with self.assertRaisesMessage(TeamError, "already in a team"):
            team_create(benchmark=self.benchmark, user=self.alice, name="larks")
        with self.assertRaisesMessage(TeamError, "already exists"):
            team_create(benchmark=self.benchmark, user=self.bob, name="OWLS")
        larks = team_create(benchmark=self.benchmark, user=self.bob, name="larks")
        with self.assertRaisesMessage(TeamError, "already in a team"):
            team_invite(team=larks, by=self.bob, who="alice")
        # The database holds the rule too, whatever a caller does.
        with self.assertRaises(IntegrityError), transaction.atomic():
            TeamMember.objects.create(team=larks, benchmark=self.benchmark, user=self.alice)
        self.assertEqual(team.members.count(), 1)

    def test_a_team_on_one_benchmark_is_none_on_another(self):
        other = make_benchmark("other")
        team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        self.assertIsNone(team_of(benchmark=other, user=self.alice))
        team_create(benchmark=other, user=self.alice, name="owls")  # same name, other benchmark

    def test_only_members_invite(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        with self.assertRaises(TeamError) as refused:
            team_invite(team=team, by=self.bob, who="alice")
        self.assertEqual(refused.exception.status_code, 403)

    def test_a_member_who_submitted_for_the_team_cannot_leave(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(prediction_csv(gold_rows(self.benchmark))),
        )
        with self.assertRaisesMessage(TeamError, "you stay in it"):
            team_leave(team=team, user=self.alice)

    def test_submissions_are_made_for_the_team_and_share_its_quota(self):
        self.benchmark.max_total = 3
        self.benchmark.save()
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        invitation_answer(
            invitation=team_invite(team=team, by=self.alice, who="bob"), user=self.bob, accept=True
        )
        content = prediction_csv(gold_rows(self.benchmark))
        made = [
            submission_create(
                benchmark=self.benchmark, participant=who, uploaded_file=upload(content)
            )
            for who in (self.alice, self.bob, self.alice)
        ]
        self.assertEqual({s.team for s in made}, {team})
        quota = submission_quota(benchmark=self.benchmark, participant=self.bob, team=team)
        self.assertEqual(quota.total, 0)
        with self.assertRaises(SubmissionError) as refused:
            submission_create(
                benchmark=self.benchmark, participant=self.bob, uploaded_file=upload(content)
            )
        self.assertEqual(refused.exception.status_code, 429)
        self.assertIn("Your team 'owls' has used all 3", str(refused.exception))
        self.client.force_login(self.bob)
        self.assertContains(self.client.get("/submissions/"), "for owls")

    def test_joining_brings_ones_submissions_and_respects_the_teams_total(self):
        self.benchmark.max_total = 2
        self.benchmark.save()
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        content = prediction_csv(gold_rows(self.benchmark))
        submission_create(
            benchmark=self.benchmark, participant=self.alice, uploaded_file=upload(content)
        )
        for _ in range(2):
            submission_create(
                benchmark=self.benchmark, participant=self.bob, uploaded_file=upload(content)
            )
        invitation = team_invite(team=team, by=self.alice, who="bob")
        with self.assertRaisesMessage(TeamError, "over the limit of 2"):
            invitation_answer(invitation=invitation, user=self.bob, accept=True)
        # Refused whole: bob is in no team and his submissions are his own.
        self.assertIsNone(team_of(benchmark=self.benchmark, user=self.bob))
        self.assertFalse(Submission.objects.filter(participant=self.bob, team=team).exists())


class TeamBoardTests(PlatformTestCase):
    def test_the_board_shows_one_row_per_team_with_its_name(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        carol = make_user("carol")
        make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 0.6}}, team=team)
        best = make_scored_submission(
            self.benchmark, self.bob, {"test": {"accuracy": 0.8}}, team=team
        )
        make_scored_submission(self.benchmark, carol, {"test": {"accuracy": 0.7}})
        task = self.benchmark.tasks.get()
        split = task.splits.get(name="test")
        board = leaderboard_build(task=task, split=split)
        self.assertEqual([r.submission.pk for r in board.rows][0], best.pk)
        self.assertEqual(len(board.rows), 2)  # owls (best of 2), carol
        entries, _, total = board_entries(
            split=split, metric="accuracy", baselines=True, start=0, size=10
        )
        self.assertEqual(total, 2)
        self.assertEqual(entries[0].group, TEAM_GROUPS + team.pk)
        self.assertEqual(entries[0].submission_id, best.pk)
        # A rebuild gives what upkeep kept.
        kept = set(BoardEntry.objects.values_list("split", "metric", "group", "submission"))
        entries_rebuild()
        self.assertEqual(
            set(BoardEntry.objects.values_list("split", "metric", "group", "submission")), kept
        )
        page = self.client.get("/b/sentiment/leaderboard/?split=test")
        self.assertContains(page, "owls")
        self.assertContains(page, "badge-team")
        api = self.client.get("/api/v1/benchmarks/sentiment/leaderboard/?split=test").json()
        self.assertEqual(api["rows"][0]["team"], "owls")
        self.assertIsNone(api["rows"][1]["team"])

    def test_joining_moves_ones_board_row_into_the_team(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        mine = make_scored_submission(self.benchmark, self.bob, {"test": {"accuracy": 0.9}})
        split = self.benchmark.tasks.get().splits.get(name="test")
        groups = lambda: set(  # noqa: E731
            BoardEntry.objects.filter(split=split, metric="accuracy").values_list(
                "group", "submission"
            )
        )
        self.assertEqual(groups(), {(self.bob.pk, mine.pk)})
        invitation_answer(
            invitation=team_invite(team=team, by=self.alice, who="bob"), user=self.bob, accept=True
        )
        self.assertEqual(groups(), {(TEAM_GROUPS + team.pk, mine.pk)})
        self.assertEqual(Team.objects.get().submissions.get(), mine)


class TeamAdminTests(PlatformTestCase):
    def test_authors_see_their_benchmarks_teams_and_members_and_change_nothing(self):
        team = team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        other = make_benchmark("other")
        team_create(benchmark=other, user=self.bob, name="larks")
        author_grant(self.author)
        self.benchmark.maintainers.add(self.author)
        self.client.force_login(self.author)
        listing = self.client.get("/admin/submissions/team/")
        self.assertContains(listing, "owls")
        self.assertNotContains(listing, "larks")
        page = self.client.get(f"/admin/submissions/team/{team.pk}/change/")
        self.assertContains(page, "alice")
        self.client.post(f"/admin/submissions/team/{team.pk}/change/", {"name": "renamed"})
        self.assertEqual(Team.objects.get(pk=team.pk).name, "owls")
        self.assertEqual(
            self.client.get(f"/admin/submissions/team/{team.pk}/delete/").status_code, 403
        )

    def test_the_participants_export_names_each_ones_team(self):
        team_create(benchmark=self.benchmark, user=self.alice, name="owls")
        make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 0.5}})
        make_scored_submission(self.benchmark, self.bob, {"test": {"accuracy": 0.6}})
        rows = participants_table(
            Submission.objects.filter(benchmark=self.benchmark),
            benchmark=self.benchmark,
            with_email=False,
        )
        self.assertEqual(
            [row[:2] for row in rows], [["username", "team"], ["alice", "owls"], ["bob", ""]]
        )
