"""Accounts in a real Chromium: a newcomer signs up with an e-mail address, forgets their
password and resets it through the e-mail the platform sent, logs in with the new one, and
creates an API token whose key is shown once (a reload no longer shows it) and works against
the API. With verification on, the account opens only through the link of the sign-up e-mail.

The live server runs in this process, so the e-mails it sends land in `mail.outbox`. No console
errors; at 390 px the token page scrolls sideways only inside its table. Screenshots go where
test_browser_analysis.py puts its own."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core import mail
from django.test import override_settings

from accounts.keys import key_digest
from accounts.models import ApiToken
from tests.e2e.test_browser_analysis import (  # noqa: F401 (chromium_browser: a fixture)
    BrowserTabs,
    chromium_browser,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FIRST_PASSWORD = "a-long-first-passphrase-2026"
NEW_PASSWORD = "a-long-second-passphrase-2026"


class BrowserAccountTests(BrowserTabs, StaticLiveServerTestCase):
    def link_in_last_email(self, path: str) -> str:
        """The path of the link to `path…` in the last e-mail sent, on this live server."""
        body = mail.outbox[-1].body
        match = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", body)
        self.assertIsNotNone(match, body)
        return self.url(match.group(1))

    def sign_up(self, tab, username: str, email: str):
        page = tab.goto(self.url("/accounts/signup/"))
        page.fill("#id_username", username)
        page.fill("#id_email", email)
        page.fill("#id_password1", FIRST_PASSWORD)
        page.fill("#id_password2", FIRST_PASSWORD)
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_load_state("load")
        return page

    def log_in(self, page, username: str, password: str):
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_url(self.url("/"))
        self.assertIn(username, page.locator(".nav-user").inner_text())

    def test_sign_up_reset_the_password_log_in_and_see_a_new_token_once(self):
        tab = self.tab()
        page = self.sign_up(tab, "carol", "carol@example.org")
        page.wait_for_url(self.url("/"))
        self.assertIn("carol", page.locator(".nav-user").inner_text())
        tab.assert_clean()
        page.locator("nav form.inline button", has_text="Log out").click()
        page.wait_for_url(self.url("/"))

        # Forgotten password: from the login page to the e-mail and back.
        page = tab.goto(self.url("/accounts/login/"))
        page.get_by_role("link", name="Reset it").click()
        page.wait_for_url(self.url("/accounts/password_reset/"))
        page.fill("#id_email", "CAROL@example.org")
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_url(self.url("/accounts/password_reset/done/"))
        self.assertIn("Check your e-mail", page.locator("main h1").inner_text())
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["carol@example.org"])
        page = tab.goto(self.link_in_last_email("/accounts/reset/"))
        self.assertIn("Choose a new password", page.locator("main h1").inner_text())
        page.fill("#id_new_password1", NEW_PASSWORD)
        page.fill("#id_new_password2", NEW_PASSWORD)
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_url(self.url("/accounts/reset/done/"))
        tab.assert_clean()
        page.get_by_role("link", name="Log in").last.click()
        page.wait_for_url(re.compile(r".*/accounts/login/$"))
        self.log_in(page, "carol", NEW_PASSWORD)

        # A token, from the nav: its key once, then never again.
        page.locator("nav a", has_text="API tokens").click()
        page.wait_for_url(self.url("/accounts/tokens/"))
        page.fill("#id_name", "laptop")
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_load_state("load")
        key = page.locator("#new-key").inner_text().strip()
        token = ApiToken.objects.get(user__username="carol")
        self.assertEqual(token.digest, key_digest(key))
        self.assertIn("shown only this once", page.locator("main").inner_text())
        tab.assert_clean()
        tab.capture("api-tokens-new-key")

        page.reload()
        page.wait_for_load_state("load")
        self.assertEqual(page.locator("#new-key").count(), 0)
        self.assertNotIn(key, page.content())
        row = page.locator("table.api-tokens tbody tr").first.inner_text()
        self.assertIn("laptop", row)
        self.assertIn(token.prefix, row)
        tab.capture("api-tokens")

        # The key works from anywhere else, without the browser's session.
        other = self.tab()
        answer = other.context.request.get(
            self.url("/api/v1/submissions/"), headers={"Authorization": f"Token {key}"}
        )
        self.assertEqual(answer.status, 200, answer.text())
        self.assertEqual(answer.json()["submissions"], [])

        # Revoked, it no longer does.
        page.locator("table.api-tokens button", has_text="Revoke").click()
        page.wait_for_load_state("load")
        self.assertIn("revoked", page.locator(".messages").inner_text())
        answer = other.context.request.get(
            self.url("/api/v1/submissions/"), headers={"Authorization": f"Token {key}"}
        )
        self.assertEqual(answer.status, 401)
        self.assertNotIn(key, answer.text())

    @override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
    def test_with_verification_the_account_opens_through_the_emailed_link(self):
        tab = self.tab()
        page = self.sign_up(tab, "dave", "dave@example.org")
        page.wait_for_url(self.url("/accounts/signup/done/"))
        self.assertIn("Confirm your e-mail address", page.locator("main h1").inner_text())
        self.assertEqual(page.locator(".nav-user").count(), 0)
        tab.assert_clean()

        link = self.link_in_last_email("/accounts/verify/")
        page = tab.goto(link)
        self.assertIn("/accounts/login/", page.url)
        self.assertIn("confirmed", page.locator(".messages").inner_text())
        self.log_in(page, "dave", FIRST_PASSWORD)
        tab.assert_clean()

        # The link has done its work.
        again = self.tab()
        again.goto(link, status=400)
        self.assertIn("does not work", again.page.locator("main h1").inner_text())
        again.assert_clean(allow_status=400)
