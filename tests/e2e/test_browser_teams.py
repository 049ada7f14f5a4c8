"""Teams and final selection in a real Chromium: a participant creates a team and invites
another by username, who accepts on their own team page; the team's scored submission shows
under the team's name on the board; a member marks it as final and the final board ranks it.
No console errors; at 390 px the team page does not scroll sideways. Screenshots go where
test_browser_analysis.py puts its own."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from submissions.models import Submission, Team
from tests.base import make_benchmark, make_scored_submission
from tests.e2e.test_browser_analysis import (  # noqa: F401 (chromium_browser: a fixture)
    BrowserTabs,
    chromium_browser,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a-long-team-passphrase-2026"


class BrowserTeamTests(BrowserTabs, StaticLiveServerTestCase):
    def log_in(self, username: str):
        get_user_model().objects.create_user(username, password=PASSWORD)
        tab = self.tab()
        page = tab.goto(self.url("/accounts/login/"))
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_url(self.url("/"))
        return tab

    def test_create_a_team_invite_accept_and_choose_the_final_submission(self):
        benchmark = make_benchmark(max_total=5, max_final=1)
        alice, bob = self.log_in("alice"), self.log_in("bob")

        page = alice.goto(self.url("/b/sentiment/team/"))
        page.fill("#id_name", "Night Owls")
        page.get_by_role("button", name="Create the team").click()
        page.wait_for_load_state("load")
        self.assertIn("Team Night Owls", page.locator("main h1").inner_text())
        page.fill("#id_who", "bob")
        page.get_by_role("button", name="Invite").click()
        page.wait_for_load_state("load")
        self.assertIn("bob is invited", page.locator("main").inner_text())
        self.assertIn("bob", page.locator(".team-invited").inner_text())
        alice.capture("team-page")
        alice.assert_clean()

        page = bob.goto(self.url("/b/sentiment/team/"))
        self.assertIn("invites you to the team Night Owls", page.locator("main").inner_text())
        page.get_by_role("button", name="Accept").click()
        page.wait_for_load_state("load")
        self.assertIn("You joined the team Night Owls", page.locator("main").inner_text())
        members = page.locator(".team-members li").all_inner_texts()
        self.assertEqual([m.split()[0] for m in members], ["alice", "bob"])
        page = bob.goto(self.url("/b/sentiment/submit/"))
        self.assertIn("Your team's quota", page.locator("main").inner_text())
        self.assertIn("You submit for the team Night Owls", page.locator("main").inner_text())
        bob.assert_clean()

        team = Team.objects.get()
        user = get_user_model().objects.get(username="bob")
        weaker = make_scored_submission(benchmark, user, {"test": {"accuracy": 0.6}}, team=team)
        make_scored_submission(benchmark, user, {"test": {"accuracy": 0.9}}, team=team)
        page = alice.goto(self.url("/b/sentiment/leaderboard/?split=test"))
        rows = page.locator("table.leaderboard tbody tr, .board-table tbody tr")
        self.assertIn("Night Owls", page.locator("main").inner_text())
        self.assertGreaterEqual(rows.count(), 1)
        # A teammate marks bob's weaker submission as final: the final board ranks it.
        page = alice.goto(self.url(f"/submissions/{weaker.pk}/"))
        page.get_by_role("button", name="Mark as final").click()
        page.wait_for_load_state("load")
        self.assertIn("Marked as final", page.locator("main").inner_text())
        self.assertTrue(Submission.objects.get(pk=weaker.pk).selected_final)
        page = alice.goto(self.url("/b/sentiment/leaderboard/?split=test"))
        page.get_by_role("link", name="final selection").click()
        page.wait_for_load_state("load")
        self.assertIn("show=final", page.url)
        self.assertIn(f"/submissions/{weaker.pk}/", page.locator("main table").first.inner_html())
        alice.assert_clean()
