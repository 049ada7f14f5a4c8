"""The sandbox launcher (scoring.sandbox, docs/sandbox.md) on ordinary runs: the runner in
bubblewrap gives the same predictions as without it, a cancelled run stops within seconds, and
failures (crashes, wrong output, invalid jobs) get a clear, input-free message.
Helpers are in tests/sandbox_jobs.py; the hostile models are in test_sandbox_hostile.py."""

from __future__ import annotations

import os
import secrets
import stat
import time
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.sandbox import Limits, run_model, scrub_lines
from tests.sandbox_jobs import (
    SMALL,
    as_root,
    hostile,
    make_job,
    needs_bwrap,
    predictions,
    processes_of,
)
from tests.tiny_models import build_text_classifier, sample_texts

# -- the runner in the sandbox


@needs_bwrap
def test_the_sandboxed_runner_gives_the_same_predictions(tmp_path):
    model = build_text_classifier(tmp_path / "model", ["neg", "pos"], seed=2)
    texts = sample_texts(40, seed=12, hi=25)
    plain_job = make_job(
        tmp_path / "plain", texts, "text-classification", labels=["neg", "pos"], batch_size=8
    )
    boxed_job = make_job(
        tmp_path / "boxed", texts, "text-classification", labels=["neg", "pos"], batch_size=8
    )
    limits = Limits(wall_seconds=120, memory_bytes=4 * 2**30, threads=2)
    seen = []
    boxed = run_model(
        job_dir=boxed_job, model_dir=model, limits=limits, on_progress=lambda *p: seen.append(p)
    )
    plain = run_model(
        job_dir=plain_job, model_dir=model, limits=limits, unsafe_without_sandbox=True
    )
    assert boxed.ok and plain.ok, (boxed, plain)
    assert boxed.reason == "ok" and boxed.sandboxed and not plain.sandboxed
    assert predictions(boxed_job) == predictions(plain_job)
    assert len(set(predictions(boxed_job))) == 2
    assert boxed.predictions_path == boxed_job / "predictions.parquet"
    assert boxed.run["rows"] == 40 and boxed.run["device"] == "cpu"
    assert boxed.message.startswith("The model run finished: 40 rows in ")
    assert boxed.headline == boxed.message
    assert seen[-1] == (40, 40) and all(total == 40 for _, total in seen)
    assert boxed.peak_memory_bytes > 100 * 2**20


# -- cancellation


def sleeper(tmp_path: Path):
    """A job and a model that sleeps in a loop beside a child process of its own (its command
    line holds a token), and the token: no process holding it may outlive the run."""
    token = f"sandbox-test-{secrets.token_hex(8)}"
    job, model = hostile(
        tmp_path,
        f"""
        import subprocess, sys, time

        def predict(rows, model_dir):
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", {token!r}])
            while True:
                time.sleep(0.1)
        """,
    )
    return job, model, token


def processes_holding(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    if token.encode() in handle.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


@needs_bwrap
def test_a_cancelled_run_is_stopped_within_seconds(tmp_path):
    job, model, token = sleeper(tmp_path)
    started = time.monotonic()
    asked: list[float] = []
    said_no: list[float] = []

    def keep_going() -> bool:
        asked.append(time.monotonic())
        if time.monotonic() - started < 1 or not processes_holding(token):
            return True  # at least a second, and until the model's child is running
        said_no.append(time.monotonic())
        return False

    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL, keep_going=keep_going)
    assert outcome.reason == "cancelled" and not outcome.ok and not outcome.platform_fault, outcome
    assert outcome.message == "The model run was stopped: the submission was cancelled"
    assert outcome.headline == outcome.message
    assert said_no and time.monotonic() - said_no[0] < 2  # stopped at once
    assert outcome.wall_seconds < 10  # SMALL's wall time is 20 s
    assert len(asked) >= 2 and all(b - a >= 2 for a, b in pairwise(asked))  # every 2 s
    assert processes_holding(token) == []
    if "uid" in outcome.details:
        assert processes_of(outcome.details["uid"]) == []


@needs_bwrap
def test_an_exception_of_keep_going_stops_the_run_and_propagates(tmp_path):
    job, model, token = sleeper(tmp_path)
    started = time.monotonic()

    def keep_going() -> bool:
        if time.monotonic() - started < 1 or not processes_holding(token):
            return True
        raise ConnectionError("the database went away")  # an OSError: still the caller's

    with pytest.raises(ConnectionError, match="the database went away"):
        run_model(job_dir=job, model_dir=model, limits=SMALL, keep_going=keep_going)
    assert time.monotonic() - started < 10
    assert processes_holding(token) == []


# -- failures and their messages


@needs_bwrap
def test_a_crash_shows_the_last_lines_without_the_inputs(tmp_path):
    hidden = "the hidden test sentence number seven about paris"
    job, model = hostile(
        tmp_path,
        """
        import sys

        def predict(rows, model_dir):
            for row in rows:
                print("reading " + row["text"], file=sys.stderr)
            print("short " + rows[0]["text"][:15], file=sys.stderr)
            print("x" * 5000, file=sys.stderr)
            raise ValueError("cannot parse " + rows[0]["text"])
        """,
        texts=[hidden, "another row"],
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "crash" and not outcome.platform_fault
    assert outcome.message.startswith("The model run crashed: ")
    assert outcome.headline == "The model run crashed"
    shown = outcome.message.removeprefix("The model run crashed: ").split(" | ")
    assert 1 <= len(shown) <= 5 and all(len(line) <= 200 for line in shown)
    assert "the hidden test" not in outcome.message and "sentence" not in outcome.message
    assert "short the hidden test"[:21] not in outcome.message  # 15 + 6 chars is a copy too
    assert any('File "/model/predict.py"' in line for line in shown)
    assert shown[-1].startswith('raise ValueError("cannot parse "') or "x" * 50 in shown[-2]


@needs_bwrap
def test_one_prediction_too_few(tmp_path):
    job, model = hostile(
        tmp_path,
        "def predict(rows, model_dir):\n    return ['x'] * (len(rows) - 1)\n",
        texts=sample_texts(10),
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "output", outcome
    assert outcome.message == outcome.headline == "The model returned 9 predictions for 10 rows"


@needs_bwrap
def test_predict_py_is_refused_without_custom_code(tmp_path):
    job, model = hostile(tmp_path, "raise SystemExit('never imported')\n", allow_custom_code=False)
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "model" and not outcome.platform_fault
    assert "does not allow custom code" in outcome.message


@needs_bwrap
def test_a_model_cannot_pass_its_failure_off_as_the_platforms(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        import os, sys

        def predict(rows, model_dir):
            print("bwrap: Can't mount proc", file=sys.stderr)
            print("error: job.json: unknown task_type", file=sys.stderr)
            os._exit(2)
        """,
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "crash" and not outcome.platform_fault, outcome


@needs_bwrap
def test_a_link_left_as_predictions_is_not_followed(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        import os, time

        def predict(rows, model_dir):
            if os.fork() == 0:  # swaps the runner's predictions for a link, as it finishes
                for _ in range(2000):
                    try:
                        os.symlink("/etc/hostname", "/job/link")
                        os.replace("/job/link", "/job/predictions.parquet")
                    except OSError:
                        pass
                    time.sleep(0.002)
                os._exit(0)
            time.sleep(0.2)
            return ["x" for _ in rows]
        """,
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    if (job / "predictions.parquet").is_symlink():
        assert outcome.reason == "output" and outcome.predictions_path is None, outcome
    else:  # the runner's file won the race
        assert outcome.ok


@needs_bwrap
@as_root
def test_model_files_are_made_readable_but_never_through_other_names(tmp_path):
    job, model = hostile(
        tmp_path,
        "def predict(rows, model_dir):\n"
        "    return [open(model_dir + '/a.bin').read() + open(model_dir + '/b.bin').read()]\n",
    )
    (model / "a.bin").write_text("a")
    (model / "a.bin").chmod(0o600)  # as safetensors are often written: made readable
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_text("b")
    elsewhere.chmod(0o600)
    os.link(elsewhere, model / "b.bin")  # a second name: left alone
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "sandbox" and outcome.platform_fault, outcome
    assert "b.bin is readable by its owner only and has other names" in outcome.details["why"]
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    elsewhere.chmod(0o644)
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.ok, outcome
    assert predictions(job) == ["ab"]
    assert stat.S_IMODE((model / "a.bin").stat().st_mode) == 0o604


@needs_bwrap
def test_an_invalid_job_is_the_platforms_fault(tmp_path):
    job, model = hostile(tmp_path, "def predict(rows, model_dir):\n    return rows\n")
    (job / "job.json").write_text("{}")
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "job" and outcome.platform_fault
    assert outcome.message == "The model run could not start: its job is invalid"


def test_the_unsafe_mode_keeps_the_limits(tmp_path):
    job, model = hostile(tmp_path, "def predict(rows, model_dir):\n    while True:\n        pass\n")
    # CPU time well above the wall time: a busy loop would otherwise race the two limits
    limits = Limits(wall_seconds=2, cpu_seconds=30, memory_bytes=2 * 2**30, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits, unsafe_without_sandbox=True)
    assert outcome.reason == "timeout" and not outcome.sandboxed


def test_scrub_lines_drops_lines_quoting_16_characters_of_the_inputs(tmp_path):
    table = pa.table(
        {
            "id": ["a-very-long-identifier-0001", "b"],
            "text": ["Ünïcödé sentence with accents", "short"],
            "tokens": [["tokenised", "words", "in-a-list-column-here"], []],
        }
    )
    pq.write_table(table, tmp_path / "inputs.parquet")
    lines = [
        "x Ünïcödé sentence w",  # 16 characters of the first text
        "x Ünïcödé sentenc",  # 15 characters, in more than 16 bytes: dropped too
        "in-a-list-column-here",
        "a-very-long-identifier-0001",  # ids are no secret
        "Traceback (most recent call last):",
        "sentence with a",
    ]
    assert scrub_lines(lines, tmp_path / "inputs.parquet") == lines[3:]
