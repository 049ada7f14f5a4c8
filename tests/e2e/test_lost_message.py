"""A queued submission whose message is lost is published again by the reaper and scored once.
On the embedded default, in subprocesses: the web server accepts an upload while no worker
runs, the message is deleted from the broker, then the workers start (the reaper on its own
`maintenance` queue, with beat); the status page says what is happening meanwhile."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.embedded import EmbeddedPlatform, http, multipart

pytestmark = pytest.mark.e2e

# Prints how many messages the purge deleted from the scoring queue.
PURGE = (
    "from config.celery import app\n"
    "with app.connection_for_write() as conn:\n"
    "    print(conn.default_channel.queue_purge('scoring'))\n"
)
# Prints the submission's state as the database holds it.
STATE = (
    "import json\n"
    "from submissions.models import Submission\n"
    "s = Submission.objects.get(pk={pk})\n"
    "print(json.dumps({{'status': s.status, 'attempts': s.attempts,\n"
    "    'evaluations': s.evaluations.count(),\n"
    "    'splits': s.evaluations.values('split').distinct().count()}}))\n"
)


@pytest.fixture
def platform(tmp_path):
    platform = EmbeddedPlatform(tmp_path, REQUEUE_AFTER_SECONDS="2", REAPER_INTERVAL_SECONDS="1")
    platform.manage("migrate", "--noinput")
    platform.manage("setup_demo")
    output = platform.manage("create_api_token", "e2e-participant", "--create-user")
    platform.token = output.strip().splitlines()[-1]
    platform.start_web()
    yield platform
    platform.stop()


def test_a_lost_message_is_published_again_and_scored_once(platform):
    base, token = platform.base, platform.token
    _, body = http("GET", f"{base}/api/v1/benchmarks/sentiment-mini/", token)
    task = json.loads(body)["tasks"][0]
    ids = []
    for split in task["splits"]:
        if split["role"] in ("public", "hidden"):
            _, content = http(
                "GET",
                f"{base}/api/v1/benchmarks/sentiment-mini/tasks/{task['slug']}/splits/"
                f"{split['name']}/inputs?format=jsonl",
                token,
            )
            ids += [json.loads(line)["id"] for line in content.decode().splitlines()]
    predictions = "id,prediction\n" + "".join(f"{i},positive\n" for i in ids)
    payload, boundary = multipart({"name": "lost"}, "preds.csv", predictions.encode())
    status, body = http(
        "POST",
        f"{base}/api/v1/benchmarks/sentiment-mini/submissions/",
        token,
        payload,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201
    submission_id = json.loads(body)["id"]

    # The demo's baselines were published too; delete every message on the scoring queue.
    deleted = int(platform.manage("shell", "-c", PURGE).strip().splitlines()[-1])
    assert deleted >= 1

    platform.start_worker("scoring", "-Q", "scoring", "-c", "1")
    platform.start_worker("maintenance", "-Q", "maintenance", "-c", "1", "--beat")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        _, body = http("GET", f"{base}/api/v1/submissions/{submission_id}/", token)
        if json.loads(body)["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    state = json.loads(
        platform.manage("shell", "-c", STATE.format(pk=submission_id)).strip().splitlines()[-1]
    )
    assert state["status"] == "scored", (state, platform.log("maintenance"))
    assert state["attempts"] >= 1  # it was published again, by the reaper
    assert state["evaluations"] == state["splits"] == 2  # scored once: one per scored split
