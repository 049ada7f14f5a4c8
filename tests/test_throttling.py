"""Rate limits and the login lock-out (config/throttling.py, docs/deployment.md): every limit is
a setting, every refusal a 429 that says when to come back and shows no stack trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import SimpleTestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from tests.base import PlatformTestCase

User = get_user_model()

NO_LIMITS = dict.fromkeys(settings.THROTTLE_RATES)


def rates(**scopes) -> dict:
    """THROTTLE_RATES with only the given scopes limited, so that a test meets one limit."""
    return {**NO_LIMITS, **scopes}


class ThrottleTestCase(PlatformTestCase):
    def assert_no_stack_trace(self, response):
        content = response.content.decode()
        self.assertNotIn("Traceback", content)
        self.assertNotIn('File "', content)

    def assert_throttled_page(self, response, message: str) -> int:
        """The 429 page: the reason, when to try again, Retry-After in whole seconds."""
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, message, status_code=429)
        self.assertContains(response, "Please try again in", status_code=429)
        self.assert_no_stack_trace(response)
        return int(response["Retry-After"])

    def assert_throttled_api(self, response) -> int:
        errors = self.assert_errors(response, 429)
        self.assertIn("throttled", errors[0])
        self.assert_no_stack_trace(response)
        wait = int(response["Retry-After"])
        self.assertGreater(wait, 0)
        return wait


@override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=timedelta(minutes=10))
class LoginLockoutTests(ThrottleTestCase):
    url = reverse("login")

    def log_in(self, password: str, username: str = "alice", **extra):
        return self.client.post(self.url, {"username": username, "password": password}, **extra)

    def test_a_username_is_locked_out_after_the_failure_limit_right_password_included(self):
        for _ in range(2):
            self.assertContains(self.log_in("wrong"), "didn't match")
        wait = self.assert_throttled_page(self.log_in("wrong"), "Too many failed logins")
        self.assertEqual(wait, 10 * 60)
        response = self.log_in("pw-alice")
        self.assert_throttled_page(response, "Too many failed logins")
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_the_lock_out_ends_after_the_cool_off(self):
        for _ in range(3):
            self.log_in("wrong")
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=11))
        self.assertRedirects(self.log_in("pw-alice"), reverse("benchmark_list"))

    def test_it_locks_that_username_from_that_address_only(self):
        for _ in range(3):
            self.log_in("wrong")
        self.assertRedirects(self.log_in("pw-bob", "bob"), reverse("benchmark_list"))
        self.client.logout()
        response = self.log_in("pw-alice", REMOTE_ADDR="10.0.0.9")
        self.assertRedirects(response, reverse("benchmark_list"))

    def test_a_successful_login_starts_the_count_again(self):
        for _ in range(2):
            self.log_in("wrong")
        self.assertRedirects(self.log_in("pw-alice"), reverse("benchmark_list"))
        self.client.logout()
        for _ in range(2):
            self.assertContains(self.log_in("wrong"), "didn't match")

    @override_settings(AXES_FAILURE_LIMIT=5)
    def test_the_failure_limit_is_a_setting(self):
        for _ in range(4):
            self.assertEqual(self.log_in("wrong").status_code, 200)
        self.assertEqual(self.log_in("wrong").status_code, 429)

    def test_the_admin_login_is_locked_out_too(self):
        url = reverse("admin:login")
        data = {"username": "staff", "password": "wrong"}
        for _ in range(2):
            self.assertEqual(self.client.post(url, data).status_code, 200)
        self.assert_throttled_page(self.client.post(url, data), "Too many failed logins")

    @override_settings(THROTTLE_RATES=rates(login="3/hour"))
    def test_login_posts_are_limited_per_address_across_usernames(self):
        for username in ("x1", "x2", "x3"):
            self.assertEqual(self.log_in("wrong", username).status_code, 200)
        self.assert_throttled_page(self.log_in("pw-alice"), "Too many login attempts")
        self.assertRedirects(
            self.log_in("pw-alice", REMOTE_ADDR="10.0.0.9"), reverse("benchmark_list")
        )
        # The form itself stays readable.
        self.assertEqual(self.client.get(self.url).status_code, 200)


@override_settings(THROTTLE_RATES=rates(signup="2/hour"))
class SignupThrottleTests(ThrottleTestCase):
    url = reverse("signup")

    def sign_up(self, username: str, **extra):
        self.client.logout()
        data = {
            "username": username,
            "email": f"{username}@example.org",
            "password1": "a-long-pass-9041",
            "password2": "a-long-pass-9041",
        }
        return self.client.post(self.url, data, **extra)

    def test_sign_ups_are_limited_per_address(self):
        self.assertEqual(self.sign_up("carol").status_code, 302)
        self.assertEqual(self.sign_up("dave").status_code, 302)
        wait = self.assert_throttled_page(self.sign_up("erin"), "Too many sign-ups")
        self.assertLessEqual(wait, 3600)
        self.assertFalse(User.objects.filter(username="erin").exists())
        self.assertEqual(self.sign_up("erin", REMOTE_ADDR="10.0.0.9").status_code, 302)

    def test_a_forged_forwarded_for_header_is_not_a_new_address(self):
        for n, forged in enumerate(("1.1.1.1", "2.2.2.2")):
            self.assertEqual(self.sign_up(f"user{n}", HTTP_X_FORWARDED_FOR=forged).status_code, 302)
        response = self.sign_up("user3", HTTP_X_FORWARDED_FOR="3.3.3.3")
        self.assertEqual(response.status_code, 429)

    def test_behind_a_proxy_the_address_it_appends_counts(self):
        proxied = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        with override_settings(REST_FRAMEWORK=proxied):
            # The proxy appends the address it saw; what the client sent before it is ignored.
            for n, forged in enumerate(("1.1.1.1", "2.2.2.2")):
                response = self.sign_up(f"user{n}", HTTP_X_FORWARDED_FOR=f"{forged}, 6.6.6.6")
                self.assertEqual(response.status_code, 302)
            self.assertEqual(self.sign_up("x", HTTP_X_FORWARDED_FOR="6.6.6.6").status_code, 429)
            self.assertEqual(self.sign_up("y", HTTP_X_FORWARDED_FOR="7.7.7.7").status_code, 302)

    def test_the_form_is_still_shown(self):
        for n in range(3):
            self.sign_up(f"user{n}")
        self.assertEqual(self.client.get(self.url).status_code, 200)


class ApiThrottleTests(ThrottleTestCase):
    list_url = reverse("api-benchmark-list")
    upload_url = reverse("api-submission-create", args=["sentiment"])

    @override_settings(THROTTLE_RATES=rates(anon="3/minute"))
    def test_anonymous_reads_get_429_after_the_burst_with_retry_after(self):
        for _ in range(3):
            self.assertEqual(self.client.get(self.list_url).status_code, 200)
        wait = self.assert_throttled_api(self.client.get(self.list_url))
        self.assertLessEqual(wait, 60)
        # Another address, and a signed-in user, have counts of their own.
        self.assertEqual(self.client.get(self.list_url, REMOTE_ADDR="10.0.0.9").status_code, 200)
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(self.list_url).status_code, 200)

    @override_settings(THROTTLE_RATES=rates(user="3/minute"))
    def test_signed_in_reads_are_counted_per_account(self):
        self.client.force_login(self.alice)
        for n in range(3):
            # A new address does not give an account a new count.
            response = self.client.get(self.list_url, REMOTE_ADDR=f"10.0.0.{n}")
            self.assertEqual(response.status_code, 200)
        self.assert_throttled_api(self.client.get(self.list_url))
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.list_url).status_code, 200)

    @override_settings(THROTTLE_RATES=rates(uploads="2/hour"))
    def test_uploads_are_counted_per_participant_across_the_api_and_the_page(self):
        self.client.force_login(self.alice)
        # Refused uploads count too: each one is read and checked before it is refused.
        self.assert_errors(self.client.post(self.upload_url, {"name": "x"}), 400)
        page = reverse("submission_create", args=["sentiment"])
        self.assertEqual(self.client.post(page, {"name": "x"}).status_code, 400)
        wait = self.assert_throttled_api(self.client.post(self.upload_url, {"name": "x"}))
        self.assertLessEqual(wait, 3600)
        self.assert_throttled_page(self.client.post(page, {"name": "x"}), "Too many uploads")
        # Reading is not uploading, and bob has uploads of his own.
        self.assertEqual(self.client.get(page).status_code, 200)
        self.client.force_login(self.bob)
        self.assert_errors(self.client.post(self.upload_url, {"name": "x"}), 400)

    def test_a_scope_without_a_rate_is_not_limited(self):
        with override_settings(THROTTLE_RATES=NO_LIMITS):
            for _ in range(30):
                self.assertEqual(self.client.get(self.list_url).status_code, 200)

    def test_the_default_rates_leave_room_for_ordinary_use(self):
        for _ in range(20):
            self.assertEqual(self.client.get(self.list_url).status_code, 200)


class ThrottleSettingsTests(SimpleTestCase):
    """Settings are read once, at import: each case starts a fresh process."""

    SHOW = (
        "import json; from django.conf import settings; print(json.dumps({"
        "'rates': settings.THROTTLE_RATES, 'cache': settings.CACHES['default'], "
        "'proxies': settings.REST_FRAMEWORK['NUM_PROXIES'], "
        "'failures': settings.AXES_FAILURE_LIMIT, "
        "'cooloff': settings.AXES_COOLOFF_TIME.total_seconds()}))"
    )

    def settings_with(self, **variables) -> subprocess.CompletedProcess:
        data_dir = self.enterContext(tempfile.TemporaryDirectory())
        env = {
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATA_DIR": data_dir,
            **variables,
        }
        command = [sys.executable, "-c", f"import django; django.setup(); {self.SHOW}"]
        return subprocess.run(
            command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60
        )

    def test_the_defaults_count_in_a_folder_of_data_dir_shared_by_every_process(self):
        result = self.settings_with(BEHIND_TLS_PROXY="false")
        shown = json.loads(result.stdout)
        self.assertEqual(
            shown["cache"]["BACKEND"], "django.core.cache.backends.filebased.FileBasedCache"
        )
        self.assertTrue(shown["cache"]["LOCATION"].endswith("/cache"))
        self.assertEqual(shown["proxies"], 0)
        self.assertEqual(shown["failures"], 5)
        self.assertEqual(shown["cooloff"], 15 * 60)
        self.assertTrue(all(shown["rates"].values()))

    def test_every_limit_and_the_cache_come_from_the_environment(self):
        result = self.settings_with(
            THROTTLE_UPLOADS="5/hour",
            THROTTLE_SIGNUP="none",
            LOGIN_FAILURE_LIMIT="7",
            LOGIN_COOLOFF_MINUTES="30",
            CACHE_URL="redis://cache.internal:6379/1",
            BEHIND_TLS_PROXY="true",
        )
        shown = json.loads(result.stdout)
        self.assertEqual(shown["rates"]["uploads"], "5/hour")
        self.assertIsNone(shown["rates"]["signup"])
        self.assertEqual(shown["failures"], 7)
        self.assertEqual(shown["cooloff"], 30 * 60)
        self.assertEqual(shown["cache"]["BACKEND"], "django.core.cache.backends.redis.RedisCache")
        self.assertEqual(shown["proxies"], 1)

    def test_a_bad_rate_stops_start_up(self):
        result = self.settings_with(THROTTLE_ANON="5/15m")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("THROTTLE_ANON='5/15m'", result.stderr)


@override_settings(THROTTLE_RATES=rates(mail="2/hour"))
class MailThrottleTests(ThrottleTestCase):
    """Whoever names an address makes the platform mail it: a password reset or a verification
    mail. Counted per client address, whichever addresses are named."""

    def test_password_resets_are_limited_per_address(self):
        from django.core import mail

        url = reverse("password_reset")
        for n in range(2):
            response = self.client.post(url, {"email": f"someone{n}@example.org"})
            self.assertEqual(response.status_code, 302)
        wait = self.assert_throttled_page(
            self.client.post(url, {"email": "victim@example.org"}), "Too many e-mail requests"
        )
        self.assertLessEqual(wait, 3600)
        self.assertEqual(self.client.get(url).status_code, 200)  # the form is still shown
        response = self.client.post(url, {"email": "x@example.org"}, REMOTE_ADDR="10.0.0.7")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(len(mail.outbox), 0)  # no account has these addresses

    def test_verification_mails_share_the_count(self):
        self.client.post(reverse("password_reset"), {"email": "a@example.org"})
        url = reverse("verification_resend")
        self.assertNotEqual(self.client.post(url, {"email": "b@example.org"}).status_code, 429)
        self.assert_throttled_page(
            self.client.post(url, {"email": "c@example.org"}), "Too many e-mail requests"
        )


@override_settings(THROTTLE_RATES=rates(invites="2/hour"))
class InviteThrottleTests(ThrottleTestCase):
    def test_team_invitations_are_limited_per_account_on_the_page_and_the_api(self):
        from submissions.models import TeamInvitation

        self.client.force_login(self.alice)
        page = reverse("team", args=["sentiment"])
        self.assertEqual(
            self.client.post(page, {"action": "create", "name": "owls"}).status_code, 302
        )
        api = reverse("api-team-invite", args=["sentiment"])
        response = self.client.post(
            api, {"who": "one@example.org"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 201)
        self.assert_throttled_api(
            self.client.post(api, {"who": "two@example.org"}, content_type="application/json")
        )
        self.assert_throttled_page(
            self.client.post(page, {"action": "invite", "who": "three@example.org"}),
            "Too many team changes and invitations",
        )
        self.assertEqual(TeamInvitation.objects.count(), 1)
