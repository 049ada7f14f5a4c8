from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.base import PlatformTestCase

User = get_user_model()


class SignupTests(PlatformTestCase):
    url = reverse("signup")
    data = {"username": "carol", "password1": "a-long-pass-9041", "password2": "a-long-pass-9041"}

    def test_anonymous_users_see_the_form(self):
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'name="username"')
        self.assertContains(response, 'name="password2"')

    def test_signing_up_creates_the_user_logs_them_in_and_goes_to_the_list(self):
        response = self.client.post(self.url, self.data)
        self.assertRedirects(response, reverse("benchmark_list"))
        user = User.objects.get(username="carol")
        self.assertEqual(int(self.client.session["_auth_user_id"]), user.pk)
        self.assertFalse(user.is_staff)

    def test_it_follows_a_safe_next_url_only(self):
        detail = reverse("benchmark_detail", args=["sentiment"])
        response = self.client.post(self.url, {**self.data, "next": detail})
        self.assertRedirects(response, detail)
        self.client.logout()
        data = {**self.data, "username": "dave", "next": "https://evil.example/"}
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
