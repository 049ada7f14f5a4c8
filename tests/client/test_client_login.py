"""`bench login` and `logout`, the config file they keep, and where the address and the token
come from: option, then environment, then config file, then the default address."""

from __future__ import annotations

import io
import json
import os
import stat
from unittest import mock

from tests.client.fakes import BOARD, DETAIL, ClientTestCase

OWN = {"submissions": [], "next": None}


class TerminalInput(io.StringIO):
    def isatty(self):
        return True


class LoginCommandTests(ClientTestCase):
    @property
    def config_file(self):
        return self.config_home / "benchclient" / "config.json"

    def saved(self) -> dict:
        return json.loads(self.config_file.read_text())

    def test_it_checks_the_token_and_saves_it_readable_by_the_owner_only(self):
        code, out, err, opener = self.bench(
            "--url", "http://bench.example/", "login", "--token", "k3y", answers=[(200, OWN)]
        )
        self.assertEqual((code, err), (0, ""))
        (request,) = opener.requests
        self.assertEqual(request.full_url, "http://bench.example/api/v1/submissions/")
        self.assertEqual(request.get_header("Authorization"), "Token k3y")
        self.assertEqual(
            self.saved(), {"url": "http://bench.example", "tokens": {"http://bench.example": "k3y"}}
        )
        self.assertEqual(stat.S_IMODE(self.config_file.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(self.config_file.parent.stat().st_mode), 0o700)
        self.assertEqual(
            out, f"Logged in to http://bench.example; the token is saved in {self.config_file}.\n"
        )

    def test_later_commands_use_the_saved_address_and_token(self):
        self.bench("--url", "http://bench.example", "login", "--token", "k3y", answers=[(200, OWN)])
        code, _, _, opener = self.bench("status", "12", answers=[(200, DETAIL)])
        self.assertEqual(code, 0)
        self.assertEqual(opener.requests[0].full_url, "http://bench.example/api/v1/submissions/12/")
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token k3y")

    def test_without_token_it_asks_for_one_on_a_terminal_and_says_where_to_create_it(self):
        with (
            mock.patch("sys.stdin", TerminalInput()),
            mock.patch("benchclient.commands.getpass.getpass", return_value=" k3y\n") as ask,
        ):
            code, _, err, opener = self.bench("login", answers=[(200, OWN)])
        self.assertEqual(code, 0)
        ask.assert_called_once_with("API token: ")
        self.assertEqual(
            err,
            "Create an API token on http://127.0.0.1:8000/accounts/tokens/ (its key is shown "
            "once), then paste it here.\n",
        )
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token k3y")
        self.assertEqual(self.saved()["tokens"], {"http://127.0.0.1:8000": "k3y"})

    def test_without_a_terminal_it_reads_the_token_from_stdin(self):
        with mock.patch("sys.stdin", io.StringIO("k3y\n")):
            code, _, _, opener = self.bench("login", answers=[(200, OWN)])
        self.assertEqual(code, 0)
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token k3y")

    def test_an_empty_answer_saves_nothing(self):
        with mock.patch("sys.stdin", io.StringIO("")):
            code, _, err, opener = self.bench("login")
        self.assertEqual(code, 1)
        self.assertIn("error: No token given. Create an API token on http://127.0.0.1:8000/", err)
        self.assertEqual(opener.requests, [])
        self.assertFalse(self.config_file.exists())

    def test_a_refused_token_is_not_saved(self):
        refused = {"errors": ["Invalid token: it does not exist or was revoked."]}
        code, out, err, _ = self.bench("login", "--token", "bad", answers=[(401, refused)])
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err,
            "error: http://127.0.0.1:8000 refused this token: Invalid token: it does not exist "
            "or was revoked. Nothing was saved.\n",
        )
        self.assertFalse(self.config_file.exists())

    def test_an_unreachable_platform_saves_nothing(self):
        from urllib.error import URLError

        code, _, err, _ = self.bench(
            "login", "--token", "k", answers=[URLError(ConnectionRefusedError("refused"))]
        )
        self.assertEqual((code, err), (1, "error: Cannot reach http://127.0.0.1:8000: refused.\n"))
        self.assertFalse(self.config_file.exists())

    def test_it_says_when_bench_token_will_win_over_the_saved_token(self):
        os.environ["BENCH_TOKEN"] = "env"
        code, _, err, _ = self.bench("login", "--token", "k3y", answers=[(200, OWN)])
        self.assertEqual(code, 0)
        self.assertEqual(err, "Note: BENCH_TOKEN is set, and is used instead of the saved token.\n")

    def test_a_second_platform_keeps_the_first_ones_token(self):
        self.bench("--url", "http://a.example", "login", "--token", "ka", answers=[(200, OWN)])
        self.bench("--url", "http://b.example", "login", "--token", "kb", answers=[(200, OWN)])
        self.assertEqual(
            self.saved(),
            {
                "url": "http://b.example",
                "tokens": {"http://a.example": "ka", "http://b.example": "kb"},
            },
        )
        _, _, _, opener = self.bench(
            "--url", "http://a.example", "status", "1", answers=[(200, DETAIL)]
        )
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token ka")

    def test_logout_removes_the_token_of_the_address(self):
        self.bench("login", "--token", "k3y", answers=[(200, OWN)])
        code, out, _, _ = self.bench("logout")
        self.assertEqual((code, out), (0, "Removed the saved token of http://127.0.0.1:8000.\n"))
        self.assertEqual(self.saved()["tokens"], {})
        _, out, _, _ = self.bench("logout")
        self.assertEqual(out, "No token of http://127.0.0.1:8000 was saved.\n")


class PrecedenceTests(ClientTestCase):
    def save(self, data: dict) -> None:
        folder = self.config_home / "benchclient"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(data))

    def request_of(self, *argv):
        _, _, _, opener = self.bench(*argv, "status", "1", answers=[(200, DETAIL)])
        (request,) = opener.requests
        return request.full_url.removesuffix("/api/v1/submissions/1/"), request.get_header(
            "Authorization"
        )

    def test_options_win_over_the_environment_which_wins_over_the_config_file(self):
        self.save({"url": "http://file", "tokens": {"http://file": "f", "http://env": "fe"}})
        self.assertEqual(self.request_of(), ("http://file", "Token f"))
        os.environ.update(BENCH_URL="http://env")
        # The file's token of that address, never another address's.
        self.assertEqual(self.request_of(), ("http://env", "Token fe"))
        os.environ.update(BENCH_TOKEN="e")
        self.assertEqual(self.request_of(), ("http://env", "Token e"))
        self.assertEqual(
            self.request_of("--url", "http://opt", "--token", "o"), ("http://opt", "Token o")
        )

    def test_a_saved_token_is_not_sent_to_another_address(self):
        self.save({"url": "http://file", "tokens": {"http://file": "f"}})
        _, _, _, opener = self.bench(
            "--url", "http://other", "leaderboard", "x", answers=[(200, BOARD)]
        )
        self.assertIsNone(opener.requests[0].get_header("Authorization"))

    def test_without_anything_it_is_the_local_default(self):
        _, _, _, opener = self.bench("leaderboard", "x", answers=[(200, BOARD)])
        self.assertTrue(opener.requests[0].full_url.startswith("http://127.0.0.1:8000/"))

    def test_a_broken_config_file_is_reported_not_raised(self):
        folder = self.config_home / "benchclient"
        folder.mkdir()
        (folder / "config.json").write_text("{not json")
        code, _, err, _ = self.bench("leaderboard", "x")
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            f"error: {folder / 'config.json'} is not a config file of bench: fix or delete it.\n",
        )

    def test_the_config_folder_defaults_to_dot_config_in_the_home_folder(self):
        del os.environ["XDG_CONFIG_HOME"]
        os.environ["HOME"] = str(self.config_home)
        self.bench("login", "--token", "k3y", answers=[(200, OWN)])
        path = self.config_home / ".config" / "benchclient" / "config.json"
        self.assertEqual(json.loads(path.read_text())["tokens"], {"http://127.0.0.1:8000": "k3y"})
