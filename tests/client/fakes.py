"""Test doubles for the `bench` client: an opener that answers from a script instead of the
network, sample answers of the API, and a base class that runs `bench` in-process."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import io
import json
import os
import tempfile
from pathlib import Path
from unittest import mock
from urllib.error import HTTPError

from benchclient.cli import main
from django.test import SimpleTestCase


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, headers: dict[str, str]):
        super().__init__(data)
        self.headers = headers


class FakeOpener:
    """Answers requests in order with (status, JSON body[, headers]) or raises given
    exceptions; a 4xx/5xx answer's headers come with its HTTPError."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def open(self, request, timeout=None):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body, *headers = answer
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if status >= 400:
            raise HTTPError(
                request.full_url, status, "Refused", headers[0] if headers else {}, io.BytesIO(data)
            )
        return FakeResponse(data, headers[0] if headers else {})


def multipart_fields(request) -> dict:
    """{name: (filename, bytes)} of a multipart request, parsed back."""
    head = f"Content-Type: {request.get_header('Content-type')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.data)
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


DETAIL = {
    "id": 12,
    "url": "/api/v1/submissions/12/",
    "benchmark": "sentiment",
    "task": None,
    "kind": "predictions",
    "name": "first try",
    "status": "scored",
    "progress": 1.0,
    "error": None,
    "created_at": "2026-01-02T03:04:05Z",
    "started_at": None,
    "finished_at": "2026-01-02T03:04:09Z",
    "evaluations": [
        {
            "task": "sst",
            "split": "dev",
            "role": "public",
            "withheld": False,
            "metrics": {"accuracy": {"value": 0.7, "ci": [0.64, 0.76]}},
        },
        {"task": "sst", "split": "test", "role": "hidden", "withheld": True, "metrics": None},
    ],
}

BOARD = {
    "benchmark": "sentiment",
    "task": "sst",
    "split": "test",
    "sort": "accuracy",
    "columns": ["accuracy", "f1_macro"],
    "rows": [
        {
            "rank": 1,
            "submission": 7,
            "participant": "bob",
            "name": "big model",
            "kind": "predictions",
            "is_baseline": False,
            "created_at": "2026-01-01T00:00:00Z",
            "metrics": {"accuracy": {"value": 0.9, "ci": None}, "f1_macro": {"value": 0.85}},
        },
        {
            "rank": 1,
            "submission": 3,
            "participant": "author",
            "name": "majority",
            "kind": "predictions",
            "is_baseline": True,
            "created_at": "2026-01-01T00:00:00Z",
            "metrics": {"accuracy": {"value": 0.9, "ci": None}},
        },
        {
            "rank": None,
            "submission": 9,
            "participant": "alice",
            "name": "broken",
            "kind": "predictions",
            "is_baseline": False,
            "created_at": "2026-01-01T00:00:00Z",
            "metrics": {"accuracy": {"value": None, "ci": None}},
        },
    ],
    "next": None,
}


class ClientTestCase(SimpleTestCase):
    """No BENCH_ variables, and a config folder of the test's own (`self.config_home`)."""

    def setUp(self):
        home = tempfile.TemporaryDirectory()
        self.addCleanup(home.cleanup)
        self.config_home = Path(home.name)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
        environ["XDG_CONFIG_HOME"] = home.name
        patcher = mock.patch.dict(os.environ, environ, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.prediction_file = tempfile.NamedTemporaryFile(suffix=".csv")  # noqa: SIM115
        self.prediction_file.write(b"id,prediction\ntest-000,pos\n")
        self.prediction_file.flush()
        self.addCleanup(self.prediction_file.close)

    def bench(self, *argv, answers=()) -> tuple[int, str, str, FakeOpener]:
        opener = FakeOpener(*answers)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(list(argv), opener=opener, out=out)
        return code, out.getvalue(), err.getvalue(), opener
