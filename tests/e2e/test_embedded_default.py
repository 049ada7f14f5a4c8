"""The embedded default as `make run` starts it, in subprocesses with nothing configured:
SQLite + filesystem broker in a fresh DATA_DIR, gunicorn and a Celery worker. A participant
downloads inputs, submits a CSV over HTTP and sees it scored and ranked."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, token: str, body: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
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


@pytest.fixture
def embedded_platform(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="config.settings")
    env.pop("PRIVATE_STORAGE_DIR", None)
    manage = [sys.executable, "manage.py"]

    def run(*args: str) -> str:
        done = subprocess.run(
            [*manage, *args], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("migrate", "--noinput")
    run("setup_demo")
    token = run("create_api_token", "e2e-participant", "--create-user").strip().splitlines()[-1]
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker")}  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [BIN / "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=logs["web"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [BIN / "celery", "-A", "config", "worker", "-Q", "scoring", "-c", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        ),
    ]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/api/v1/benchmarks/", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    yield base, token, tmp_path
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    for log in logs.values():
        log.close()


def test_a_participant_downloads_inputs_submits_and_is_ranked(embedded_platform):
    base, token, tmp_path = embedded_platform
    _, body = http("GET", f"{base}/api/v1/benchmarks/sentiment-mini/", token)
    detail = json.loads(body)
    task = detail["tasks"][0]
    scored = [s for s in task["splits"] if s["role"] in ("public", "hidden")]

    ids = []
    for split in scored:
        _, content = http(
            "GET",
            f"{base}/api/v1/benchmarks/sentiment-mini/tasks/{task['slug']}/splits/"
            f"{split['name']}/inputs?format=csv",
            token,
        )
        rows = list(csv.DictReader(io.StringIO(content.decode())))
        # Public splits come with their labels (for validation); hidden ones never.
        assert ("label" in rows[0]) == (split["role"] == "public")
        ids += [row["id"] for row in rows]

    # A keyword rule: the kind of baseline a participant writes in a minute.
    predictions = "id,prediction\n" + "".join(f"{i},positive\n" for i in ids)
    payload, boundary = multipart({"name": "always positive"}, "preds.csv", predictions.encode())
    status, body = http(
        "POST",
        f"{base}/api/v1/benchmarks/sentiment-mini/submissions/",
        token,
        payload,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, body
    submission = json.loads(body)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, body = http("GET", base + submission["url"], token)
        state = json.loads(body)
        if state["status"] in ("scored", "failed", "cancelled"):
            break
        time.sleep(0.2)
    worker_log = (tmp_path / "worker.log").read_text()
    assert state["status"] == "scored", (state, worker_log[-3000:])

    _, body = http("GET", f"{base}/api/v1/benchmarks/sentiment-mini/leaderboard/", token)
    board = json.loads(body)
    mine = [row for row in board["rows"] if row["submission"] == submission["id"]]
    assert mine and mine[0]["rank"] is not None
