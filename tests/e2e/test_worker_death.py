"""A worker killed mid-scoring (kill -9 of the worker and its pool, as a crash or the OOM killer
would) does not stall its submission: the run's heartbeats stop, its lease expires, the reaper
publishes the job again, and another worker claims it and scores it exactly once. Real
processes on both stacks: the embedded default, and PostgreSQL + Redis where the test session
runs on them (CI)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.embedded import EmbeddedPlatform, http, production_stack_available

pytestmark = pytest.mark.e2e

ROWS = 20_000  # a text-generation split that takes a few seconds to score
WORDS = [f"w{i}" for i in range(500)]
LEASE_SECONDS = 4

STATE = (
    "import json\n"
    "from submissions.models import Submission\n"
    "s = Submission.objects.get(pk={pk})\n"
    "print(json.dumps({{'status': s.status, 'claims': s.claims, 'attempts': s.attempts,\n"
    "    'evaluations': s.evaluations.count(), 'error': s.error}}))\n"
)


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def write_bundle(folder: Path, rows: int = ROWS) -> list[str]:
    rng = random.Random(0)
    (folder / "data").mkdir(parents=True)
    ids = [f"g-{i:05d}" for i in range(rows)]
    with open(folder / "data" / "test.jsonl", "w") as f:
        for row_id in ids:
            row = {"id": row_id, "source": sentence(rng, 60), "reference": sentence(rng, 40)}
            f.write(json.dumps(row) + "\n")
    spec = {
        "slug": "crash",
        "title": "Crash",
        "submission_policy": {"max_per_day": 100},
        "tasks": [
            {
                "slug": "gen",
                "type": "text-generation",
                "data": {"splits": {"test": {"path": "data/test.jsonl", "role": "hidden"}}},
                "columns": {"id": "id", "inputs": ["source"], "label": "reference"},
                "metrics": ["rouge", "bleu"],
                "primary_metric": "rougeL",
            }
        ],
    }
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(spec))
    return ids


stacks = ["embedded"]
if production_stack_available():
    stacks.append("production")


@pytest.mark.parametrize("stack", stacks)
def test_a_worker_killed_mid_scoring_is_replaced_and_the_submission_scored_once(tmp_path, stack):
    platform = EmbeddedPlatform(
        tmp_path,
        stack=stack,
        HEARTBEAT_SECONDS="1",
        LEASE_SECONDS=str(LEASE_SECONDS),
        REAPER_INTERVAL_SECONDS="1",
        REQUEUE_AFTER_SECONDS="2",
    )
    try:
        ids = write_bundle(tmp_path / "bundle")
        token = platform.install(tmp_path / "bundle")
        platform.start_web()
        platform.start_worker("maintenance", "-Q", "maintenance", "-c", "1", "--beat")
        platform.start_worker("first", "-Q", "scoring", "-c", "1")
        rng = random.Random(1)
        url = platform.submit("crash", [(i, sentence(rng, 40)) for i in ids], "crash")

        # The baselines are scored first; once this submission runs, its worker dies.
        deadline = time.monotonic() + 120
        while json.loads(http("GET", url, token)[1])["status"] == "queued":
            assert time.monotonic() < deadline, platform.log("first")
            time.sleep(0.02)
        assert json.loads(http("GET", url, token)[1])["status"] == "running"
        platform.kill("first")
        killed_at = time.monotonic()
        platform.start_worker("second", "-Q", "scoring", "-c", "1")

        deadline = time.monotonic() + 120
        while (state := json.loads(http("GET", url, token)[1]))["status"] == "running" or (
            state["status"] == "queued"
        ):
            assert time.monotonic() < deadline, platform.log("maintenance")
            time.sleep(0.2)
        recovered_in = time.monotonic() - killed_at
        pk = url.rstrip("/").rsplit("/", 1)[1]
        row = json.loads(platform.manage("shell", "-c", STATE.format(pk=pk)).splitlines()[-1])
        assert row["status"] == "scored", (row, platform.log("second"))
        assert row["claims"] == 2  # the dead run's, then the second worker's
        assert row["evaluations"] == 1  # scored once
        print(f"{stack}: scored {recovered_in:.1f} s after the kill (lease {LEASE_SECONDS} s)")
    finally:
        platform.stop()


def test_a_run_past_its_time_limit_fails_charged_and_the_worker_carries_on(tmp_path):
    """A real worker with a 1-second soft limit scoring a file that takes seconds: the run is
    stopped, the submission fails with its own message (counted: the file made it slow), and
    the same worker scores the next job."""
    platform = EmbeddedPlatform(tmp_path, SCORING_TIME_LIMIT_SECONDS="1")
    try:
        ids = write_bundle(tmp_path / "bundle")
        token = platform.install(tmp_path / "bundle")
        platform.start_web()
        platform.start_worker("scoring", "-Q", "scoring", "-c", "1")
        rng = random.Random(3)
        urls = [
            platform.submit("crash", [(i, sentence(rng, 40)) for i in ids], f"slow {n}")
            for n in range(2)
        ]
        deadline = time.monotonic() + 180
        states = []
        while len(states) < 2:
            states = [json.loads(http("GET", url, token)[1]) for url in urls]
            states = [s for s in states if s["status"] not in ("queued", "running")]
            assert time.monotonic() < deadline, platform.log("scoring")
            time.sleep(0.5)
        for state in states:  # both reached the limit, one after the other, on one worker
            assert state["status"] == "failed", state
            assert "took longer than the 1-second limit" in state["error"]
            assert "counts towards your quota" in state["error"]
        assert platform.processes["scoring"].poll() is None  # the worker carried on
    finally:
        platform.stop()
