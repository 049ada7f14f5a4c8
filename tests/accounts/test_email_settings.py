"""E-mail and verification settings, read from the environment in a fresh process each
(tests/test_settings.py explains why)."""

from __future__ import annotations

import json

from tests.test_settings import PRODUCTION_ENV, SettingsTestCase

SHOW_EMAIL = (
    "import json; from django.conf import settings; print(json.dumps({name: getattr(settings, "
    "name) for name in ['EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', "
    "'EMAIL_USE_TLS', 'DEFAULT_FROM_EMAIL', 'ACCOUNT_EMAIL_VERIFICATION']}))"
)


class EmailSettingsTests(SettingsTestCase):
    def email_settings(self, **env: str) -> dict:
        done = self.run_python(["-c", SHOW_EMAIL], env)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    def test_by_default_mail_goes_to_the_console_and_nothing_is_verified(self):
        shown = self.email_settings()
        self.assertEqual(shown["EMAIL_BACKEND"], "django.core.mail.backends.console.EmailBackend")
        self.assertEqual(shown["ACCOUNT_EMAIL_VERIFICATION"], "none")
        self.assertIn("noreply@", shown["DEFAULT_FROM_EMAIL"])

    def test_email_url_names_an_smtp_server(self):
        shown = self.email_settings(
            EMAIL_URL="smtp+tls://bench:secret@smtp.example.org:587",
            DEFAULT_FROM_EMAIL="Bench <bench@example.org>",
            ACCOUNT_EMAIL_VERIFICATION="mandatory",
        )
        self.assertEqual(shown["EMAIL_BACKEND"], "django.core.mail.backends.smtp.EmailBackend")
        self.assertEqual(
            (shown["EMAIL_HOST"], shown["EMAIL_PORT"], shown["EMAIL_HOST_USER"]),
            ("smtp.example.org", 587, "bench"),
        )
        self.assertTrue(shown["EMAIL_USE_TLS"])
        self.assertEqual(shown["DEFAULT_FROM_EMAIL"], "Bench <bench@example.org>")
        self.assertEqual(shown["ACCOUNT_EMAIL_VERIFICATION"], "mandatory")

    def test_an_unknown_verification_mode_stops_start_up(self):
        done = self.run_python(["manage.py", "check"], {"ACCOUNT_EMAIL_VERIFICATION": "optional"})
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("ACCOUNT_EMAIL_VERIFICATION='optional': use none or mandatory.", done.stderr)

    def test_check_deploy_passes_with_smtp_and_verification(self):
        env = {
            **PRODUCTION_ENV,
            "EMAIL_URL": "smtp+tls://bench:secret@smtp.example.org:587",
            "DEFAULT_FROM_EMAIL": "bench@example.org",
            "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
        }
        done = self.run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("System check identified no issues", done.stdout)
