"""The database connection drops mid-task (PostgreSQL terminates every backend of the
platform's database, as a restart or a failover would): the run ends, its lease expires, the
job runs again and the submission is scored once. Never left running, never failed as if the
file were at fault."""

from __future__ import annotations

import json
import random
import time

import pytest

from tests.e2e.embedded import (
    EmbeddedPlatform,
    http,
    postgres_admin,
    production_stack_available,
)
from tests.e2e.test_worker_death import STATE, sentence, write_bundle

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not production_stack_available(), reason="needs PostgreSQL (CI)"),
]


def terminate_backends(database: str) -> int:
    [count] = postgres_admin(
        (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [database],
        )
    )
    return count


def test_a_connection_dropped_mid_task_ends_in_one_score(tmp_path):
    platform = EmbeddedPlatform(
        tmp_path,
        stack="production",
        HEARTBEAT_SECONDS="1",
        LEASE_SECONDS="4",
        REAPER_INTERVAL_SECONDS="1",
    )
    try:
        ids = write_bundle(tmp_path / "bundle")
        token = platform.install(tmp_path / "bundle")
        platform.start_web()
        platform.start_worker("maintenance", "-Q", "maintenance", "-c", "1", "--beat")
        platform.start_worker("scoring", "-Q", "scoring", "-c", "1")
        rng = random.Random(2)
        url = platform.submit("crash", [(i, sentence(rng, 40)) for i in ids], "dropped")
        pk = url.rstrip("/").rsplit("/", 1)[1]
        deadline = time.monotonic() + 120
        while json.loads(http("GET", url, token)[1])["status"] == "queued":
            assert time.monotonic() < deadline, platform.log("scoring")
            time.sleep(0.02)
        time.sleep(0.5)  # well into the run
        assert terminate_backends(platform.database) >= 1
        deadline = time.monotonic() + 120
        while True:
            try:
                state = json.loads(http("GET", url, token)[1])["status"]
            except OSError:
                state = "unknown"  # the web process reconnects on its next request
            if state in ("scored", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, platform.log("maintenance")
            time.sleep(0.5)
        row = json.loads(platform.manage("shell", "-c", STATE.format(pk=pk)).splitlines()[-1])
        assert row["status"] == "scored", (row, platform.log("scoring"))
        assert row["evaluations"] == 1
        lost = "lost the database" in platform.log("scoring", tail=None)
        print(f"claims {row['claims']}; the first run lost the database: {lost}")
    finally:
        platform.stop()
