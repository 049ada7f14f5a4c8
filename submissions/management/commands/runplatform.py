"""Start the web server and the Celery workers together and keep them running; Ctrl-C (or
SIGTERM) stops them all. This is what `make run` serves; production runs gunicorn and each
`celery worker` as separate services under its own supervisor (docs/queue.md).

Three children: gunicorn; the scoring worker (queues `scoring` and `gpu`: model submissions run
on this machine's CPU); and a one-process worker for the `maintenance` queue that also runs
beat, so that the reaper is never stuck behind a scoring backlog and is scheduled exactly once.
A child that exits is started again after a back-off that doubles with each quick exit (1 s,
2 s, 4 s … 30 s) and resets once it has run for a minute; the others keep running meanwhile.
A child that exits more than --max-restarts times within ten minutes is broken, not unlucky:
everything stops and the command fails (exit 1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

FIRST_BACKOFF = 1.0  # seconds before the first restart
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # a child that ran this long starts again from FIRST_BACKOFF
RESTART_WINDOW = 600.0  # --max-restarts counts a child's exits within this many seconds
STOP_TIMEOUT = 15.0  # how long a child gets to stop before it is killed
POLL = 0.2


@dataclass
class Child:
    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = FIRST_BACKOFF
    restart_at: float | None = None  # set while it waits to be started again
    exits: list[float] = field(default_factory=list)  # when it exited, within RESTART_WINDOW
    nice: int = 0  # added to the niceness the child starts with

    def start(self) -> None:
        # A session of its own: a worker's pool and beat processes are stopped with it (stop()),
        # and a Ctrl-C in the terminal reaches only this command, which stops the children in
        # order instead of all at once.
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Command(BaseCommand):
    help = (
        "Run gunicorn, the scoring worker and the maintenance worker (with beat), restarting "
        "any that dies, until Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=2, help="Scoring processes.")
        parser.add_argument(
            "--max-restarts",
            type=int,
            default=5,
            help="Give up (stop everything, exit 1) when a process exits more than this many "
            f"times within {RESTART_WINDOW:.0f} s.",
        )

    def handle(self, *args, host, port, web_workers, concurrency, max_restarts, **options):
        bin_dir = os.path.dirname(sys.executable)
        celery = [os.path.join(bin_dir, "celery"), "-A", "config", "worker", "--loglevel", "INFO"]
        children = [
            Child(
                "web server",
                [
                    os.path.join(bin_dir, "gunicorn"),
                    "config.wsgi",
                    "--bind",
                    f"{host}:{port}",
                    "--workers",
                    str(web_workers),
                    "--access-logfile",
                    "-",
                ],
            ),
            Child(
                "scoring worker",
                # Both queues: model submissions run (on the CPU) and score on this machine too.
                [
                    *celery,
                    "-n",
                    "scoring@%h",
                    "-Q",
                    "scoring,gpu",
                    "--concurrency",
                    str(concurrency),
                ],
                # Scoring is batch work: when it competes with the web server for the CPU,
                # uploads and pages come first.
                nice=settings.WORKER_NICE,
            ),
            Child(
                "maintenance worker",
                [
                    *celery,
                    "-n",
                    "maintenance@%h",
                    "-Q",
                    "maintenance",
                    "--concurrency",
                    "1",
                    "--beat",
                    "--schedule",
                    settings.CELERY_BEAT_SCHEDULE_FILENAME,
                ],
            ),
        ]
        check_port_free(host, port)
        # `kill` (SIGTERM) and closing the terminal (SIGHUP) must stop the children too, as
        # Ctrl-C does: in sessions of their own, nothing else reaches them. Turn both into an
        # exit so that the `finally` below runs.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: sys.exit(0))
        try:
            for child in children:
                child.start()
                self.log(f"Started the {child.name} (pid {child.process.pid}).")
            self.stdout.write(
                self.style.SUCCESS(f"Serving http://{host}:{port}/  (Ctrl-C stops everything)"),
            )
            self.stdout.flush()
            while True:
                for child in children:
                    self.supervise(child, max_restarts)
                time.sleep(POLL)
        except KeyboardInterrupt:
            pass
        finally:
            stop(children)

    def supervise(self, child: Child, max_restarts: int) -> None:
        now = time.monotonic()
        if child.restart_at is not None:
            if now >= child.restart_at:
                child.start()
                self.log(f"Restarted the {child.name} (pid {child.process.pid}).")
            return
        if child.process is None or child.alive():
            return
        code = child.process.returncode
        # What is left of it (a killed worker's pool processes) goes with it, now, while its
        # process group id cannot have been reused: a restart must not pile up orphans.
        kill_group(child.process)
        child.process = None
        ran = now - child.started_at
        if ran >= STABLE_AFTER:
            child.backoff = FIRST_BACKOFF
        child.exits = [t for t in child.exits if now - t < RESTART_WINDOW] + [now]
        if len(child.exits) > max_restarts:
            raise CommandError(
                f"The {child.name} exited (code {code}) {len(child.exits)} times within "
                f"{RESTART_WINDOW:.0f} s; giving up. Its output above says why."
            )
        self.log(
            f"The {child.name} exited (code {code}) after {ran:.0f} s; "
            f"restarting it in {child.backoff:.0f} s."
        )
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, MAX_BACKOFF)

    def log(self, message: str) -> None:
        self.stderr.write(f"runplatform: {message}")
        self.stderr.flush()


def check_port_free(host: str, port: int) -> None:
    """Fail at once on a port in use (another `make run`, say) rather than after gunicorn has
    retried and been restarted --max-restarts times."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            s.bind(address)
        except OSError as exc:
            raise CommandError(
                f"Cannot serve on {host}:{port}: {exc.strerror}. Is the platform already "
                "running? Choose another port with --port (make run PORT=...)."
            ) from None


def stop(children: list[Child]) -> None:
    """SIGTERM to every child (a worker finishes its running jobs, up to STOP_TIMEOUT), then
    SIGKILL to whatever is left of each one's process group."""
    # A second Ctrl-C or SIGTERM must not cut the stopping short and leave children behind.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    running = [c for c in children if c.alive()]
    for child in running:
        child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in running:
        with suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.process is not None:
            kill_group(child.process)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL whatever is left of the process group a child leads, and reap the child."""
    with suppress(ProcessLookupError):  # the whole group is gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
