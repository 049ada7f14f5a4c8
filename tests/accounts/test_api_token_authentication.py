"""`Authorization: Token <key>` with a named token (accounts.authentication), against a real API
endpoint: GET /api/v1/submissions/ lists the caller's own submissions."""

import logging
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_revoke
from tests.base import PlatformTestCase, make_scored_submission

User = get_user_model()


class ApiTokenAuthenticationTests(PlatformTestCase):
    url = reverse("api-submission-list")

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        scores = {"test": {"accuracy": 0.9}}
        cls.alices = make_scored_submission(cls.benchmark, cls.alice, scores)
        cls.bobs = make_scored_submission(cls.benchmark, cls.bob, scores)

    def setUp(self):
        self.token, self.key = api_token_create(user=self.alice, name="laptop")

    def get(self, key: str):
        return self.client.get(self.url, headers={"Authorization": f"Token {key}"})

    def test_a_key_lists_its_owners_submissions(self):
        response = self.get(self.key)
        self.assertEqual(response.status_code, 200, response.content)
        ids = [row["id"] for row in response.json()["submissions"]]
        self.assertEqual(ids, [self.alices.pk])

    def test_each_of_several_tokens_works(self):
        _, other_key = api_token_create(user=self.alice, name="cluster")
        self.assertEqual(self.get(self.key).status_code, 200)
        self.assertEqual(self.get(other_key).status_code, 200)

    def test_a_revoked_key_is_a_401_in_the_apis_shape_without_the_key(self):
        api_token_revoke(token=self.token)
        response = self.get(self.key)
        errors = self.assert_errors(response, 401)
        self.assertIn("revoked", errors[0])
        self.assertEqual(response["WWW-Authenticate"], "Token")
        self.assertNotIn(self.key, response.content.decode())
        self.assertNotIn(self.token.prefix, response.content.decode())

    def test_an_unknown_key_of_the_platforms_form_is_a_401(self):
        self.assert_errors(self.get("bpt_" + "x" * 43), 401)

    def test_a_key_of_an_inactive_account_is_a_401(self):
        User.objects.filter(pk=self.alice.pk).update(is_active=False)
        errors = self.assert_errors(self.get(self.key), 401)
        self.assertIn("inactive", errors[0])

    def test_an_older_authtoken_key_still_works_and_a_wrong_one_is_a_401(self):
        legacy = Token.objects.create(user=self.bob)
        response = self.get(legacy.key)
        self.assertEqual(response.status_code, 200)
        self.assertEqual([row["id"] for row in response.json()["submissions"]], [self.bobs.pk])
        self.assert_errors(self.get("0" * 40), 401)

    def test_no_header_is_a_401_for_an_endpoint_that_needs_an_account(self):
        self.assert_errors(self.client.get(self.url), 401)

    def test_a_malformed_header_is_a_401(self):
        response = self.client.get(self.url, headers={"Authorization": "Token a b"})
        self.assert_errors(response, 401)

    def test_using_a_token_records_when_at_most_once_a_minute(self):
        self.assertIsNone(self.token.last_used_at)
        self.get(self.key)
        self.token.refresh_from_db()
        first = self.token.last_used_at
        self.assertIsNotNone(first)
        self.assertLess(timezone.now() - first, timedelta(seconds=30))

        self.get(self.key)
        self.token.refresh_from_db()
        self.assertEqual(self.token.last_used_at, first)

        earlier = timezone.now() - timedelta(minutes=2)
        ApiToken.objects.filter(pk=self.token.pk).update(last_used_at=earlier)
        self.get(self.key)
        self.token.refresh_from_db()
        self.assertGreater(self.token.last_used_at, earlier + timedelta(minutes=1))

    def test_a_recent_use_costs_no_write(self):
        self.get(self.key)
        with self.assertNumQueries(2):
            # The token with its user, then the endpoint's page: no UPDATE.
            self.get(self.key)

    def test_the_key_and_digest_appear_in_no_log(self):
        api_token_revoke(token=self.token)
        with self.assertLogs(level="DEBUG") as logs:
            self.get(self.key)
            self.get(self.key[:-1])
            logging.getLogger("test").debug("assertLogs needs one record at least")
        text = "\n".join(logs.output)
        self.assertNotIn(self.key[-20:], text)
        self.assertNotIn(self.token.digest, text)

    def test_the_page_session_still_works_for_the_api(self):
        self.client.force_login(self.bob)
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
