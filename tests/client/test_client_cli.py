"""The `bench` command line client, against a fake opener: the requests it builds, what it
prints, and how it reports the platform's errors."""

from __future__ import annotations

import http.client
import os
from unittest import mock
from urllib.error import URLError

from benchclient.api import encode_multipart
from django.test import SimpleTestCase

from tests.client.fakes import BOARD, DETAIL, ClientTestCase, multipart_fields


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
        self.assertEqual(
            err,
            "error: This needs an API token: run `bench login` (create a token on "
            "http://127.0.0.1:8000/accounts/tokens/), or pass --token or set BENCH_TOKEN.\n",
        )
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
        with mock.patch("benchclient.progress.time.sleep") as sleep:
            code, out, err, opener = self.bench(
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
        # Progress goes to stderr, a line per change; the result to stdout.
        self.assertEqual(err, "#12: running (50%)\n#12: scored (100%)\n")
        self.assertIn("Submitted #12 (queued)", out)
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


class ErrorReportingTests(ClientTestCase):
    """Expected failures end with `error:` lines on stderr and status 1, never a traceback."""

    def test_a_refused_token_says_where_it_came_from_and_how_to_get_a_new_one(self):
        os.environ["BENCH_TOKEN"] = "old"
        refused = {"errors": ["Invalid token: it does not exist or was revoked."]}
        code, out, err, _ = self.bench("status", "12", answers=[(401, refused)])
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(
            err,
            "error: Invalid token: it does not exist or was revoked. (the token from "
            "BENCH_TOKEN was refused; `bench login` saves a new one from "
            "http://127.0.0.1:8000/accounts/tokens/)\n",
        )

    def test_a_forbidden_submission_prints_the_platforms_message(self):
        refused = {"errors": ["This benchmark is closed to submissions."]}
        code, _, err, _ = self.bench(
            "--token", "k", "submit", "sentiment", self.prediction_file.name,
            answers=[(403, refused)],
        )  # fmt: skip
        self.assertEqual((code, err), (1, "error: This benchmark is closed to submissions.\n"))

    def test_a_rate_limit_prints_the_platforms_message(self):
        throttled = {"errors": ["Request was throttled. Expected available in 12 seconds."]}
        code, _, err, _ = self.bench(
            "leaderboard", "sentiment", answers=[(429, throttled, {"Retry-After": "12"})]
        )
        self.assertEqual(code, 1)
        self.assertEqual(err, "error: Request was throttled. Expected available in 12 seconds.\n")

    def test_a_refused_connection_is_one_line(self):
        code, _, err, _ = self.bench(
            "--url", "http://127.0.0.1:9", "benchmarks",
            answers=[URLError(ConnectionRefusedError(111, "Connection refused"))],
        )  # fmt: skip
        self.assertEqual(code, 1)
        self.assertEqual(
            err, "error: Cannot reach http://127.0.0.1:9: [Errno 111] Connection refused.\n"
        )

    def test_a_connection_closed_before_the_answer_is_one_line(self):
        closed = http.client.RemoteDisconnected("Remote end closed connection without response")
        code, _, err, _ = self.bench("benchmarks", answers=[closed])
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            "error: The connection to http://127.0.0.1:8000 failed: Remote end closed "
            "connection without response.\n",
        )

    def test_ctrl_c_exits_130_without_a_traceback(self):
        code, _, err, _ = self.bench("benchmarks", answers=[KeyboardInterrupt()])
        self.assertEqual((code, err), (130, "Interrupted.\n"))


BREAKDOWN = {
    "task": "sst",
    "split": "test",
    "role": "hidden",
    "primary": "accuracy",
    "overall": {"accuracy": {"value": 0.7, "ci": [0.64, 0.76]}, "f1_macro": {"value": 0.65}},
    "slices": [
        {
            "slice": "topic",
            "cell": "billing",
            "n": 42,
            "metrics": {"accuracy": {"value": 0.5, "ci": None}},
            "suppressed": False,
            "gap": -0.2,
        },
        {
            "slice": "topic",
            "cell": "refunds",
            "n": None,
            "metrics": None,
            "suppressed": True,
            "gap": None,
        },
    ],
    "confusion": {"labels": ["neg", "pos"], "matrix": [[10, 2], [3, 5]]},
}


class BreakdownCommandTests(ClientTestCase):
    def test_it_prints_the_overall_scores_the_cells_and_the_confusion_matrix(self):
        code, out, _, opener = self.bench(
            "--token", "k", "breakdown", "12", "--split", "test", answers=[(200, BREAKDOWN)]
        )
        self.assertEqual(code, 0)
        self.assertEqual(
            opener.requests[0].full_url,
            "http://127.0.0.1:8000/api/v1/submissions/12/breakdown/?split=test",
        )
        self.assertEqual(opener.requests[0].get_header("Authorization"), "Token k")
        self.assertEqual(
            out,
            "Submission #12: task sst, split test (hidden)\n"
            "  accuracy:           0.7000 [0.6400, 0.7600]\n"
            "  f1_macro:           0.6500\n"
            "\n"
            "SLICE  CELL     N   accuracy                                              "
            "GAP (accuracy)\n"
            "-----  -------  --  ----------------------------------------------------  "
            "--------------\n"
            "topic  billing  42  0.5000                                                -0.2000\n"
            "topic  refunds  -   (suppressed: too few rows to show on a hidden split)\n"
            "\n"
            "Confusion matrix (rows: gold label, columns: predicted label):\n"
            "GOLD  neg  pos\n"
            "----  ---  ---\n"
            "neg   10   2\n"
            "pos   3    5\n",
        )

    def test_withheld_scores_say_so(self):
        withheld = {**BREAKDOWN, "overall": None, "slices": [], "confusion": None}
        code, out, _, _ = self.bench("breakdown", "12", answers=[(200, withheld)])
        self.assertEqual(code, 0)
        self.assertIn("No scores to break down (withheld, or not scored yet).", out)


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
