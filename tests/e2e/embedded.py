"""An embedded-default platform in subprocesses, as `make run` starts it: a fresh DATA_DIR
with its own SQLite file and embedded broker, nothing configured, real gunicorn and Celery
processes. Whatever the test session itself runs on (PostgreSQL + Redis in CI), these
processes never share its database or broker."""

from __future__ import annotations

import os
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


class EmbeddedPlatform:
    """Processes over one DATA_DIR; `stop()` ends every process it started."""

    def __init__(self, folder: Path, **extra_env: str):
        self.folder = folder
        env = {
            k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")
        }
        env.pop("PRIVATE_STORAGE_DIR", None)
        env.update(DATA_DIR=str(folder / "data"), DJANGO_SETTINGS_MODULE="config.settings")
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

    def start(self, name: str, command: list) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
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

    def start_worker(self, name: str, *args: str) -> subprocess.Popen:
        return self.start(name, [BIN / "celery", "-A", "config", "worker", *args])

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()[-3000:]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
