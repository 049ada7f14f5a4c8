"""A platform in subprocesses, real gunicorn and Celery processes over a fresh DATA_DIR, in one
of two stacks:
- "embedded", as `make run` starts it: its own SQLite file and embedded broker, nothing
  configured;
- "production": PostgreSQL and Redis, a fresh database and Redis database of its own (only
  where the test session itself runs on PostgreSQL + Redis, as in CI).
Either way these processes never share the test session's database or broker."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> dict[int, str]:
    """The live child processes of `pid` with their command lines, read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces.
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found[int(entry.name)] = cmdline
    return found


def http(method: str, url: str, token: str | None, body: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def production_stack_available() -> bool:
    engine = settings.DATABASES["default"]["ENGINE"]
    return engine == "django.db.backends.postgresql" and settings.CELERY_BROKER_URL.startswith(
        "redis://"
    )


# A Redis database for these processes, apart from the test session's.
PLATFORM_REDIS_DB = 13


def postgres_server() -> dict:
    """Where the test session's PostgreSQL is, as psycopg2 connection arguments."""
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"] or "postgres",
        "password": db["PASSWORD"] or None,
    }


def postgres_admin(*statements: tuple[str, list]) -> list:
    """Run statements on the server's `postgres` database (autocommit); the first column of
    each one's first row, or None."""
    import psycopg2

    admin = psycopg2.connect(dbname="postgres", **postgres_server())
    admin.autocommit = True
    results = []
    try:
        with admin.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
                row = cur.fetchone() if cur.description else None
                results.append(row[0] if row else None)
    finally:
        admin.close()
    return results


def production_env(name: str) -> dict[str, str]:
    """A fresh PostgreSQL database `name` and an emptied Redis database, on the servers the test
    session uses."""
    import redis

    postgres_admin(
        (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', []),
        (f'CREATE DATABASE "{name}"', []),
    )
    broker = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + f"/{PLATFORM_REDIS_DB}"
    redis.Redis.from_url(broker).flushdb()
    server = postgres_server()
    auth = server["user"] + (f":{server['password']}" if server["password"] else "")
    return {
        "DATABASE_URL": f"postgres://{auth}@{server['host']}:{server['port']}/{name}",
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": "test-only",
    }


def drop_database(name: str) -> None:
    postgres_admin((f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', []))


class EmbeddedPlatform:
    """Processes over one DATA_DIR; `stop()` ends every process it started."""

    def __init__(self, folder: Path, *, stack: str = "embedded", **extra_env: str):
        self.folder = folder
        self.stack = stack
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")
        }
        env.pop("PRIVATE_STORAGE_DIR", None)
        env.update(DATA_DIR=str(folder / "data"), DJANGO_SETTINGS_MODULE="config.settings")
        # These tests poll and submit faster than any person: the API's rate limits (tested on
        # their own) are lifted unless a test sets them.
        env.update(THROTTLE_ANON="none", THROTTLE_USER="none", THROTTLE_UPLOADS="none")
        self.database = None
        if stack == "production":
            self.database = f"platform_{uuid.uuid4().hex[:12]}"
            env.update(production_env(self.database))
        env.update(extra_env)
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}
        self.base = ""

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def install(self, bundle: Path | None = None) -> str:
        """Migrate, import `bundle` (the demo with its users when None), and return the API
        token of a participant, kept as `self.token`."""
        self.manage("migrate", "--noinput")
        if bundle is None:
            self.manage("setup_demo")
        else:
            self.manage("import_benchmark", str(bundle))
        output = self.manage("create_api_token", "participant", "--create-user")
        self.token = output.strip().splitlines()[-1]
        return self.token

    def submit(self, slug: str, rows, name: str) -> str:
        """POST a CSV of (id, prediction) rows as the participant; the submission's API URL."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "prediction"])
        writer.writerows(rows)
        payload, boundary = multipart({"name": name}, "preds.csv", out.getvalue().encode())
        status, body = http(
            "POST",
            f"{self.base}/api/v1/benchmarks/{slug}/submissions/",
            self.token,
            payload,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert status == 201, body
        return f"{self.base}/api/v1/submissions/{json.loads(body)['id']}/"

    def start(self, name: str, command: list) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes its pool too
        )
        self.processes[name] = process
        return process

    def start_web(self) -> str:
        port = free_port()
        self.start(
            "web", [BIN / "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "-w", "1"]
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/api/v1/benchmarks/", timeout=2)
                return self.base
            except OSError:
                time.sleep(0.3)
        raise AssertionError("The web server did not start:\n" + self.log("web"))

    def worker_command(self, *args: str) -> list:
        return [BIN / "celery", "-A", "config", "worker", *args]

    def start_worker(self, name: str, *args: str) -> subprocess.Popen:
        return self.start(name, self.worker_command(*args))

    def kill(self, name: str) -> None:
        """kill -9 a process and its children (a worker and its pool), as a crash would."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def log(self, name: str, tail: int | None = 3000) -> str:
        text = (self.folder / f"{name}.log").read_text()
        return text if tail is None else text[-tail:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.database:
            drop_database(self.database)


def wait_until_final(submission_id: int, timeout: float = 60, logs=()):
    """The submission once it is scored, failed or cancelled (polled in this process's test
    database); on timeout, an error with the tail of each worker log in `logs`."""
    from submissions.models import Submission

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submission = Submission.objects.get(pk=submission_id)
        if submission.is_final:
            return submission
        time.sleep(0.1)
    tails = "\n".join(Path(path).read_text()[-3000:] for path in logs)
    raise AssertionError(
        f"submission {submission_id} still {submission.status} ({submission.stage}) after "
        f"{timeout}s\n{tails}"
    )
