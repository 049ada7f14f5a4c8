"""Schemathesis against the API's own OpenAPI schema (docs/api.md, "The schemathesis check"):
every operation, fed requests generated from its schema (valid and invalid ones), never answers
a server error, and answers only what the schema says: documented status codes and content
types, bodies that match their schemas.

The schema is read from /api/schema/ and the requests go through the WSGI application in this
process, inside the test's transaction: nothing is committed, so no job is ever published.
Requests go out anonymous, as a participant (token) and as staff (token); path and query
parameters are now and then swapped for names and ids that exist, the submission ids among those
of the caller, so that generated requests reach past the 404s into the views.
"""

from __future__ import annotations

import os

import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from submissions.models import Submission
from submissions.teams import team_create, team_invite
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission

# Examples per operation. Deterministic by default (the same examples every run); for a deeper
# run with new examples each time: API_FUZZ_EXAMPLES=300 API_FUZZ_RANDOM=1.
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "50"))
RANDOM = bool(os.environ.get("API_FUZZ_RANDOM"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations whose 503 is documented: no sandbox for model runs, or the Hub out of reach.
UNAVAILABLE_ALLOWED = {"submission_create", "model_evaluate"}


class ApiFuzzTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        make_benchmark("another", maintainers=(cls.author,))
        metrics = {"accuracy": 0.7, "f1_macro": 0.6}
        for user in (cls.alice, cls.bob, cls.author):
            make_scored_submission(cls.benchmark, user, {"dev": metrics, "test": metrics})
        make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"test": {"accuracy": 0.8, "f1_macro": None}},
            kind=Submission.Kind.MODEL,
            model_repo_id="org/model",
            model_revision="main",
            model_sha="a" * 40,
        )
        make_scored_submission(
            cls.benchmark, cls.staff, {"test": {"accuracy": 0.5}}, is_baseline=True
        )
        Submission.objects.create(benchmark=cls.benchmark, participant=cls.alice)
        Submission.objects.create(benchmark=cls.benchmark, participant=cls.bob, is_private=True)
        cls.tokens = {user: Token.objects.create(user=user).key for user in (cls.alice, cls.staff)}
        team = team_create(benchmark=cls.benchmark, user=cls.bob, name="bob's")
        cls.invitation = team_invite(team=team, by=cls.bob, who="alice")

    def setUp(self):
        # Django's test client keeps a request from closing the test's connection (which would
        # end the test's transaction); requests through the WSGI application need the same.
        for signal in (request_started, request_finished):
            signal.disconnect(close_old_connections)
            self.addCleanup(signal.connect, close_old_connections)
        throttles = override_settings(THROTTLE_RATES=dict.fromkeys(settings.THROTTLE_RATES))
        throttles.enable()
        self.addCleanup(throttles.disable)

    def identities(self) -> list[tuple[dict, dict[str, list]]]:
        """(headers, real values of parameters) of each caller."""
        every = list(Submission.objects.values_list("pk", flat=True))
        mine = list(Submission.objects.filter(participant=self.alice).values_list("pk", flat=True))
        # Names that exist, and values that once broke a view: digits int() refuses, numbers
        # past a database integer, a NUL character (PostgreSQL refuses to compare it).
        common = {
            "slug": ["sentiment", "another"],
            "task": ["sst"],
            "split": ["dev", "test", "a\x00b"],
            "task_type": ["text-classification", "regression"],
            "benchmark": ["sentiment", "a\x00b"],
            "sort": ["accuracy", "f1_macro", "rows_per_second"],
            "slice": ["topic"],
            "cell": ["food", "topic:food"],
            "page": ["2", "²", "9" * 30],
            "submissions": [f"{every[0]},{every[1]}", f"{every[0]},{every[2]},{every[3]}", "²,3"],
            "invitation_id": [self.invitation.pk, 10**12],
        }
        return [
            ({}, {**common, "submission_id": every}),
            (self.token_header(self.alice), {**common, "submission_id": mine}),
            (self.token_header(self.staff), {**common, "submission_id": every}),
        ]

    def token_header(self, user) -> dict:
        return {"Authorization": f"Token {self.tokens[user]}"}

    def test_every_operation_answers_as_documented_and_never_a_server_error(self):
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
        operations = [result.ok() for result in schema.get_all_operations()]
        self.assertGreaterEqual(len(operations), 19)
        for operation in operations:
            with self.subTest(operation.label):
                self.edges(operation)
                self.fuzz(operation)

    def send(self, operation, case, headers: dict) -> None:
        response = case.call(headers=headers)
        operation_id = operation.definition.raw.get("operationId")
        if response.status_code == 503 and operation_id in UNAVAILABLE_ALLOWED:
            return
        case.validate_response(response, checks=CHECKS, headers=headers)

    def edges(self, operation) -> None:
        """What generation rarely reaches: each caller on a real object of theirs with no query,
        and with an empty body of each media type (every required field missing)."""
        for headers, real in self.identities():
            path = {p.name: real[p.name][0] for p in operation.path_parameters if p.name in real}
            cases = [operation.Case(path_parameters=path)]
            cases += [
                operation.Case(path_parameters=path, body={}, media_type=body.media_type)
                for body in operation.body
            ]
            for case in cases:
                self.send(operation, case, headers)

    def fuzz(self, operation) -> None:
        identities = self.identities()
        path_names = [p.name for p in operation.path_parameters]
        query_names = [p.name for p in operation.query]
        strategy = st.one_of(
            operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
        )

        # No shrinking: a failure is reported as the request that failed (a curl command).
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=not RANDOM,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy, data=st.data())
        def check(case, data):
            headers, real = data.draw(st.sampled_from(identities), label="caller")
            for name in path_names:
                if name in real and data.draw(st.booleans(), label=f"real {name}"):
                    case.path_parameters[name] = data.draw(st.sampled_from(real[name]))
            for name in query_names:
                if name in real and data.draw(st.booleans(), label=f"real {name}"):
                    value = data.draw(st.sampled_from(real[name]))
                    case.query = {**(case.query or {}), name: value}
            self.send(operation, case, headers)

        check()
