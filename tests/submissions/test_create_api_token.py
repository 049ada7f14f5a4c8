"""`manage.py create_api_token USERNAME [--create-user]`."""

from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.base import PlatformTestCase, make_scored_submission


def create_api_token(*args) -> list[str]:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().splitlines()


class CreateApiTokenCommandTests(PlatformTestCase):
    def test_it_prints_the_token_alone_on_its_last_line(self):
        lines = create_api_token("alice")
        self.assertEqual(lines[-1], Token.objects.get(user=self.alice).key)
        self.assertEqual(len(lines[-1]), 40)

    def test_the_printed_token_authenticates_api_requests(self):
        submission = make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 1}})
        key = create_api_token("alice")[-1]
        response = self.client.get(
            f"/api/v1/submissions/{submission.pk}/", headers={"Authorization": f"Token {key}"}
        )
        self.assertEqual(response.status_code, 200)

    def test_it_prints_the_same_token_when_run_again(self):
        self.assertEqual(create_api_token("bob")[-1], create_api_token("bob")[-1])
        self.assertEqual(Token.objects.filter(user=self.bob).count(), 1)

    def test_an_unknown_user_is_an_error_that_suggests_create_user(self):
        with self.assertRaisesMessage(CommandError, "No user 'carol'"):
            create_api_token("carol")
        with self.assertRaisesMessage(CommandError, "--create-user"):
            create_api_token("carol")
        self.assertFalse(get_user_model().objects.filter(username="carol").exists())

    def test_create_user_makes_an_api_only_user_with_a_token(self):
        key = create_api_token("carol", "--create-user")[-1]
        carol = get_user_model().objects.get(username="carol")
        self.assertFalse(carol.has_usable_password())
        self.assertEqual(Token.objects.get(user=carol).key, key)

    def test_create_user_keeps_an_existing_user(self):
        key = create_api_token("alice", "--create-user")[-1]
        self.assertEqual(Token.objects.get(user=self.alice).key, key)
        self.assertTrue(self.alice.has_usable_password())
