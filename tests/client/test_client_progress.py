"""`bench status`: once, or following a submission until a final state with its progress on
stderr (a bar redrawn in place on a terminal, a line per change otherwise)."""

from __future__ import annotations

import contextlib
import io
import os
from unittest import mock

from benchclient.cli import main

from tests.client.fakes import DETAIL, ClientTestCase, FakeOpener

QUEUED = {**DETAIL, "status": "queued", "progress": 0.0, "evaluations": [], "finished_at": None}
RUNNING = {**QUEUED, "status": "running", "progress": 0.5}
MODEL_RUN = {
    **RUNNING,
    "kind": "model",
    "stage": "run",
    "progress": 0.25,
    "rows_done": 250,
    "rows_total": 1000,
}


class Terminal(io.StringIO):
    def isatty(self):
        return True


class StatusWaitTests(ClientTestCase):
    def setUp(self):
        super().setUp()
        patcher = mock.patch("benchclient.progress.time.sleep")
        self.sleep = patcher.start()
        self.addCleanup(patcher.stop)
        os.environ["COLUMNS"] = "120"  # the bar is cut to the terminal's width

    def run_bench(self, *argv, answers=(), err=None):
        opener = FakeOpener(*answers)
        out, err = io.StringIO(), err or io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["--token", "k", *argv], opener=opener, out=out)
        return code, out.getvalue(), err.getvalue(), opener

    def test_wait_prints_a_line_per_change_to_stderr_and_the_result_to_stdout(self):
        code, out, err, opener = self.run_bench(
            "status", "12", "--wait",
            answers=[(200, QUEUED), (200, RUNNING), (200, RUNNING), (200, DETAIL)],
        )  # fmt: skip
        self.assertEqual(code, 0)
        self.assertEqual(len(opener.requests), 4)
        self.assertEqual(self.sleep.call_count, 3)
        self.assertEqual(err, "#12: queued (0%)\n#12: running (50%)\n#12: scored (100%)\n")
        self.assertTrue(out.startswith("Submission #12 on sentiment\n"))
        self.assertIn("Status:   scored\n", out)

    def test_a_model_run_shows_its_stage(self):
        _, _, err, _ = self.run_bench(
            "status", "12", "--wait", answers=[(200, MODEL_RUN), (200, {**DETAIL, "kind": "model"})]
        )
        self.assertEqual(err, "#12: running, running the model (25%)\n#12: scored (100%)\n")

    def test_on_a_terminal_the_bar_is_redrawn_in_place(self):
        terminal = Terminal()
        code, _, err, _ = self.run_bench(
            "status", "12", answers=[(200, MODEL_RUN), (200, DETAIL)], err=terminal
        )
        self.assertEqual(code, 0)
        frames = err.split("\r")[1:]
        self.assertEqual(len(frames), 2)
        self.assertTrue(
            frames[0].startswith(
                "#12 [######------------------]  25%  running the model  250/1,000 rows  0:0"
            ),
            frames[0],
        )
        self.assertTrue(frames[0].endswith("\x1b[K"))
        self.assertTrue(frames[1].startswith("#12 [########################] 100%  scored"))
        self.assertTrue(frames[1].endswith("\x1b[K\n"))

    def test_waiting_is_the_default_on_a_terminal_only(self):
        code, out, err, opener = self.run_bench("status", "12", answers=[(200, RUNNING)])
        self.assertEqual((code, err, len(opener.requests)), (0, "", 1))
        self.assertIn("Status:   running (50%)", out)

    def test_no_wait_prints_once_on_a_terminal_too(self):
        code, out, err, _ = self.run_bench(
            "status", "12", "--no-wait", answers=[(200, RUNNING)], err=Terminal()
        )
        self.assertEqual((code, err), (0, ""))
        self.assertIn("Status:   running (50%)", out)

    def test_a_failed_submission_exits_1_after_waiting(self):
        failed = {**QUEUED, "status": "failed", "error": "Bad file."}
        code, out, _, _ = self.run_bench("status", "12", "--wait", answers=[(200, failed)])
        self.assertEqual(code, 1)
        self.assertIn("Error:    Bad file.", out)

    def test_a_rate_limit_while_waiting_is_waited_out(self):
        throttled = {"errors": ["Request was throttled. Expected available in 7 seconds."]}
        code, _, _, opener = self.run_bench(
            "status", "12", "--wait", "--interval", "2",
            answers=[(200, RUNNING), (429, throttled, {"Retry-After": "7"}), (200, DETAIL)],
        )  # fmt: skip
        self.assertEqual(code, 0)
        self.assertEqual(len(opener.requests), 3)
        self.assertEqual([c.args[0] for c in self.sleep.call_args_list], [2.0, 7.0])

    def test_a_platform_that_stays_away_ends_the_wait_with_its_error(self):
        unavailable = (503, {"errors": ["Service unavailable."]})
        code, _, err, opener = self.run_bench(
            "status", "12", "--wait", answers=[(200, RUNNING), *[unavailable] * 6]
        )
        self.assertEqual(code, 1)
        self.assertEqual(len(opener.requests), 7)
        self.assertTrue(err.endswith("error: Service unavailable.\n"))

    def test_a_first_refusal_is_not_retried(self):
        code, _, err, opener = self.run_bench(
            "status", "99", "--wait", answers=[(404, {"errors": ["No such submission."]})]
        )
        self.assertEqual((code, err, len(opener.requests)), (1, "error: No such submission.\n", 1))

    def test_ctrl_c_stops_waiting_and_says_how_to_come_back(self):
        code, out, err, _ = self.run_bench(
            "status", "12", "--wait", answers=[(200, RUNNING), KeyboardInterrupt()]
        )
        self.assertEqual((code, out), (130, ""))
        self.assertTrue(err.endswith("Stopped waiting; #12 goes on: bench status 12\n"))

    def test_ctrl_c_on_a_terminal_ends_the_bar_line_first(self):
        terminal = Terminal()
        self.run_bench("status", "12", answers=[(200, RUNNING), KeyboardInterrupt()], err=terminal)
        self.assertTrue(
            terminal.getvalue().endswith("\x1b[K\nStopped waiting; #12 goes on: bench status 12\n")
        )
