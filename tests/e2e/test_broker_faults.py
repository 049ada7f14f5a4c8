"""The broker fails, nothing is lost: real gunicorn, Celery workers and PostgreSQL, and a Redis
server of the test's own, which it stops and starts.
- An upload while the broker is unreachable is accepted (never a 500) and scored once the
  broker is back: the reaper publishes its job again.
- A broker restart during a run (Redis keeping nothing on disk, so every queued message is
  lost) neither loses the running submission nor the queued ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from tests.e2e.embedded import (
    EmbeddedPlatform,
    free_port,
    http,
    multipart,
    production_stack_available,
)
from tests.e2e.test_worker_death import write_bundle

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not production_stack_available() or not shutil.which("redis-server"),
        reason="needs the PostgreSQL + Redis stack (CI's first pass) and redis-server",
    ),
]

STATES = (
    "import json\n"
    "from submissions.models import Submission\n"
    "rows = Submission.objects.filter(is_baseline=False).order_by('pk')\n"
    "print(json.dumps([{'status': s.status, 'claims': s.claims, 'attempts': s.attempts,\n"
    "    'evaluations': s.evaluations.count()} for s in rows]))\n"
)


class RedisServer:
    """A Redis of the test's own, keeping nothing on disk. Bound to another address than
    127.0.0.1 it serves clients from other network namespaces too (protected mode off)."""

    def __init__(self, port: int, bind: str = "127.0.0.1"):
        self.port, self.bind = port, bind
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", self.bind, "--save", ""]
            + ["--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
        )
        ping = ["redis-cli", "-h", self.bind, "-p", str(self.port), "ping"]
        deadline = time.monotonic() + 10
        while subprocess.run(ping, capture_output=True, text=True).stdout.strip() != "PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def platform(tmp_path):
    redis = RedisServer(free_port())
    platform = EmbeddedPlatform(
        tmp_path,
        stack="production",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis.port}/0",
        REAPER_INTERVAL_SECONDS="1",
        REQUEUE_AFTER_SECONDS="2",
        HEARTBEAT_SECONDS="1",
        LEASE_SECONDS="4",
    )
    platform.redis = redis
    platform.ids = write_bundle(tmp_path / "bundle")
    platform.manage("migrate", "--noinput")
    platform.manage("import_benchmark", str(tmp_path / "bundle"))
    output = platform.manage("create_api_token", "p", "--create-user")
    platform.token = output.strip().splitlines()[-1]
    yield platform
    platform.stop()
    redis.stop()


def submit(platform, name: str) -> str:
    rows = "".join(f"{row_id},w1 w2 w3\n" for row_id in platform.ids)
    payload, boundary = multipart({"name": name}, "preds.csv", ("id,prediction\n" + rows).encode())
    status, body = http(
        "POST",
        f"{platform.base}/api/v1/benchmarks/crash/submissions/",
        platform.token,
        payload,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, body
    return f"{platform.base}/api/v1/submissions/{json.loads(body)['id']}/"


def wait_all_final(platform, timeout: float = 180) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        states = json.loads(platform.manage("shell", "-c", STATES).splitlines()[-1])
        if all(s["status"] in ("scored", "failed", "cancelled") for s in states):
            return states
        assert time.monotonic() < deadline, (states, platform.log("maintenance"))
        time.sleep(1)


def test_an_upload_while_the_broker_is_down_is_accepted_and_scored_when_it_is_back(platform):
    platform.start_web()
    submit(platform, "broker down")  # Redis is not running: the publish fails, logged
    assert "Could not enqueue" in platform.log("web")
    platform.redis.start()
    platform.start_worker("maintenance", "-Q", "maintenance", "-c", "1", "--beat")
    platform.start_worker("scoring", "-Q", "scoring", "-c", "1")
    [state] = wait_all_final(platform)
    assert state["status"] == "scored"
    assert state["evaluations"] == 1 and state["claims"] == 1
    assert state["attempts"] >= 1  # published again by the reaper


def test_a_broker_restart_during_a_run_loses_nothing(platform):
    platform.redis.start()
    platform.start_web()
    platform.start_worker("maintenance", "-Q", "maintenance", "-c", "1", "--beat")
    platform.start_worker("scoring", "-Q", "scoring", "-c", "1")
    running = submit(platform, "running")
    queued = [submit(platform, f"queued {i}") for i in range(2)]
    deadline = time.monotonic() + 120
    while json.loads(http("GET", running, platform.token)[1])["status"] == "queued":
        assert time.monotonic() < deadline, platform.log("scoring")
        time.sleep(0.02)
    assert json.loads(http("GET", queued[-1], platform.token)[1])["status"] == "queued"
    platform.redis.stop()  # every message in it is gone
    time.sleep(1)
    platform.redis.start()
    states = wait_all_final(platform)
    assert [s["status"] for s in states] == ["scored"] * 3, states
    assert all(s["evaluations"] == 1 for s in states)
