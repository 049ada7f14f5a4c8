"""What the benchmarks that run the real platform share: a fresh DATA_DIR with the environment
of one stack, `manage.py` in it, processes started and stopped, a fresh PostgreSQL database and
Redis database for the production stack, and the multipart body of an upload."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def multipart(content: bytes, filename: str = "p.csv") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    )
    body = head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def fresh_production_stack(database_url: str, broker_url: str) -> dict[str, str]:
    """An empty PostgreSQL database and Redis database at these URLs, as environment."""
    import psycopg2
    import redis

    server, name = database_url.rsplit("/", 1)
    admin = psycopg2.connect(server + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    redis.Redis.from_url(broker_url).flushdb()
    return {"DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url}


class Stack:
    """One platform in subprocesses over a fresh DATA_DIR, removed by `stop()` unless kept."""

    def __init__(self, label: str, env_extra: dict, *, keep: bool = False):
        self.label, self.keep = label, keep
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-"))
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")
        }
        # A production database needs a SECRET_KEY (the embedded default generates its own).
        env.update(DATA_DIR=str(self.data_dir), LOG_LEVEL="WARNING", SECRET_KEY="bench-only")
        # A benchmark client sends far more than the API's rate limits allow a person.
        env.update(THROTTLE_ANON="none", THROTTLE_USER="none", THROTTLE_UPLOADS="none")
        env.update(env_extra)
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}

    def manage(self, *argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise SystemExit(f"{self.label}: manage.py {argv[0]} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def start(self, name: str, command: list, *, nice: int = 0) -> subprocess.Popen:
        self.processes[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        return self.processes[name]

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=30)
        if self.keep:
            print(f"  ({self.label}: DATA_DIR kept at {self.data_dir})")
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)
