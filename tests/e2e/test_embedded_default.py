"""The embedded default as `make run` starts it, in subprocesses with nothing configured:
SQLite + filesystem broker in a fresh DATA_DIR, gunicorn and a Celery worker. A participant
downloads inputs, submits a CSV over HTTP and sees it scored and ranked."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from tests.e2e.embedded import EmbeddedPlatform, http, multipart

pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded_platform(tmp_path):
    platform = EmbeddedPlatform(tmp_path)
    platform.manage("migrate", "--noinput")
    platform.manage("setup_demo")
    output = platform.manage("create_api_token", "e2e-participant", "--create-user")
    token = output.strip().splitlines()[-1]
    base = platform.start_web()
    platform.start_worker("worker", "-Q", "scoring", "-c", "1")
    yield base, token, tmp_path
    platform.stop()


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
