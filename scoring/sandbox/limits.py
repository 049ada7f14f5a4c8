"""What a model run may use (`Limits`), how it went (`Outcome`, one of `REASONS`), and the
figures its messages quote."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REASONS = (
    "ok",
    "timeout",  # wall time
    "cpu_time",
    "memory",
    "file_size",  # a file over the file-size limit, or the job folder over its size
    "processes",
    "crash",
    "model",  # the runner could not use the model (refused custom code, wrong head, ...)
    "output",  # predictions missing or not one per row
    "cancelled",  # the caller's `keep_going` said to stop: nobody's fault
    "job",  # the job folder is invalid: the platform's fault
    "sandbox",  # the sandbox could not start: the platform's fault
)
PLATFORM_REASONS = frozenset({"job", "sandbox"})

MAX_JOB_FILES = 1000  # files and folders the runner may leave in the job folder


class SandboxError(Exception):
    """The sandbox could not be prepared (the platform's fault)."""


@dataclass(frozen=True)
class Limits:
    """What one model run may use. `cpu_seconds` defaults to the wall time times the threads;
    `memory_bytes` is each process's address space on CPU runs (a tiny model already maps
    about 2.2 GB: torch reserves address space it never touches) and the resident size of the
    whole sandbox on every run; `processes` counts processes and threads; `file_bytes` is the
    largest file the run may write, `disk_bytes` all it may leave in the job folder (default
    twice `file_bytes`), `tmp_bytes` the size of its /tmp; `threads` sets OMP_NUM_THREADS and
    the like (default: the CPUs this process may use)."""

    wall_seconds: float = 3600
    cpu_seconds: float | None = None
    memory_bytes: int = 16 * 2**30
    processes: int = 256
    file_bytes: int = 2 * 2**30
    disk_bytes: int | None = None
    tmp_bytes: int = 512 * 2**20
    threads: int | None = None

    def thread_count(self) -> int:
        return self.threads or len(os.sched_getaffinity(0)) or 1

    def cpu_limit(self) -> int:
        value = self.cpu_seconds or self.wall_seconds * self.thread_count()
        return max(1, int(value + 0.999))

    def disk_limit(self) -> int:
        return self.disk_bytes or 2 * self.file_bytes


@dataclass
class Outcome:
    """How a model run went. `reason` is one of `REASONS`; `message` is safe to show the
    participant; `run` is run.json when the run finished; `predictions_path` the checked
    predictions file (a regular file, not a link) when `ok`. `platform_fault` is true when the
    platform, not the model, failed (charge nothing). `headline` is `message` without the
    stderr lines a crash message quotes, for where no output of the model may be shown."""

    ok: bool
    reason: str
    message: str
    wall_seconds: float
    run: dict | None = None
    predictions_path: Path | None = None
    exit_code: int | None = None  # the runner's status; negative: killed by that signal
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None  # sampled resident size of the whole sandbox
    sandboxed: bool = True
    details: dict = field(default_factory=dict)
    headline: str = ""  # the message without the lines of stderr a crash message quotes

    def __post_init__(self):
        self.headline = self.headline or self.message

    @property
    def platform_fault(self) -> bool:
        return self.reason in PLATFORM_REASONS


def size_text(n: float) -> str:
    """A size as messages show it: "16 GB", "1.5 MB", "300 bytes"."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def seconds_text(n: float) -> str:
    """A duration as messages show it: "1,200 s", "4.9 s", "3 s"."""
    return f"{n:,.0f} s" if n >= 10 or n == int(n) else f"{n:.1f} s"
