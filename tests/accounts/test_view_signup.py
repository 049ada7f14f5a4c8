from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from accounts.models import Profile
from tests.base import PlatformTestCase

User = get_user_model()


class SignupTests(PlatformTestCase):
    url = reverse("signup")
    data = {
        "username": "carol",
        "email": "carol@example.org",
        "password1": "a-long-pass-9041",
        "password2": "a-long-pass-9041",
    }

    def test_anonymous_users_see_the_form(self):
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        for name in ("username", "email", "password1", "password2"):
            self.assertContains(response, f'name="{name}"')
        self.assertContains(response, 'type="email"')

    def test_signing_up_creates_the_user_logs_them_in_and_goes_to_the_list(self):
        response = self.client.post(self.url, self.data)
        self.assertRedirects(response, reverse("benchmark_list"))
        user = User.objects.get(username="carol")
        self.assertEqual(user.email, "carol@example.org")
        self.assertTrue(user.is_active)
        self.assertEqual(int(self.client.session["_auth_user_id"]), user.pk)
        self.assertFalse(user.is_staff)

    def test_signing_up_creates_a_profile_with_the_defaults(self):
        self.client.post(self.url, self.data)
        profile = Profile.objects.get(user__username="carol")
        self.assertTrue(profile.email_on_result)
        self.assertFalse(profile.awaiting_email_verification)
        self.assertEqual(profile.display_name, "")

    def test_without_verification_no_email_is_sent(self):
        self.client.post(self.url, self.data)
        self.assertEqual(mail.outbox, [])

    def test_an_email_address_is_required(self):
        response = self.client.post(self.url, {**self.data, "email": ""})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "field-error")
        self.assertFalse(User.objects.filter(username="carol").exists())

    def test_an_address_taken_in_any_case_is_refused_with_a_clear_message(self):
        User.objects.filter(pk=self.alice.pk).update(email="alice@example.org")
        response = self.client.post(self.url, {**self.data, "email": "ALICE@Example.ORG"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "An account with this e-mail address already exists.")
        self.assertContains(response, "reset your password")
        self.assertFalse(User.objects.filter(username="carol").exists())

    def test_the_domain_of_an_address_is_stored_in_lower_case(self):
        self.client.post(self.url, {**self.data, "email": "Carol@EXAMPLE.org"})
        self.assertEqual(User.objects.get(username="carol").email, "Carol@example.org")

    def test_it_follows_a_safe_next_url_only(self):
        detail = reverse("benchmark_detail", args=["sentiment"])
        response = self.client.post(self.url, {**self.data, "next": detail})
        self.assertRedirects(response, detail)
        self.client.logout()
        data = {
            **self.data,
            "username": "dave",
            "email": "dave@example.org",
            "next": "https://evil.example/",
        }
        self.assertRedirects(self.client.post(self.url, data), reverse("benchmark_list"))

    def test_it_shows_the_errors_of_a_bad_form(self):
        response = self.client.post(self.url, {**self.data, "password2": "different"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "field-error")
        self.assertFalse(User.objects.filter(username="carol").exists())

    def test_a_taken_username_is_refused(self):
        response = self.client.post(self.url, {**self.data, "username": "alice"})
        self.assertContains(response, "already exists")

    def test_a_logged_in_user_is_sent_on(self):
        self.client.force_login(self.alice)
        self.assertRedirects(self.client.get(self.url), reverse("benchmark_list"))

    def test_it_answers_only_get_and_post(self):
        self.assertEqual(self.client.put(self.url).status_code, 405)


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
class SignupWithVerificationTests(PlatformTestCase):
    url = reverse("signup")
    data = SignupTests.data

    def test_the_account_is_inactive_and_the_owner_is_told_to_check_their_email(self):
        response = self.client.post(self.url, self.data)
        self.assertRedirects(response, reverse("signup_done"))
        user = User.objects.get(username="carol")
        self.assertFalse(user.is_active)
        self.assertTrue(user.profile.awaiting_email_verification)
        self.assertNotIn("_auth_user_id", self.client.session)
        page = self.client.get(reverse("signup_done"))
        self.assertContains(page, "Confirm your e-mail address")
        self.assertContains(page, reverse("verification_resend"))

    def test_one_email_with_the_link_goes_to_the_address(self):
        self.client.post(self.url, self.data)
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["carol@example.org"])
        self.assertIn("Confirm your e-mail address", message.subject)
        self.assertIn("http://testserver/accounts/verify/", message.body)

    def test_the_inactive_account_cannot_log_in_yet(self):
        self.client.post(self.url, self.data)
        response = self.client.post(
            reverse("login"), {"username": "carol", "password": self.data["password1"]}
        )
        self.assertContains(response, "didn't match")

    def test_an_address_awaiting_verification_is_taken_too(self):
        self.client.post(self.url, self.data)
        response = self.client.post(self.url, {**self.data, "username": "dave"})
        self.assertContains(response, "already exists")
        self.assertEqual(len(mail.outbox), 1)
