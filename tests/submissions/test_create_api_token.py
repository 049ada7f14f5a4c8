"""`manage.py create_api_token USERNAME [--create-user] [--name NAME]`."""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.keys import key_digest
from accounts.models import ApiToken
from tests.base import PlatformTestCase, make_scored_submission


def create_api_token(*args) -> list[str]:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().splitlines()


class CreateApiTokenCommandTests(PlatformTestCase):
    def test_it_prints_the_key_alone_on_its_last_line_and_stores_only_its_digest(self):
        lines = create_api_token("alice")
        key = lines[-1]
        token = ApiToken.objects.get(user=self.alice)
        self.assertEqual(token.name, "cli")
        self.assertEqual(token.digest, key_digest(key))
        self.assertTrue(key.startswith(token.prefix))
        self.assertNotIn(key, " ".join(lines[:-1]))
        self.assertEqual(
            lines[-2],
            "Created API token 'cli' for 'alice'; send it as 'Authorization: Token <key>'. "
            "The key is shown only this once:",
        )

    def test_the_printed_key_authenticates_api_requests(self):
        submission = make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 1}})
        key = create_api_token("alice")[-1]
        response = self.client.get(
            f"/api/v1/submissions/{submission.pk}/", headers={"Authorization": f"Token {key}"}
        )
        self.assertEqual(response.status_code, 200)

    def test_a_name_gives_the_user_another_token(self):
        cli = create_api_token("bob")[-1]
        ci = create_api_token("bob", "--name", "ci")[-1]
        self.assertNotEqual(cli, ci)
        names = set(ApiToken.objects.filter(user=self.bob).values_list("name", flat=True))
        self.assertEqual(names, {"cli", "ci"})

    def test_running_it_again_replaces_the_token_of_that_name(self):
        first = create_api_token("bob")[-1]
        lines = create_api_token("bob")
        self.assertTrue(lines[-2].startswith("Replaced API token 'cli' for 'bob'"))
        self.assertNotEqual(lines[-1], first)
        token = ApiToken.objects.get(user=self.bob)
        self.assertEqual(token.digest, key_digest(lines[-1]))
        response = self.client.get(
            "/api/v1/submissions/", headers={"Authorization": f"Token {first}"}
        )
        self.assertEqual(response.status_code, 401)

    def test_a_name_that_is_too_long_is_an_error(self):
        with self.assertRaisesMessage(CommandError, "at most 60 characters"):
            create_api_token("alice", "--name", "x" * 61)

    def test_an_unknown_user_is_an_error_that_suggests_create_user(self):
        with self.assertRaisesMessage(CommandError, "No user 'carol'"):
            create_api_token("carol")
        with self.assertRaisesMessage(CommandError, "--create-user"):
            create_api_token("carol")
        self.assertFalse(get_user_model().objects.filter(username="carol").exists())

    def test_create_user_makes_an_api_only_user_with_a_token(self):
        lines = create_api_token("carol", "--create-user")
        carol = get_user_model().objects.get(username="carol")
        self.assertEqual(lines[0], "Created user 'carol' (no password: API access only).")
        self.assertFalse(carol.has_usable_password())
        self.assertEqual(ApiToken.objects.get(user=carol).digest, key_digest(lines[-1]))

    def test_create_user_keeps_an_existing_user(self):
        key = create_api_token("alice", "--create-user")[-1]
        self.assertEqual(ApiToken.objects.get(user=self.alice).digest, key_digest(key))
        self.assertTrue(self.alice.has_usable_password())
