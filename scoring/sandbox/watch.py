"""Waiting for a run: reading its stderr, sampling its memory, CPU time, disk use and progress,
asking the caller whether to go on, and saying why it had to be stopped (`Watch.killed_for`)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scoring.runner.job import PROGRESS_FILE
from scoring.sandbox.folders import disk_use, read_json
from scoring.sandbox.limits import MAX_JOB_FILES, Limits

POLL_SECONDS = 0.5  # progress, memory and disk are sampled this often
KEEP_GOING_SECONDS = 2.0  # the caller's `keep_going` is asked at most this often
STDERR_TAIL_BYTES = 64 * 1024  # of the runner's stderr, kept for the crash message


class CallerError(Exception):
    """An exception raised by a callback of the caller's (`on_progress`, `keep_going`), carried
    past the launcher's own error handling: `run_model` raises `error` once the run is
    stopped."""

    def __init__(self, error: Exception):
        super().__init__(repr(error))
        self.error = error


def _call(callback: Callable, *arguments):
    try:
        return callback(*arguments)
    except Exception as error:
        raise CallerError(error) from error


@dataclass
class Watch:
    exit_code: int | None = None
    cpu_seconds: float | None = None
    killed_for: str | None = None  # "timeout", "memory", "disk", "cancelled"
    peak_rss: int = 0
    most_cpu: float = 0.0  # the most CPU seconds one process used (RLIMIT_CPU is per process)
    stderr: bytes = b""


def watch(
    process: subprocess.Popen,
    job_dir: Path,
    limits: Limits,
    stderr_fd: int,
    on_progress: Callable[[int, int], None] | None,
    keep_going: Callable[[], bool] | None,
    started: float,
) -> Watch:
    """Waits for the run, reading its stderr (the last 64 KB kept), sampling progress, memory
    and disk every POLL_SECONDS, asking `keep_going()` at once and then at most every
    KEEP_GOING_SECONDS, and returning at the wall-time, memory or disk limit or when
    `keep_going()` is false (the caller kills the run). An exception of a callback comes out
    as a `CallerError`."""
    result = Watch()
    tail = bytearray()
    os.set_blocking(stderr_fd, False)
    pidfd = os.pidfd_open(process.pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(stderr_fd, select.POLLIN)
    stderr_open = True
    deadline = started + limits.wall_seconds
    next_sample = next_check = 0.0
    last_progress = None
    disk_limit = limits.disk_limit()
    base_used, base_entries = disk_use(job_dir)  # the job's own files
    try:
        while True:
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + POLL_SECONDS
                rss, most, total = _sample_tree(process.pid)
                result.peak_rss = max(result.peak_rss, rss)
                result.most_cpu = max(result.most_cpu, most)
                result.cpu_seconds = max(result.cpu_seconds or 0.0, total)
                if rss > limits.memory_bytes:
                    result.killed_for = "memory"
                    break
                used, entries = disk_use(job_dir)
                if used - base_used > disk_limit or entries - base_entries > MAX_JOB_FILES:
                    result.killed_for = "disk"
                    break
                last_progress = _report_progress(job_dir, on_progress, last_progress)
            if keep_going is not None and now >= next_check:
                going = _call(keep_going)
                next_check = time.monotonic() + KEEP_GOING_SECONDS  # it may query a database
                if not going:
                    result.killed_for = "cancelled"
                    break
            if now >= deadline:
                result.killed_for = "timeout"
                break
            timeout = max(0.0, min(next_sample, deadline) - now)
            for fd, _ in poller.poll(timeout * 1000):
                if fd == stderr_fd:
                    stderr_open = _read_some(stderr_fd, tail)
                    if not stderr_open:
                        poller.unregister(stderr_fd)
            status = os.wait4(process.pid, os.WNOHANG)
            if status[0]:
                process.returncode = os.waitstatus_to_exitcode(status[1])
                result.exit_code = process.returncode
                break
        if stderr_open:
            _read_some(stderr_fd, tail, until_empty=True)
        if result.killed_for != "cancelled":  # the caller asked to stop: no more calls
            last_progress = _report_progress(job_dir, on_progress, last_progress)
    finally:
        os.close(pidfd)
    result.stderr = bytes(tail)
    return result


def _read_some(fd: int, tail: bytearray, until_empty: bool = False) -> bool:
    """Reads what the pipe holds into `tail` (keeping its last STDERR_TAIL_BYTES); False at
    end of file."""
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        tail += data
        if len(tail) > STDERR_TAIL_BYTES:
            del tail[: len(tail) - STDERR_TAIL_BYTES]
        if not until_empty:
            return True


def drain(fd: int, max_bytes: int) -> bytes:
    """What the pipe `fd` holds, at most `max_bytes`, without waiting."""
    os.set_blocking(fd, False)
    data = b""
    while len(data) < max_bytes:
        try:
            piece = os.read(fd, max_bytes)
        except OSError:
            break
        if not piece:
            break
        data += piece
    return data[:max_bytes]


def _report_progress(job_dir, on_progress, last):
    if on_progress is None:
        return last
    progress = read_json(job_dir / PROGRESS_FILE, 4096)
    if not progress:
        return last
    done, total = progress.get("rows_done"), progress.get("rows_total")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (done, total)):
        return last
    if (done, total) != last:
        _call(on_progress, done, total)
    return (done, total)


def _sample_tree(root_pid: int) -> tuple[int, float, float]:
    """Resident bytes (shared pages counted in each process), the most CPU seconds one
    process has used, and the CPU seconds of all, over a process and its descendants."""
    page = os.sysconf("SC_PAGE_SIZE")
    tick = os.sysconf("SC_CLK_TCK")
    rss, most, total = 0, 0.0, 0.0
    stack, seen = [root_pid], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            rss += int(fields[21]) * page
            own = (int(fields[11]) + int(fields[12])) / tick
            most = max(most, own)
            total += own + (int(fields[13]) + int(fields[14])) / tick
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return rss, most, total
