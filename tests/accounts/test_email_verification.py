"""ACCOUNT_EMAIL_VERIFICATION = "mandatory": the link of the sign-up e-mail, and sending it
again."""

import re
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.verification import verification_path
from tests.base import PlatformTestCase

User = get_user_model()
PASSWORD = "a-long-pass-9041"


def link_in(message) -> str:
    return re.search(r"http://testserver(/accounts/verify/\S+/)", message.body).group(1)


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
class EmailVerificationTests(PlatformTestCase):
    def sign_up(self, username="carol", email="carol@example.org"):
        data = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
        self.client.post(reverse("signup"), data)
        return User.objects.get(username=username)

    def test_opening_the_link_activates_the_account_and_asks_to_log_in(self):
        user = self.sign_up()
        response = self.client.get(link_in(mail.outbox[0]), follow=True)
        self.assertRedirects(response, reverse("login"))
        self.assertContains(response, "Your e-mail address is confirmed")
        user.refresh_from_db()
        self.assertTrue(user.is_active)
        self.assertFalse(user.profile.awaiting_email_verification)
        self.assertIsNotNone(user.profile.email_verified_at)
        # The link does not log anyone in (a mail scanner may open it first).
        self.assertNotIn("_auth_user_id", self.client.session)
        login = {"username": "carol", "password": PASSWORD}
        self.assertRedirects(self.client.post(reverse("login"), login), reverse("benchmark_list"))

    def test_a_link_works_once(self):
        self.sign_up()
        link = link_in(mail.outbox[0])
        self.client.get(link)
        response = self.client.get(link)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "This link does not work", status_code=400)

    def test_a_tampered_link_is_refused(self):
        user = self.sign_up()
        uid, token = link_in(mail.outbox[0]).strip("/").split("/")[-2:]
        for path in (
            reverse("email_verify", args=[uid, token[:-2] + "xx"]),
            reverse("email_verify", args=[urlsafe_base64_encode(force_bytes(self.bob.pk)), token]),
            reverse("email_verify", args=["not-base64", token]),
        ):
            self.assertEqual(self.client.get(path).status_code, 400, path)
        user.refresh_from_db()
        self.assertFalse(user.is_active)

    def test_a_password_reset_token_is_not_a_verification_token(self):
        user = self.sign_up()
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        path = reverse("email_verify", args=[uid, default_token_generator.make_token(user)])
        self.assertEqual(self.client.get(path).status_code, 400)

    def test_an_account_that_staff_deactivated_stays_inactive(self):
        User.objects.filter(pk=self.bob.pk).update(is_active=False, email="bob@example.org")
        self.client.post(reverse("verification_resend"), {"email": "bob@example.org"})
        self.assertEqual(mail.outbox, [])
        self.bob.refresh_from_db()
        self.assertEqual(self.client.get(verification_path(self.bob)).status_code, 400)
        self.bob.refresh_from_db()
        self.assertFalse(self.bob.is_active)

    def test_the_link_can_be_sent_again_after_a_minute(self):
        self.sign_up()
        resend = reverse("verification_resend")
        self.assertRedirects(
            self.client.post(resend, {"email": "CAROL@example.org"}), reverse("signup_done")
        )
        self.assertEqual(len(mail.outbox), 1)  # not twice in a minute
        with mock.patch("accounts.services.cache.add", return_value=True):
            self.client.post(resend, {"email": "CAROL@example.org"})
        self.assertEqual(len(mail.outbox), 2)
        self.assertEqual(mail.outbox[1].to, ["carol@example.org"])
        self.client.get(link_in(mail.outbox[1]))
        self.assertTrue(User.objects.get(username="carol").is_active)

    def test_sending_again_says_the_same_whatever_the_address(self):
        self.sign_up()
        mail.outbox.clear()
        for email in ("nobody@example.org", "alice@example.org"):
            response = self.client.post(reverse("verification_resend"), {"email": email})
            self.assertRedirects(response, reverse("signup_done"))
        self.assertEqual(mail.outbox, [])

    def test_the_resend_form_shows_its_errors_and_takes_only_get_and_post(self):
        url = reverse("verification_resend")
        self.assertContains(self.client.get(url), 'name="email"')
        self.assertContains(self.client.post(url, {"email": "not an address"}), "field-error")
        self.assertEqual(self.client.put(url).status_code, 405)

    def test_a_failing_mail_server_leaves_the_account_waiting_and_logs_no_link(self):
        with (
            mock.patch("accounts.services.send_mail", side_effect=ConnectionRefusedError()),
            self.assertLogs("accounts.services", "WARNING") as logs,
        ):
            response = self.client.post(
                reverse("signup"),
                {
                    "username": "carol",
                    "email": "carol@example.org",
                    "password1": PASSWORD,
                    "password2": PASSWORD,
                },
            )
        self.assertRedirects(response, reverse("signup_done"))
        self.assertIn("ConnectionRefusedError", logs.output[0])
        self.assertNotIn("/accounts/verify/", logs.output[0])
        self.assertNotIn("carol@example.org", logs.output[0])
        # Nothing was sent, so asking again sends at once.
        self.client.post(reverse("verification_resend"), {"email": "carol@example.org"})
        self.assertEqual(len(mail.outbox), 1)

    def test_the_link_page_answers_get_only(self):
        self.sign_up()
        self.assertEqual(self.client.post(link_in(mail.outbox[0])).status_code, 405)
        self.assertFalse(User.objects.get(username="carol").is_active)
