"""`bench` end to end against a real server (LiveServerTestCase): login, download, submit,
status, breakdown, leaderboard.
Scoring is not run: publishing to the broker is replaced, so the submission stays queued
(tests/e2e/test_cli_live.py runs the installed command against a real worker)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path
from unittest import mock

from benchclient.cli import main
from django.test import LiveServerTestCase
from rest_framework.authtoken.models import Token

from accounts.services import api_token_create
from submissions.models import Submission
from tests.base import gold_rows, make_benchmark, make_scored_submission, make_user, prediction_csv


class BenchAgainstALiveServerTests(LiveServerTestCase):
    def setUp(self):
        self.author = make_user("author")
        self.alice = make_user("alice")
        self.benchmark = make_benchmark(maintainers=(self.author,))
        self.token = Token.objects.create(user=self.alice).key
        patcher = mock.patch("submissions.tasks.score_submission.apply_async")
        self.enqueue = patcher.start()
        self.addCleanup(patcher.stop)
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)
        # A config folder of the test's own, and no BENCH_ variables.
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
        environ["XDG_CONFIG_HOME"] = str(self.folder / "config")
        patcher = mock.patch.dict(os.environ, environ, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def bench(self, *argv) -> tuple[int, str, str]:
        return self.bench_as_configured("--url", self.live_server_url, "--token", self.token, *argv)

    def bench_as_configured(self, *argv) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(list(argv), out=out)
        return code, out.getvalue(), err.getvalue()

    def write(self, name: str, content: bytes) -> str:
        path = self.folder / name
        path.write_bytes(content)
        return str(path)

    def test_a_participant_submits_follows_and_reads_the_leaderboard(self):
        path = self.write("predictions.csv", prediction_csv(gold_rows(self.benchmark)))
        code, out, err = self.bench("submit", "sentiment", path, "--name", "cli run")
        self.assertEqual((code, err), (0, ""))
        submission_id = int(re.search(r"Submitted #(\d+) \(queued\)", out).group(1))
        submission = Submission.objects.get(pk=submission_id)
        self.assertEqual((submission.participant, submission.name), (self.alice, "cli run"))
        self.enqueue.assert_called_once()
        self.assertEqual(self.enqueue.call_args.kwargs["args"], [submission_id])
        self.assertEqual(self.enqueue.call_args.kwargs["task_id"], submission.celery_task_id)

        code, out, _ = self.bench("status", str(submission_id))
        self.assertEqual(code, 0)
        self.assertIn(f"Submission #{submission_id} on sentiment", out)
        self.assertIn("Status:   queued (0%)", out)

        make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 0.75}}, name="v2")
        code, out, _ = self.bench("leaderboard", "sentiment")
        self.assertEqual(code, 0)
        self.assertIn("sentiment: task sst, split test, sorted by accuracy", out)
        self.assertRegex(out, r"\n1\s+alice\s+v2\s+#\d+\s+0\.7500")

    def test_a_bad_file_prints_the_platforms_messages_and_exits_1(self):
        rows = gold_rows(self.benchmark)
        path = self.write("predictions.csv", prediction_csv(rows[:-2]))
        code, out, err = self.bench("submit", "sentiment", path)
        self.assertEqual((code, out), (1, ""))
        self.assertIn("error: 2 ids of the task are missing from the file", err)
        self.assertFalse(Submission.objects.exists())

    def test_another_participants_private_submission_is_not_found(self):
        other = make_scored_submission(
            self.benchmark, self.author, {"test": {"accuracy": 0.5}}, is_private=True
        )
        code, _, err = self.bench("status", str(other.pk))
        self.assertEqual((code, err), (1, "error: No such submission.\n"))

    def test_a_participant_downloads_the_public_labels_and_the_hidden_inputs(self):
        dev = self.folder / "dev.csv"
        code, out, err = self.bench("download", "sentiment", "sst", "dev", "-o", str(dev))
        self.assertEqual((code, err), (0, ""))
        self.assertIn(f"Wrote {dev}", out)
        rows = list(csv.DictReader(io.StringIO(dev.read_text())))
        gold = [r for r in gold_rows(self.benchmark) if r["id"].startswith("dev-")]
        self.assertEqual(
            [(r["id"], r["text"], r["label"]) for r in rows],
            [(r["id"], r["text"], r["label"]) for r in gold],
        )

        test = self.folder / "test.jsonl"
        code, _, _ = self.bench(
            "download", "sentiment", "sst", "test", "--format", "jsonl", "-o", str(test)
        )
        self.assertEqual(code, 0)
        first = test.read_text().splitlines()[0]
        self.assertEqual(list(json.loads(first)), ["id", "text"])

    def test_login_checks_a_named_token_and_later_commands_use_it(self):
        _, key = api_token_create(user=self.alice, name="laptop")
        code, out, err = self.bench_as_configured(
            "--url", self.live_server_url, "login", "--token", key
        )
        self.assertEqual((code, err), (0, ""))
        self.assertIn(f"Logged in to {self.live_server_url}", out)

        path = self.write("predictions.csv", prediction_csv(gold_rows(self.benchmark)))
        code, out, err = self.bench_as_configured("submit", "sentiment", path)
        self.assertEqual((code, err), (0, ""))
        submission_id = int(re.search(r"Submitted #(\d+)", out).group(1))
        self.assertEqual(Submission.objects.get(pk=submission_id).participant, self.alice)

    def test_a_wrong_token_is_refused_at_login_and_not_saved(self):
        code, out, err = self.bench_as_configured(
            "--url", self.live_server_url, "login", "--token", "bench_nope"
        )
        self.assertEqual((code, out), (1, ""))
        self.assertTrue(err.startswith(f"error: {self.live_server_url} refused this token: "))
        self.assertEqual(err.count("\n"), 1)
        self.assertFalse((self.folder / "config").exists())

    def test_benchmarks_and_a_download_of_every_split(self):
        code, out, _ = self.bench("benchmarks")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"\nsentiment\s+.*\s+sst\s+open\n")

        code, out, err = self.bench("download", "sentiment", "--out", str(self.folder / "data"))
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(out.count("Wrote "), 2)
        self.assertEqual(len(list((self.folder / "data").iterdir())), 2)

    def test_breakdown_of_a_scored_submission(self):
        scored = make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        code, out, err = self.bench("breakdown", str(scored.pk))
        self.assertEqual((code, err), (0, ""))
        self.assertTrue(out.startswith(f"Submission #{scored.pk}: task sst, split dev (public)\n"))
        self.assertIn("accuracy:           0.5000", out)
