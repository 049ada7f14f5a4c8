"""Teams and phases through a real worker process: two members of a team submit over the API
to a benchmark in its final phase; the worker scores each on that phase's split only; the board
shows the team's best as one row under its name; the team's quota refuses a third with 429.
Runs on whatever DATABASE_URL / CELERY_BROKER_URL say (PostgreSQL + Redis in CI)."""

from __future__ import annotations

import pytest
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from benchmarks.models import Phase
from submissions.models import Submission
from submissions.teams import invitation_answer, team_create, team_invite
from tests.base import gold_rows, make_benchmark, make_user, prediction_csv, upload
from tests.e2e.embedded import wait_until_final

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("scoring_worker")]


class TeamPhaseWorkerTests(TransactionTestCase):
    def test_team_members_submit_to_the_open_phase_and_share_one_row_and_one_quota(self):
        benchmark = make_benchmark(public_rows=12, hidden_rows=8)
        task = benchmark.tasks.get()
        development = Phase.objects.create(benchmark=benchmark, slug="development")
        development.splits.set([task.splits.get(name="dev")])
        final = Phase.objects.create(benchmark=benchmark, slug="final", position=1, max_total=2)
        final.splits.set([task.splits.get(name="test")])
        alice, bob = make_user("alice"), make_user("bob")
        team = team_create(benchmark=benchmark, user=alice, name="owls")
        invitation_answer(
            invitation=team_invite(team=team, by=alice, who="bob"), user=bob, accept=True
        )
        test_rows = [r for r in gold_rows(benchmark) if r["id"].startswith("test-")]
        url = f"/api/v1/benchmarks/{benchmark.slug}/submissions/"

        def submit(user, content: bytes):
            client = APIClient()
            client.credentials(
                HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}"
            )
            return client.post(url, {"file": upload(content), "phase": "final"}, format="multipart")

        wrong = {r["id"] for r in test_rows[:2]}
        ids = [
            submit(alice, prediction_csv(test_rows, wrong=wrong)).json()["id"],
            submit(bob, prediction_csv(test_rows)).json()["id"],
        ]
        for submission_id in ids:
            submission = wait_until_final(submission_id)
            self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
            self.assertEqual(submission.team, team)
            self.assertEqual(submission.phase, final)
            self.assertEqual([e.split.name for e in submission.evaluations.all()], ["test"])
        refused = submit(alice, prediction_csv(test_rows))
        self.assertEqual(refused.status_code, 429)
        self.assertIn("Your team 'owls' has used all 2", refused.json()["errors"][0])
        board = APIClient().get(f"/api/v1/benchmarks/{benchmark.slug}/leaderboard/?split=test")
        rows = [r for r in board.json()["rows"] if not r["is_baseline"]]
        self.assertEqual([(r["team"], r["submission"]) for r in rows], [("owls", ids[1])])
        self.assertEqual(rows[0]["metrics"]["accuracy"]["value"], 1.0)
