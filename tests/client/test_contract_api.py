"""The contract between `bench` (client/benchclient) and the API: the client's own code talks to
the real views, in this process, on real data, so every field it reads comes from what the
serializers and views really answer, never from a fixture written by hand.

Each answer is also checked against the API's OpenAPI schema as served at /api/schema/ (status
code, content type, body), and the fields the client reads are checked by name and type.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tempfile
from urllib.error import HTTPError
from urllib.parse import urlsplit

import requests
import schemathesis
from benchclient.api import ApiError, Client
from benchclient.cli import main
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from submissions.models import Submission
from tests.base import (
    PlatformTestCase,
    gold_rows,
    make_scored_submission,
    prediction_csv,
)

NUMBER = (int, float)
NULL = type(None)

# What client/benchclient reads of each answer (api.py, cli.py), and the types it expects.
CREATED_READS = {"id": int, "status": str, "url": str}
DETAIL_READS = {
    "id": int,
    "benchmark": str,
    "kind": str,
    "stage": str,
    "name": str,
    "status": str,
    "progress": NUMBER,
    "created_at": str,
    "finished_at": (str, NULL),
    "error": (str, NULL),
    "model": (dict, NULL),
    "evaluations": list,
}
MODEL_READS = {"repo_id": str, "revision": str, "sha": str}
EVALUATION_READS = {"task": str, "split": str, "role": str, "withheld": bool, "metrics": dict}
METRIC_READS = {"value": (*NUMBER, NULL), "ci": (list, NULL)}
BOARD_READS = {
    "benchmark": str,
    "task": str,
    "split": str,
    "sort": str,
    "columns": list,
    "rows": list,
    "next": (str, NULL),
}
ROW_READS = {
    "rank": (int, NULL),
    "participant": str,
    "name": str,
    "submission": int,
    "is_baseline": bool,
    "metrics": dict,
}


class DjangoOpener:
    """A urllib opener for benchclient.Client that answers through Django's test client, and
    keeps each exchange for the schema check."""

    def __init__(self, client):
        self.client = client
        self.exchanges = []

    def open(self, request, timeout=None):
        url = urlsplit(request.full_url)
        headers = dict(request.header_items())
        content_type = headers.pop("Content-type", "application/octet-stream")
        response = self.client.generic(
            request.get_method(),
            f"{url.path}?{url.query}" if url.query else url.path,
            data=request.data or b"",
            content_type=content_type,
            headers=headers,
        )
        self.exchanges.append((request.get_method(), url.path, response))
        body = response.content
        if response.status_code >= 400:
            raise HTTPError(request.full_url, response.status_code, "", {}, io.BytesIO(body))
        answer = io.BytesIO(body)
        answer.headers = dict(response.headers)
        return answer


def path_parameters(template: str, path: str) -> dict[str, str]:
    """The values of a path template's `{name}` parameters in a concrete path."""
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return re.fullmatch(pattern, path).groupdict()


def schemathesis_response(method: str, path: str, response) -> schemathesis.Response:
    return schemathesis.Response(
        status_code=response.status_code,
        headers={name.lower(): [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method, f"http://testserver{path}").prepare(),
        elapsed=0.0,
        verify=True,
    )


class ClientContractTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.token = Token.objects.create(user=cls.alice).key

    def setUp(self):
        self.opener = DjangoOpener(self.client)
        self.bench = Client("http://testserver", self.token, opener=self.opener)
        schema = self.client.get("/api/schema/", {"format": "json"}).json()
        self.schema = schemathesis.openapi.from_dict(schema)

    def tearDown(self):
        self.assert_answers_match_the_schema()

    def assert_answers_match_the_schema(self):
        self.assertTrue(self.opener.exchanges)
        checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
        for method, path, response in self.opener.exchanges:
            operation = self.schema.find_operation_by_path(method, path)
            self.assertIsNotNone(operation, f"{method} {path} is not in the schema")
            with self.subTest(f"{method} {path} {response.status_code}"):
                case = operation.Case(path_parameters=path_parameters(operation.path, path))
                case.validate_response(schemathesis_response(method, path, response), checks=checks)

    def assert_reads(self, data: dict, reads: dict) -> None:
        for field, expected in reads.items():
            self.assertIn(field, data)
            self.assertIsInstance(data[field], expected, field)

    def cli(self, *argv) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(
                ["--url", "http://testserver", "--token", self.token, *argv],
                opener=self.opener,
                out=out,
            )
        return code, out.getvalue(), err.getvalue()

    def write(self, content: bytes) -> str:
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        path = f"{folder.name}/predictions.csv"
        with open(path, "wb") as f:
            f.write(content)
        return path

    def test_submit_status_and_cancel(self):
        path = self.write(prediction_csv(gold_rows(self.benchmark)))
        created = self.bench.submit("sentiment", path, name="contract run")
        self.assert_reads(created, CREATED_READS)
        self.assertEqual(created["url"], f"/api/v1/submissions/{created['id']}/")

        detail = self.bench.submission(created["id"])
        self.assert_reads(detail, DETAIL_READS)
        self.assertEqual((detail["status"], detail["model"]), ("queued", None))
        code, out, _ = self.cli("status", str(created["id"]))
        self.assertEqual(code, 0)
        self.assertIn("Status:   queued (0%)", out)

        cancelled = self.bench.cancel(created["id"])
        self.assert_reads(cancelled, DETAIL_READS)
        self.assertEqual(cancelled["status"], "cancelled")

    def test_status_of_a_scored_model_submission(self):
        submission = make_scored_submission(
            self.benchmark,
            self.alice,
            {"dev": {"accuracy": 0.75, "f1_macro": None}, "test": {"accuracy": 0.5}},
            kind=Submission.Kind.MODEL,
            model_repo_id="org/model",
            model_revision="main",
            model_sha="b" * 40,
        )
        detail = self.bench.submission(submission.pk)
        self.assert_reads(detail, DETAIL_READS)
        self.assert_reads(detail["model"], MODEL_READS)
        self.assertTrue(detail["evaluations"])
        for evaluation in detail["evaluations"]:
            self.assert_reads(evaluation, EVALUATION_READS)
            for entry in evaluation["metrics"].values():
                self.assert_reads(entry, METRIC_READS)
        code, out, _ = self.cli("status", str(submission.pk))
        self.assertEqual(code, 0)
        self.assertIn(f"org/model@main ({'b' * 19})", out)
        self.assertIn("0.7500", out)

    def test_leaderboard(self):
        for user, value in ((self.alice, 0.8), (self.bob, 0.8), (self.author, None)):
            make_scored_submission(self.benchmark, user, {"test": {"accuracy": value}})
        make_scored_submission(
            self.benchmark, self.staff, {"test": {"accuracy": 0.5}}, is_baseline=True, name="b"
        )
        board = self.bench.leaderboard("sentiment")
        self.assert_reads(board, BOARD_READS)
        self.assertEqual(len(board["rows"]), 4)
        for row in board["rows"]:
            self.assert_reads(row, ROW_READS)
            for entry in row["metrics"].values():
                self.assert_reads(entry, METRIC_READS)
        self.assertEqual([r["rank"] for r in board["rows"]], [1, 1, 3, None])
        code, out, _ = self.cli("leaderboard", "sentiment", "--sort", "accuracy")
        self.assertEqual(code, 0)
        self.assertIn("b (baseline)", out)

    def test_download(self):
        data, name = self.bench.download("sentiment", "sst", "dev", fmt="jsonl")
        self.assertRegex(name, r"^sentiment-sst-dev.*\.jsonl$")
        first = json.loads(data.splitlines()[0])
        self.assertEqual(set(first), {"id", "text", "label"})

    def test_refusals_carry_the_platforms_messages(self):
        with self.assertRaises(ApiError) as refused:
            self.bench.submission(10**6)
        self.assertEqual(refused.exception.status, 404)
        self.assertTrue(all(isinstance(m, str) and m for m in refused.exception.messages))
        with self.assertRaises(ApiError) as refused:
            self.bench.leaderboard("sentiment", sort="no-such-metric")
        self.assertEqual(refused.exception.status, 400)
        self.assertIn("Unknown sort metric 'no-such-metric'", refused.exception.messages[0])
