"""The sandbox launcher: runs `python -m scoring.runner` on a job folder and a model folder
inside bubblewrap, with limits, and says how it went (docs/sandbox.md).

    from scoring import sandbox
    if sandbox.available():
        outcome = sandbox.run_model(job_dir=job, model_dir=model, limits=sandbox.Limits(
            wall_seconds=600, memory_bytes=16 * 2**30))
        outcome.ok, outcome.reason, outcome.message, outcome.run

The sandbox has no network (its own empty network namespace), sees only its own processes (a
new PID namespace), and holds read-only: the Python environment (the virtual environment and
its base installation), /usr and the few system files Python needs, the `scoring` package (at
/opt/platform/scoring, never the repository with its database and stored files) and the model
(at /model); writable: the job folder (at /job) and an empty /tmp. Its environment is built from
nothing: no variable of the worker (database URL, secret key, tokens) reaches it. When the
worker runs as root, the runner runs as an unprivileged user id of its own (one per concurrent
run), so that the process limit counts its processes only and it can read nothing of root's.

Limits: wall time (the whole sandbox is killed), CPU time (RLIMIT_CPU), memory (RLIMIT_AS on
CPU runs, and the resident size of the whole sandbox, sampled), processes and threads
(RLIMIT_NPROC), file size (RLIMIT_FSIZE), the job folder's size and file count (sampled), /tmp's
size. A failure is reported with a reason and a message a participant may read: it never holds
the model's inputs (error lines that quote 16 or more characters of them are dropped). The
caller may stop a run early (`keep_going`: reason `cancelled`).

Pure library: no Django; the trusted worker calls `run_model` and records the outcome.

The package: `limits` (Limits, Outcome, REASONS), `bwrap` (the command line and environment),
`uids` (a uid per concurrent run), `folders` (preparing the folders, reading what the run
left), `watch` (waiting for the run), `messages` (stderr without the inputs), `verdict` (the
outcome), `run` (one run, start to stop); here the availability probe and `run_model`.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from scoring.sandbox.bwrap import BWRAP, SETPRIV, bwrap_command
from scoring.sandbox.folders import prepare
from scoring.sandbox.limits import REASONS, Limits, Outcome, SandboxError
from scoring.sandbox.messages import scrub_lines
from scoring.sandbox.run import run
from scoring.sandbox.uids import no_slot, uid_slot
from scoring.sandbox.watch import CallerError


@functools.lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """Whether the sandbox works here, and why not: bubblewrap is installed and starts this
    Python in the sandbox's layout (tried once per process, about 50 ms)."""
    if sys.platform != "linux":
        return False, "the sandbox needs Linux"
    for tool in (BWRAP,) + ((SETPRIV,) if os.geteuid() == 0 else ()):
        if not os.access(tool, os.X_OK):
            return False, f"{tool} is not installed"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as folder:
        job, model = Path(folder, "job"), Path(folder, "model")
        job.mkdir()
        model.mkdir()
        try:
            with uid_slot() as uid:
                if uid is not None:
                    os.chown(job, uid, uid)
                command = bwrap_command(
                    job, model, Limits(), (), uid, ["-c", "import scoring.tasktypes"]
                )
                result = subprocess.run(
                    command, env={}, capture_output=True, timeout=60, cwd="/", check=False
                )
        except (OSError, subprocess.SubprocessError) as error:
            return False, f"bubblewrap could not start: {error}"
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return False, "bubblewrap could not start Python: " + " / ".join(tail)
    return True, "bubblewrap works"


def available() -> bool:
    """True when `run_model` can sandbox (see `availability` for the reason when not)."""
    return availability()[0]


def run_model(
    *,
    job_dir: str | Path,
    model_dir: str | Path,
    limits: Limits | None = None,
    gpus: Sequence[int] = (),
    unsafe_without_sandbox: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> Outcome:
    """Runs `python -m scoring.runner` over `job_dir` (job.json, inputs.parquet; it receives
    predictions.parquet, progress.json and run.json) and the model folder `model_dir`, inside
    the sandbox (or, with `unsafe_without_sandbox`, as a plain subprocess with the same limits:
    local development only). `gpus` are the GPU indices the run may use (their device nodes
    are mounted and CUDA_VISIBLE_DEVICES names them). `on_progress(rows_done, rows_total)` is
    called from this thread as progress.json changes. `keep_going()` is called from this
    thread as the run starts and then at most every 2 seconds (it may query a database): when
    it returns false, the run is killed as at its time limit and the outcome is `cancelled`.
    An exception either callback raises kills the run, then propagates. Never raises for
    anything the model does; the `Outcome` says what happened."""
    limits = limits or Limits()
    job_dir, model_dir = Path(job_dir).resolve(), Path(model_dir).resolve()
    started = time.monotonic()

    def platform(reason: str, message: str, **details) -> Outcome:
        return Outcome(
            ok=False,
            reason=reason,
            message=message,
            wall_seconds=time.monotonic() - started,
            sandboxed=not unsafe_without_sandbox,
            details=details,
        )

    if not job_dir.is_dir() or not model_dir.is_dir():
        return platform("job", "The model run could not start: its folders are missing")
    if not unsafe_without_sandbox and not available():
        return platform(
            "sandbox",
            "The model run could not start: the sandbox is not available",
            why=availability()[1],
        )
    caller_error = None
    try:
        with uid_slot() if not unsafe_without_sandbox else no_slot() as uid:
            prepare(job_dir, model_dir, uid)
            return run(
                job_dir,
                model_dir,
                limits,
                tuple(gpus),
                uid,
                unsafe_without_sandbox,
                on_progress,
                keep_going,
                started,
            )
    except CallerError as error:  # the run is stopped and its uid's processes killed
        caller_error = error.error
    except (SandboxError, OSError) as error:
        return platform(
            "sandbox", "The model run could not start: the sandbox failed", why=str(error)
        )
    raise caller_error  # outside the handler: with its own traceback, no chained context


__all__ = [
    "Limits",
    "Outcome",
    "REASONS",
    "SandboxError",
    "availability",
    "available",
    "run_model",
    "scrub_lines",
]
