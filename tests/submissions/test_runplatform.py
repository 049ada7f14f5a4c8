"""`manage.py runplatform` (what `make run` serves) keeps the platform up: a worker that dies is
started again while the web server carries on, and a worker that cannot start makes the command
give up and fail. Real processes on the embedded default, in a fresh DATA_DIR."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.embedded import EmbeddedPlatform, children_of, free_port

pytestmark = pytest.mark.e2e


def child_running(pid: int, marker: str) -> int | None:
    pids = [p for p, cmdline in children_of(pid).items() if marker in cmdline]
    return pids[0] if pids else None


def wait_for(condition, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"Timed out waiting for {what}:\n{log.read_text()[-4000:]}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def platform_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return EmbeddedPlatform(data_dir.parent, **extra).env


def start_runplatform(data_dir: Path, log: Path, *args: str, **env: str) -> subprocess.Popen:
    manage = [sys.executable, "manage.py"]
    migrated = subprocess.run(
        [*manage, "migrate", "--noinput"],
        cwd=settings.BASE_DIR,
        env=platform_env(data_dir),
        capture_output=True,
        text=True,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    with open(log, "w") as out:
        return subprocess.Popen(
            [*manage, "runplatform", "--web-workers", "1", "--concurrency", "1", *args],
            cwd=settings.BASE_DIR,
            env=platform_env(data_dir, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_runplatform(process: subprocess.Popen) -> int:
    """SIGTERM, as `kill` sends; its children must be gone once it has exited."""
    children = children_of(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    for pid in children:  # only if the command failed to stop them
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    return process.returncode


@pytest.fixture
def platform(tmp_path):
    data_dir, log, port = tmp_path / "data", tmp_path / "runplatform.log", free_port()
    process = start_runplatform(data_dir, log, "--port", str(port))
    yield process, f"http://127.0.0.1:{port}", log, data_dir
    stop_runplatform(process)


def test_a_killed_worker_is_restarted_and_the_web_server_keeps_serving(platform):
    process, base, log, data_dir = platform
    wait_for(lambda: answers(base + "/api/v1/benchmarks/"), 60, "the web server", log)
    old = wait_for(lambda: child_running(process.pid, "scoring@"), 30, "the worker", log)
    wait_for(lambda: re.search(r"scoring@\S+ ready\.", log.read_text()), 60, "ready", log)
    web = child_running(process.pid, "gunicorn")
    maintenance = child_running(process.pid, "maintenance@")

    os.kill(old, signal.SIGKILL)

    assert answers(base + "/api/v1/benchmarks/"), log.read_text()[-4000:]
    wait_for(lambda: "Restarted the scoring worker" in log.read_text(), 30, "a restart", log)
    new = wait_for(lambda: child_running(process.pid, "scoring@"), 10, "a new worker", log)
    assert new != old
    assert "The scoring worker exited (code -9)" in log.read_text()
    assert answers(base + "/api/v1/benchmarks/"), log.read_text()[-4000:]
    # Nothing else was touched.
    assert child_running(process.pid, "gunicorn") == web
    assert child_running(process.pid, "maintenance@") == maintenance
    assert process.poll() is None
    # Remote control bindings live in DATA_DIR, not in the working directory.
    assert (data_dir / "broker" / "control" / "celery.pidbox.exchange").exists()

    children = children_of(process.pid)
    assert stop_runplatform(process) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in children), children
    assert not answers(base + "/api/v1/benchmarks/")


def test_it_gives_up_and_fails_when_a_worker_cannot_start(tmp_path):
    log, port = tmp_path / "runplatform.log", free_port()
    # A broker URL with a typo: every worker exits at once, however often it is started.
    process = start_runplatform(
        tmp_path / "data",
        log,
        "--port",
        str(port),
        "--max-restarts",
        "1",
        CELERY_BROKER_URL="nosuchtransport://localhost//",
    )
    try:
        returncode = process.wait(timeout=180)
    finally:
        stop_runplatform(process)

    output = log.read_text()
    assert returncode == 1, output[-4000:]
    assert "restarting it in 1 s" in output
    assert "giving up" in output
    assert not answers(f"http://127.0.0.1:{port}/api/v1/benchmarks/")
