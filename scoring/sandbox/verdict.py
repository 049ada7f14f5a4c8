"""What a run's end means: its exit status, the runner's status pipe, its stderr and the
watch's findings made into an `Outcome` whose message a participant may read."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from scoring.runner.job import (
    EXIT_CRASH,
    EXIT_FILE_SIZE,
    EXIT_JOB,
    EXIT_MEMORY,
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_PROCESSES,
    PREDICTIONS_FILE,
    RUN_FILE,
)
from scoring.sandbox.folders import read_json, regular_file
from scoring.sandbox.limits import MAX_JOB_FILES, Limits, Outcome, seconds_text, size_text
from scoring.sandbox.messages import out_of_memory, runner_error, signal_name, tail_lines
from scoring.sandbox.watch import POLL_SECONDS, Watch

CANCELLED_MESSAGE = "The model run was stopped: the submission was cancelled"


def verdict(
    job_dir: Path,
    limits: Limits,
    watch: Watch,
    status: bytes,
    unsafe: bool,
    started: float,
    inputs: Path | None,
) -> Outcome:
    """The outcome of a stopped run: `status` is what the runner wrote to its status pipe,
    `inputs` the job's inputs as the worker wrote them (for scrubbing messages)."""
    code = watch.exit_code
    if code is not None and not unsafe and code > 128:
        code = -(code - 128)  # bwrap reports a child killed by signal N as 128 + N
    outcome = Outcome(
        ok=False,
        reason="crash",
        message="",
        wall_seconds=round(time.monotonic() - started, 4),
        exit_code=code,
        cpu_seconds=watch.cpu_seconds,
        peak_memory_bytes=watch.peak_rss or None,
        sandboxed=not unsafe,
    )
    try:
        runner_status = json.loads(status.decode()) if status else None
    except ValueError:
        runner_status = None
    ready = isinstance(runner_status, dict) and runner_status.get("ready") is True
    killed = watch.killed_for

    def fail(reason: str, message: str, quoted: str = "") -> Outcome:
        outcome.reason, outcome.headline = reason, message
        outcome.message = message + quoted
        return outcome

    if killed == "cancelled":
        return fail("cancelled", CANCELLED_MESSAGE)
    if killed == "timeout":
        return fail(
            "timeout",
            f"The model run passed its time limit of {seconds_text(limits.wall_seconds)}",
        )
    if killed == "memory":
        return fail(
            "memory", f"The model run ran out of memory (limit {size_text(limits.memory_bytes)})"
        )
    if killed == "disk":
        return fail(
            "file_size",
            f"The model run wrote more than {size_text(limits.disk_limit())} or "
            f"{MAX_JOB_FILES:,} files into its job folder",
        )
    if not ready:
        # Nothing of the model ran yet: the job, the sandbox or the runner's start failed,
        # or the runner refused the model before loading it.
        error = runner_error(watch.stderr, inputs)
        if code == EXIT_MODEL and error:
            return fail("model", f"The model could not be run: {error}")
        if code == EXIT_JOB:
            outcome.details["why"] = error
            return fail("job", "The model run could not start: its job is invalid")
        outcome.details["why"] = " / ".join(tail_lines(watch.stderr, inputs))
        return fail("sandbox", "The model run could not start: the sandbox failed")
    if code == 0:
        outcome = _finished(job_dir, limits, outcome)
        outcome.headline = outcome.message
        return outcome
    cpu_limit = limits.cpu_limit()
    if code == -signal.SIGXCPU or (
        code == -signal.SIGKILL and watch.most_cpu >= cpu_limit - POLL_SECONDS
    ):
        return fail(
            "cpu_time", f"The model run passed its CPU time limit of {seconds_text(cpu_limit)}"
        )
    if code == EXIT_MEMORY or out_of_memory(watch.stderr):
        return fail(
            "memory", f"The model run ran out of memory (limit {size_text(limits.memory_bytes)})"
        )
    if code == EXIT_FILE_SIZE or code == -signal.SIGXFSZ:
        return fail(
            "file_size",
            f"The model run wrote a file larger than its limit of {size_text(limits.file_bytes)}",
        )
    if code == EXIT_PROCESSES:
        return fail(
            "processes",
            f"The model run tried to start more than {limits.processes:,} processes or threads",
        )
    error = runner_error(watch.stderr, inputs)
    if code == EXIT_MODEL and error:
        return fail("model", f"The model could not be run: {error}")
    if code == EXIT_OUTPUT and error:
        return fail("output", error[0].upper() + error[1:])
    lines = tail_lines(watch.stderr, inputs)
    shown = (": " + " | ".join(lines)) if lines else ""
    if code is not None and code < 0:
        return fail("crash", f"The model run was killed by {signal_name(-code)}", shown)
    if code == EXIT_CRASH or code is None:
        return fail("crash", "The model run crashed", shown)
    return fail("crash", f"The model run crashed (exit status {code})", shown)


def _finished(job_dir: Path, limits: Limits, outcome: Outcome) -> Outcome:
    predictions = job_dir / PREDICTIONS_FILE
    run = read_json(job_dir / RUN_FILE)
    if not regular_file(predictions) or run is None:
        outcome.reason = "output"
        outcome.message = "The model run finished without writing its predictions"
        return outcome
    if os.lstat(predictions).st_size > limits.file_bytes:
        outcome.reason = "file_size"
        outcome.message = (
            f"The model run wrote a file larger than its limit of {size_text(limits.file_bytes)}"
        )
        return outcome
    outcome.ok, outcome.reason, outcome.run = True, "ok", run
    outcome.predictions_path = predictions
    rows = run.get("rows")
    outcome.message = (
        f"The model run finished: {rows:,} rows in {seconds_text(outcome.wall_seconds)}"
        if isinstance(rows, int)
        else "The model run finished"
    )
    return outcome
