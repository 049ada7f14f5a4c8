"""Two members of a team race for the team's last quota slot: exactly one wins. Real threads,
each with its own database connection; in CI on PostgreSQL, where each upload takes its
submitter's row lock and then the team's (on SQLite, its write lock)."""

import contextlib
import threading
from unittest import mock

from django.db import connection
from django.test import TransactionTestCase

from submissions import services
from submissions.models import Submission
from submissions.services import SubmissionError, submission_create
from submissions.teams import invitation_answer, team_create, team_invite
from tests.base import gold_rows, make_benchmark, make_user, prediction_csv, upload
from tests.submissions.test_quota_race import uploads_race


class TeamLastSlotRaceTests(TransactionTestCase):
    def setUp(self):
        publish = mock.patch("submissions.tasks.score_submission.apply_async")
        publish.start()
        self.addCleanup(publish.stop)
        self.benchmark = make_benchmark(max_total=3)
        self.members = [make_user(name) for name in ("alice", "bob", "carol", "dan")]
        self.team = team_create(benchmark=self.benchmark, user=self.members[0], name="owls")
        for member in self.members[1:]:
            invitation = team_invite(team=self.team, by=self.members[0], who=member.username)
            invitation_answer(invitation=invitation, user=member, accept=True)
        self.content = prediction_csv(gold_rows(self.benchmark))

    def race(self, members) -> tuple[list[Submission], list[SubmissionError]]:
        won, refused, crashed = uploads_race(self.benchmark, members, self.content)
        self.assertEqual(crashed, [])
        return won, refused

    def test_two_members_at_once_for_the_last_slot_exactly_one_wins(self):
        for member in self.members[:2]:
            submission_create(
                benchmark=self.benchmark, participant=member, uploaded_file=upload(self.content)
            )
        # Make the race certain: a quota count inside the locked transaction waits (up to 3 s)
        # for the other member's count there. With the team's lock the other member is still
        # waiting for the lock, so the wait runs out and the first goes on alone; without it,
        # both would count the same free slot and both would take it.
        real, gate = services.submission_quota, threading.Barrier(2, timeout=3)

        def counted_together(**kwargs):
            quota = real(**kwargs)
            if connection.in_atomic_block:
                with contextlib.suppress(threading.BrokenBarrierError):
                    gate.wait()
            return quota

        with mock.patch.object(services, "submission_quota", counted_together):
            won, refused = self.race(self.members[2:])
        self.assertEqual(len(won), 1)
        self.assertEqual(len(refused), 1)
        self.assertEqual(refused[0].status_code, 429)
        self.assertIn("Your team 'owls' has used all 3", str(refused[0]))
        self.assertEqual(Submission.objects.filter(team=self.team).count(), 3)

    def test_four_members_at_once_fill_the_quota_and_no_more(self):
        won, refused = self.race(self.members)
        self.assertEqual((len(won), len(refused)), (3, 1))
        self.assertEqual(Submission.objects.filter(benchmark=self.benchmark).count(), 3)
