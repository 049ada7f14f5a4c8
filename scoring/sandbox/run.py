"""One run: starting the runner (sandboxed, or plain with `unsafe`) with its status and stderr
pipes, watching it, killing whatever is left of it, and judging the outcome."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from scoring.runner.job import INPUTS_FILE, STATUS_FD_VARIABLE
from scoring.sandbox.bwrap import (
    JOB_MOUNT,
    MODEL_MOUNT,
    bwrap_command,
    environment,
    plain_command,
    scoring_package,
    set_rlimits,
)
from scoring.sandbox.limits import Limits, Outcome, SandboxError
from scoring.sandbox.uids import kill_uid
from scoring.sandbox.verdict import verdict
from scoring.sandbox.watch import drain, watch


def run(
    job_dir: Path,
    model_dir: Path,
    limits: Limits,
    gpus: tuple[int, ...],
    uid: int | None,
    unsafe: bool,
    on_progress: Callable[[int, int], None] | None,
    keep_going: Callable[[], bool] | None,
    started: float,
) -> Outcome:
    """Runs the runner over prepared folders, as `uid` (None: the caller's)."""
    # The inputs as the worker wrote them, for scrubbing messages: held open, so that a run
    # that replaces the file (possible without the sandbox) cannot change what is checked.
    try:
        inputs_fd = os.open(job_dir / INPUTS_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        inputs_fd = None
    try:
        outcome = _run_with(
            job_dir,
            model_dir,
            limits,
            gpus,
            uid,
            unsafe,
            on_progress,
            keep_going,
            started,
            inputs_fd,
        )
    finally:
        if inputs_fd is not None:
            os.close(inputs_fd)
    if uid is not None:
        outcome.details["uid"] = uid
    return outcome


def _run_with(
    job_dir, model_dir, limits, gpus, uid, unsafe, on_progress, keep_going, started, inputs_fd
):
    status_read, status_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    try:
        os.set_inheritable(status_write, True)
        if unsafe:
            command = plain_command(job_dir, model_dir, limits, gpus)
            env = environment(limits, gpus, str(job_dir), str(scoring_package().parent))
            cwd = str(job_dir)
        else:
            runner = ["-m", "scoring.runner", JOB_MOUNT, MODEL_MOUNT]
            command = bwrap_command(job_dir, model_dir, limits, gpus, uid, runner)
            status_env = ["--setenv", STATUS_FD_VARIABLE, str(status_write)]
            at = command.index("--chdir")
            command[at:at] = status_env
            env, cwd = {}, "/"
        if unsafe:
            env[STATUS_FD_VARIABLE] = str(status_write)
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_write,
            pass_fds=(status_write,),
            start_new_session=True,
            preexec_fn=set_rlimits(limits, gpus),
        )
    except OSError as error:
        for fd in (status_read, status_write, stderr_read, stderr_write):
            os.close(fd)
        raise SandboxError(f"cannot start: {error}") from None
    os.close(status_write)
    os.close(stderr_write)
    try:
        watched = watch(process, job_dir, limits, stderr_read, on_progress, keep_going, started)
    finally:
        stop(process, uid, unsafe)
        status = drain(status_read, 4096)
        os.close(status_read)
        os.close(stderr_read)
    inputs = Path(f"/proc/self/fd/{inputs_fd}") if inputs_fd is not None else None
    return verdict(job_dir, limits, watched, status, unsafe, started, inputs)


def stop(process: subprocess.Popen, uid: int | None, unsafe: bool) -> None:
    """Kills whatever is left of the run: its process group (prlimit, bwrap; the sandbox dies
    with bwrap, its PID namespace with its first process), and every process of its uid."""
    if process.returncode is None or unsafe:  # unsandboxed, children may outlive the runner
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
    if uid is not None:
        kill_uid(uid)
    if process.returncode is None:
        try:
            _, status, _ = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            process.returncode = -signal.SIGKILL
