"""Production settings are safe by default. Settings are read once, at import, so each case
starts a fresh process with an explicit environment (nothing inherited from this one)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

# The production environment of docs/deployment.md (and of .ci/run's deploy check). `check`
# never connects to the database or the broker, so none needs to be running.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/benchmarks",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "bench.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://bench.example.org",
    "HTTPS": "true",
    "BEHIND_TLS_PROXY": "true",
}

SHOWN = [
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "STORAGES",
]
SHOW_SETTINGS = (
    "import json; from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"
)


class SettingsTestCase(SimpleTestCase):
    def setUp(self):
        self.data_dir = Path(self.enterContext(tempfile.TemporaryDirectory()))

    def run_python(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        # SECRET_KEY and HTTPS are always given so that a developer's .env (read by the
        # settings, real variables winning) cannot change the outcome.
        full_env = {
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATA_DIR": str(self.data_dir),
            "SECRET_KEY": "",
            "HTTPS": "false",
            **env,
        }
        return subprocess.run(
            [sys.executable, *args],
            cwd=settings.BASE_DIR,
            env=full_env,
            capture_output=True,
            text=True,
        )

    def settings_with(self, **env: str) -> dict:
        done = self.run_python(["-c", SHOW_SETTINGS], env)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)


class DeployCheckTests(SettingsTestCase):
    def test_check_deploy_passes_without_warnings_in_the_documented_production_environment(self):
        done = self.run_python(
            ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV
        )
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("System check identified no issues", done.stdout)

    def test_check_deploy_fails_when_https_is_not_declared(self):
        done = self.run_python(
            ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            {**PRODUCTION_ENV, "HTTPS": "false"},
        )
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("security.W004", done.stderr)  # no HSTS
        self.assertIn("security.W008", done.stderr)  # no SSL redirect


class SecretKeyTests(SettingsTestCase):
    def test_a_production_database_without_a_secret_key_stops_start_up(self):
        env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
        done = self.run_python(["manage.py", "check"], env)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("ImproperlyConfigured: SECRET_KEY is not set.", done.stderr)
        self.assertIn("set SECRET_KEY to a long random string", done.stderr)
        self.assertFalse((self.data_dir / "secret_key").exists())

    def test_the_embedded_default_generates_a_key_into_data_dir_and_keeps_it(self):
        first = self.settings_with()
        key_file = self.data_dir / "secret_key"
        self.assertEqual(key_file.read_text().strip(), first["SECRET_KEY"])
        self.assertGreaterEqual(len(first["SECRET_KEY"]), 50)
        self.assertEqual(self.settings_with()["SECRET_KEY"], first["SECRET_KEY"])

    def test_debug_on_generates_a_key_even_with_a_production_database(self):
        shown = self.settings_with(DEBUG="true", DATABASE_URL=PRODUCTION_ENV["DATABASE_URL"])
        self.assertEqual((self.data_dir / "secret_key").read_text().strip(), shown["SECRET_KEY"])

    def test_a_given_key_is_used_and_nothing_is_written(self):
        shown = self.settings_with(**PRODUCTION_ENV)
        self.assertEqual(shown["SECRET_KEY"], PRODUCTION_ENV["SECRET_KEY"])
        self.assertFalse((self.data_dir / "secret_key").exists())


class HttpsTests(SettingsTestCase):
    def test_with_nothing_set_a_plain_http_run_has_no_tls_settings(self):
        shown = self.settings_with()
        self.assertIs(shown["DEBUG"], False)
        self.assertIs(shown["SECURE_SSL_REDIRECT"], False)
        self.assertIs(shown["SESSION_COOKIE_SECURE"], False)
        self.assertIs(shown["CSRF_COOKIE_SECURE"], False)
        self.assertEqual(shown["SECURE_HSTS_SECONDS"], 0)
        self.assertIsNone(shown["SECURE_PROXY_SSL_HEADER"])

    def test_https_turns_on_secure_cookies_hsts_and_the_ssl_redirect(self):
        shown = self.settings_with(HTTPS="true")
        self.assertIs(shown["SECURE_SSL_REDIRECT"], True)
        self.assertIs(shown["SESSION_COOKIE_SECURE"], True)
        self.assertIs(shown["CSRF_COOKIE_SECURE"], True)
        self.assertEqual(shown["SECURE_HSTS_SECONDS"], 365 * 24 * 60 * 60)
        self.assertIs(shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"], True)
        self.assertIs(shown["SECURE_HSTS_PRELOAD"], False)
        self.assertIsNone(shown["SECURE_PROXY_SSL_HEADER"])

    def test_behind_a_tls_proxy_its_forwarded_proto_header_is_trusted(self):
        shown = self.settings_with(HTTPS="true", BEHIND_TLS_PROXY="true")
        self.assertEqual(shown["SECURE_PROXY_SSL_HEADER"], ["HTTP_X_FORWARDED_PROTO", "https"])

    def test_each_setting_can_still_be_overridden_on_its_own(self):
        shown = self.settings_with(
            HTTPS="true",
            SECURE_SSL_REDIRECT="false",
            SECURE_HSTS_SECONDS="3600",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
            SECURE_HSTS_PRELOAD="true",
        )
        self.assertIs(shown["SECURE_SSL_REDIRECT"], False)
        self.assertEqual(shown["SECURE_HSTS_SECONDS"], 3600)
        self.assertIs(shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"], False)
        self.assertIs(shown["SECURE_HSTS_PRELOAD"], True)
        self.assertIs(shown["SESSION_COOKIE_SECURE"], True)

        shown = self.settings_with(SESSION_COOKIE_SECURE="true")
        self.assertIs(shown["SESSION_COOKIE_SECURE"], True)
        self.assertIs(shown["CSRF_COOKIE_SECURE"], False)


class StaticFilesTests(SettingsTestCase):
    def test_debug_off_serves_hashed_names_from_the_collectstatic_manifest(self):
        backend = self.settings_with()["STORAGES"]["staticfiles"]["BACKEND"]
        self.assertEqual(backend, "whitenoise.storage.CompressedManifestStaticFilesStorage")

    def test_debug_on_serves_the_source_files_unhashed(self):
        backend = self.settings_with(DEBUG="true")["STORAGES"]["staticfiles"]["BACKEND"]
        self.assertEqual(backend, "django.contrib.staticfiles.storage.StaticFilesStorage")
