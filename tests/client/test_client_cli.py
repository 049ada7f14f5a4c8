"""The `bench` command line client, against a fake opener: the requests it builds, what it
prints, and how it reports the platform's errors."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import io
import json
import os
import tempfile
from unittest import mock
from urllib.error import HTTPError, URLError

from benchclient.api import encode_multipart
from benchclient.cli import main
from django.test import SimpleTestCase


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, headers: dict[str, str]):
        super().__init__(data)
        self.headers = headers


class FakeOpener:
    """Answers requests in order with (status, JSON body[, headers]) or raises given
    exceptions."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def open(self, request, timeout=None):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body, *headers = answer
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if status >= 400:
            raise HTTPError(request.full_url, status, "Refused", {}, io.BytesIO(data))
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
    def setUp(self):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
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


class SubmitCommandTests(ClientTestCase):
    def test_it_uploads_the_file_as_multipart_with_the_token(self):
        created = {"id": 12, "status": "queued", "url": "/api/v1/submissions/12/"}
        code, out, _, opener = self.bench(
            "--url",
            "http://bench.example:8000/",
            "--token",
            "k3y",
            "submit",
            "sentiment",
            self.prediction_file.name,
            "--task",
            "sst",
            "--name",
            "my run",
            answers=[(201, created)],
        )
        self.assertEqual(code, 0)
        (request,) = opener.requests
        self.assertEqual(request.get_method(), "POST")
        self.assertEqual(
            request.full_url, "http://bench.example:8000/api/v1/benchmarks/sentiment/submissions/"
        )
        self.assertEqual(request.get_header("Authorization"), "Token k3y")
        fields = multipart_fields(request)
        filename = os.path.basename(self.prediction_file.name)
        self.assertEqual(fields["file"], (filename, b"id,prediction\ntest-000,pos\n"))
        self.assertEqual(fields["task"], (None, b"sst"))
        self.assertEqual(fields["name"], (None, b"my run"))
        self.assertNotIn("description", fields)
        self.assertIn(
            "Submitted #12 (queued): http://bench.example:8000/api/v1/submissions/12/", out
        )

    def test_it_reads_the_url_and_token_from_the_environment(self):
        os.environ.update({"BENCH_URL": "http://env.example", "BENCH_TOKEN": "envkey"})
        created = {"id": 1, "status": "queued", "url": "/api/v1/submissions/1/"}
        _, _, _, opener = self.bench(
            "submit", "sentiment", self.prediction_file.name, answers=[(201, created)]
        )
        self.assertTrue(opener.requests[0].full_url.startswith("http://env.example/api/v1/"))
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token envkey")

    def test_options_win_over_the_environment_after_the_command_too(self):
        os.environ.update({"BENCH_URL": "http://env.example", "BENCH_TOKEN": "envkey"})
        _, _, _, opener = self.bench(
            "status",
            "3",
            "--url",
            "http://opt.example",
            "--token",
            "optkey",
            answers=[(200, DETAIL)],
        )
        self.assertEqual(opener.requests[0].full_url, "http://opt.example/api/v1/submissions/3/")
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token optkey")

    def test_the_default_url_is_the_local_platform(self):
        _, _, _, opener = self.bench("leaderboard", "sentiment", answers=[(200, BOARD)])
        self.assertEqual(
            opener.requests[0].full_url,
            "http://127.0.0.1:8000/api/v1/benchmarks/sentiment/leaderboard/",
        )

    def test_it_needs_a_token_and_says_how_to_get_one(self):
        code, _, err, opener = self.bench("submit", "sentiment", self.prediction_file.name)
        self.assertEqual(code, 1)
        self.assertIn("BENCH_TOKEN", err)
        self.assertIn("create_api_token", err)
        self.assertEqual(opener.requests, [])

    def test_it_says_when_the_file_cannot_be_read(self):
        code, _, err, _ = self.bench("--token", "k", "submit", "sentiment", "/nonexistent/p.csv")
        self.assertEqual(code, 1)
        self.assertIn("Cannot read /nonexistent/p.csv", err)

    def test_it_prints_the_platforms_errors_and_exits_1(self):
        errors = {"errors": ["2 ids of the task are missing.", "1 id appears more than once."]}
        code, out, err, _ = self.bench(
            "--token",
            "k",
            "submit",
            "sentiment",
            self.prediction_file.name,
            answers=[(400, errors)],
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err, "error: 2 ids of the task are missing.\nerror: 1 id appears more than once.\n"
        )
        self.assertEqual(out, "")

    def test_wait_polls_until_the_submission_is_scored(self):
        created = {"id": 12, "status": "queued", "url": "/api/v1/submissions/12/"}
        running = {**DETAIL, "status": "running", "progress": 0.5, "evaluations": []}
        with mock.patch("benchclient.cli.time.sleep") as sleep:
            code, out, _, opener = self.bench(
                "--token",
                "k",
                "submit",
                "sentiment",
                self.prediction_file.name,
                "--wait",
                answers=[(201, created), (200, running), (200, running), (200, DETAIL)],
            )
        self.assertEqual(code, 0)
        self.assertEqual(sleep.call_count, 2)
        self.assertEqual(len(opener.requests), 4)
        self.assertEqual(out.count("#12: running (50%)"), 1)
        self.assertIn("#12: scored (100%)", out)
        self.assertIn("0.7000 [0.6400, 0.7600]", out)

    def test_wait_exits_1_with_the_error_of_a_failed_submission(self):
        created = {"id": 12, "status": "queued", "url": "/api/v1/submissions/12/"}
        failed = {**DETAIL, "status": "failed", "error": "Bad file.", "evaluations": []}
        code, out, _, _ = self.bench(
            "--token",
            "k",
            "submit",
            "sentiment",
            self.prediction_file.name,
            "--wait",
            answers=[(201, created), (200, failed)],
        )
        self.assertEqual(code, 1)
        self.assertIn("Error:    Bad file.", out)


class StatusCommandTests(ClientTestCase):
    def test_it_prints_the_submission_and_its_scores(self):
        code, out, _, opener = self.bench("--token", "k", "status", "12", answers=[(200, DETAIL)])
        self.assertEqual(code, 0)
        self.assertEqual(opener.requests[0].get_method(), "GET")
        self.assertEqual(
            out,
            "Submission #12 on sentiment\n"
            "Name:     first try\n"
            "Status:   scored\n"
            "Created:  2026-01-02T03:04:05Z\n"
            "Finished: 2026-01-02T03:04:09Z\n"
            "\n"
            "TASK  SPLIT  ROLE    accuracy\n"
            "----  -----  ------  -------------------------------------\n"
            "sst   dev    public  0.7000 [0.6400, 0.7600]\n"
            "sst   test   hidden  (withheld until the benchmark closes)\n",
        )

    def test_a_404_prints_the_platforms_message(self):
        code, _, err, _ = self.bench(
            "--token", "k", "status", "99", answers=[(404, {"errors": ["No such submission."]})]
        )
        self.assertEqual((code, err), (1, "error: No such submission.\n"))

    def test_an_answer_that_is_not_the_apis_is_reported_by_status(self):
        code, _, err, _ = self.bench(
            "--token", "k", "status", "1", answers=[(502, b"<html>Bad gateway</html>")]
        )
        self.assertEqual(code, 1)
        self.assertIn("HTTP 502", err)

    def test_an_unreachable_platform_is_reported(self):
        code, _, err, _ = self.bench(
            "--token", "k", "status", "1", answers=[URLError(ConnectionRefusedError("refused"))]
        )
        self.assertEqual(code, 1)
        self.assertIn("Cannot reach http://127.0.0.1:8000", err)

    def test_cancel_posts_to_the_cancel_endpoint(self):
        cancelled = {**DETAIL, "status": "cancelled", "evaluations": []}
        code, out, _, opener = self.bench(
            "--token", "k", "cancel", "12", answers=[(200, cancelled)]
        )
        self.assertEqual(code, 0)
        self.assertEqual(opener.requests[0].get_method(), "POST")
        self.assertTrue(opener.requests[0].full_url.endswith("/api/v1/submissions/12/cancel/"))
        self.assertIn("Status:   cancelled", out)


class LeaderboardCommandTests(ClientTestCase):
    def test_it_prints_ranks_ties_baselines_and_missing_values(self):
        code, out, _, opener = self.bench("leaderboard", "sentiment", answers=[(200, BOARD)])
        self.assertEqual(code, 0)
        self.assertIsNone(opener.requests[0].get_header("Authorization"))
        self.assertEqual(
            out,
            "sentiment: task sst, split test, sorted by accuracy\n"
            "RANK  PARTICIPANT  NAME                 ID  accuracy  f1_macro\n"
            "----  -----------  -------------------  --  --------  --------\n"
            "1     bob          big model            #7  0.9000    0.8500\n"
            "1     author       majority (baseline)  #3  0.9000    -\n"
            "-     alice        broken               #9  -         -\n",
        )

    def test_it_passes_task_split_sort_and_page(self):
        _, _, _, opener = self.bench(
            "leaderboard",
            "sentiment",
            "--task",
            "sst",
            "--split",
            "dev",
            "--sort",
            "f1_macro",
            "--page",
            "2",
            answers=[(200, BOARD)],
        )
        self.assertTrue(
            opener.requests[0].full_url.endswith(
                "/leaderboard/?task=sst&split=dev&sort=f1_macro&page=2"
            )
        )

    def test_it_says_how_to_see_more_rows(self):
        board = {**BOARD, "next": "http://x/api/v1/benchmarks/sentiment/leaderboard/?page=2"}
        _, out, _, _ = self.bench("leaderboard", "sentiment", answers=[(200, board)])
        self.assertIn("More rows: add --page 2.", out)

    def test_an_empty_board_says_so(self):
        _, out, _, _ = self.bench(
            "leaderboard", "sentiment", answers=[(200, {**BOARD, "rows": []})]
        )
        self.assertIn("No scored submissions yet.", out)

    def test_a_refused_final_board_prints_why(self):
        refused = {"errors": ["Scores on split 'test' are revealed when the benchmark closes."]}
        code, _, err, _ = self.bench("leaderboard", "sentiment", answers=[(403, refused)])
        self.assertEqual(code, 1)
        self.assertIn("revealed when the benchmark closes", err)


class DownloadCommandTests(ClientTestCase):
    CSV = b'"id","text","label"\n"train-000","good","pos"\n'

    def setUp(self):
        super().setUp()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = folder.name

    def work_in_folder(self):
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.folder)

    def test_it_writes_the_split_to_the_given_file(self):
        path = os.path.join(self.folder, "train.csv")
        code, out, err, opener = self.bench(
            "--token",
            "k",
            "download",
            "sentiment",
            "sst",
            "train",
            "-o",
            path,
            answers=[(200, self.CSV)],
        )
        self.assertEqual((code, err), (0, ""))
        (request,) = opener.requests
        self.assertEqual(request.get_method(), "GET")
        self.assertEqual(
            request.full_url,
            "http://127.0.0.1:8000/api/v1/benchmarks/sentiment/tasks/sst/splits/train/inputs"
            "?format=csv",
        )
        self.assertEqual(request.get_header("Authorization"), "Token k")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.CSV)
        self.assertEqual(out, f"Wrote {path} ({len(self.CSV)} bytes).\n")

    def test_it_asks_for_the_format_and_takes_the_name_the_platform_suggests(self):
        headers = {
            "Content-Disposition": 'attachment; filename="sentiment-sst-test-inputs.parquet"'
        }
        self.work_in_folder()
        code, out, _, opener = self.bench(
            "download",
            "sentiment",
            "sst",
            "test",
            "--format",
            "parquet",
            answers=[(200, b"PAR1", headers)],
        )
        self.assertEqual(code, 0)
        self.assertTrue(opener.requests[0].full_url.endswith("/splits/test/inputs?format=parquet"))
        with open(os.path.join(self.folder, "sentiment-sst-test-inputs.parquet"), "rb") as f:
            self.assertEqual(f.read(), b"PAR1")
        self.assertIn("Wrote sentiment-sst-test-inputs.parquet (4 bytes).", out)

    def test_a_suggested_name_cannot_leave_the_folder(self):
        headers = {"Content-Disposition": 'attachment; filename="../../etc/.profile"'}
        self.work_in_folder()
        code, _, _, _ = self.bench(
            "download", "sentiment", "sst", "dev", answers=[(200, b"x", headers)]
        )
        self.assertEqual(code, 0)
        self.assertEqual(os.listdir(self.folder), ["profile"])

    def test_a_refused_download_prints_the_platforms_message_and_writes_nothing(self):
        refused = {"errors": ["The inputs of split 'test' are not downloadable."]}
        path = os.path.join(self.folder, "test.csv")
        code, out, err, _ = self.bench(
            "download", "sentiment", "sst", "test", "-o", path, answers=[(404, refused)]
        )
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "error: The inputs of split 'test' are not downloadable.\n")
        self.assertFalse(os.path.exists(path))

    def test_an_unwritable_file_is_reported(self):
        path = os.path.join(self.folder, "no-such-folder", "x.csv")
        code, _, err, _ = self.bench(
            "download", "sentiment", "sst", "train", "-o", path, answers=[(200, self.CSV)]
        )
        self.assertEqual(code, 1)
        self.assertIn(f"Cannot write {path}", err)

    def test_only_known_formats_are_asked_for(self):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            main(["download", "sentiment", "sst", "train", "--format", "xlsx"])


class MultipartEncodingTests(SimpleTestCase):
    def test_a_file_name_cannot_break_the_part_header(self):
        body, content_type = encode_multipart({}, {"file": ('a"b\r\nc.csv', b"x")})
        self.assertIn(b'filename="a_b__c.csv"', body)
        self.assertTrue(content_type.startswith("multipart/form-data; boundary="))

    def test_binary_content_is_kept_byte_for_byte(self):
        data = bytes(range(256)) * 4
        body, content_type = encode_multipart({"name": "ü"}, {"file": ("p.parquet", data)})

        class Request:
            def get_header(self, name):
                return content_type

        Request.data = body
        fields = multipart_fields(Request())
        self.assertEqual(fields["file"], ("p.parquet", data))
        self.assertEqual(fields["name"][1].decode(), "ü")
