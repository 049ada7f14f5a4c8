"""Password reset by e-mail (Django's views, the site's templates) and password change."""

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.base import PlatformTestCase

User = get_user_model()
NEW_PASSWORD = "a-new-long-pass-7713"


class PasswordResetTests(PlatformTestCase):
    def setUp(self):
        User.objects.filter(pk=self.alice.pk).update(email="alice@example.org")

    def ask(self, email: str):
        return self.client.post(reverse("password_reset"), {"email": email})

    def test_the_form_is_a_page_of_the_site(self):
        response = self.client.get(reverse("password_reset"))
        self.assertContains(response, "Reset your password")
        self.assertContains(response, 'name="email"')
        self.assertContains(response, "site.css")
        self.assertTemplateUsed(response, "base.html")

    def test_a_reset_goes_end_to_end_through_the_email(self):
        self.assertRedirects(self.ask("ALICE@example.org"), reverse("password_reset_done"))
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["alice@example.org"])
        self.assertIn("Reset your password", message.subject)
        self.assertIn("alice", message.body)
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

        # Django moves the token from the address into the session before showing the form.
        form = self.client.get(link, follow=True)
        self.assertContains(form, "Choose a new password")
        data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        done = self.client.post(form.redirect_chain[-1][0], data, follow=True)
        self.assertContains(done, "Password changed")
        self.assertContains(done, reverse("login"))

        login = {"username": "alice", "password": NEW_PASSWORD}
        self.assertRedirects(self.client.post(reverse("login"), login), reverse("benchmark_list"))
        self.client.logout()
        old = {"username": "alice", "password": "pw-alice"}
        self.assertContains(self.client.post(reverse("login"), old), "didn't match")

    def test_a_used_link_no_longer_works(self):
        self.ask("alice@example.org")
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
        form = self.client.get(link, follow=True)
        data = {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        self.client.post(form.redirect_chain[-1][0], data)
        self.client.logout()
        response = self.client.get(link, follow=True)
        self.assertContains(response, "This link does not work")
        self.assertContains(response, reverse("password_reset"))

    def test_an_unknown_address_gets_the_same_answer_and_no_email(self):
        self.assertRedirects(self.ask("nobody@example.org"), reverse("password_reset_done"))
        self.assertEqual(mail.outbox, [])
        done = self.client.get(reverse("password_reset_done"))
        self.assertContains(done, "If an account has the address you entered")

    def test_a_mismatched_new_password_is_explained(self):
        self.ask("alice@example.org")
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
        form = self.client.get(link, follow=True)
        data = {"new_password1": NEW_PASSWORD, "new_password2": "something-else-5512"}
        response = self.client.post(form.redirect_chain[-1][0], data)
        self.assertContains(response, "field-error")
        self.assertTrue(User.objects.get(pk=self.alice.pk).check_password("pw-alice"))


class PasswordChangeTests(PlatformTestCase):
    def test_a_logged_in_user_changes_their_password_on_a_page_of_the_site(self):
        self.client.force_login(self.alice)
        page = self.client.get(reverse("password_change"))
        self.assertContains(page, "Change your password")
        self.assertTemplateUsed(page, "base.html")
        data = {
            "old_password": "pw-alice",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
        response = self.client.post(reverse("password_change"), data, follow=True)
        self.assertContains(response, "Password changed")
        self.assertTrue(User.objects.get(pk=self.alice.pk).check_password(NEW_PASSWORD))

    def test_anonymous_users_are_sent_to_log_in(self):
        response = self.client.get(reverse("password_change"))
        self.assertRedirects(response, f"{reverse('login')}?next={reverse('password_change')}")
