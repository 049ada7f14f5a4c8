from django.urls import reverse

from tests.base import PlatformTestCase


class LoginLogoutTests(PlatformTestCase):
    def test_the_login_page_renders_a_form(self):
        response = self.client.get(reverse("login"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'name="password"')
        self.assertContains(response, reverse("signup"))
        self.assertContains(response, reverse("password_reset"))

    def test_logging_in_goes_to_the_benchmark_list(self):
        response = self.client.post(reverse("login"), {"username": "alice", "password": "pw-alice"})
        self.assertRedirects(response, reverse("benchmark_list"))

    def test_a_wrong_password_is_explained(self):
        response = self.client.post(reverse("login"), {"username": "alice", "password": "nope"})
        self.assertContains(response, "didn't match")

    def test_the_nav_offers_log_in_and_sign_up_to_anonymous_users(self):
        response = self.client.get(reverse("benchmark_list"))
        self.assertContains(response, reverse("login"))
        self.assertContains(response, reverse("signup"))
        self.assertNotContains(response, reverse("my_submissions"))
        self.assertNotContains(response, reverse("profile"))
        self.assertNotContains(response, reverse("api_tokens"))

    def test_the_nav_offers_a_logout_form_to_logged_in_users(self):
        self.client.force_login(self.alice)
        response = self.client.get(reverse("benchmark_list"))
        self.assertContains(
            response, f'<form class="inline" method="post" action="{reverse("logout")}">'
        )
        self.assertContains(response, reverse("my_submissions"))

    def test_the_nav_offers_the_profile_and_api_tokens_to_logged_in_users(self):
        self.client.force_login(self.alice)
        response = self.client.get(reverse("api_tokens"))
        self.assertContains(response, f'<a href="{reverse("profile")}">Profile</a>', html=True)
        self.assertContains(
            response,
            f'<a href="{reverse("api_tokens")}" aria-current="page">API tokens</a>',
            html=True,
        )

    def test_logging_out_takes_a_post(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("benchmark_list"))
        self.assertNotIn("_auth_user_id", self.client.session)
