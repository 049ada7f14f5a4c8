"""The embedded default under load. Its broker alone: several processes publishing while two
consume, and every message arrives whole, once. And the platform as `make run` serves it:
`manage.py runplatform` in a fresh DATA_DIR (SQLite, the filesystem broker, gunicorn, the
scoring and maintenance workers), 500 submissions from 20 concurrent API clients. Every upload
is accepted, every submission is scored exactly once, nothing is left queued or running, and
no worker died on the way.

Not a timing test: the deadlines only keep a broken run from hanging.

    .venv/bin/pytest tests/e2e/test_stress_embedded.py -m stress -x -s
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from kombu import Connection, Exchange, Queue

from tests.e2e.embedded import EmbeddedPlatform, children_of, free_port, multipart

pytestmark = [pytest.mark.e2e, pytest.mark.stress]

SUBMISSIONS = 500
CLIENTS = 20
ROWS = 20  # per split
DEADLINE = 20 * 60  # seconds for the whole load to be scored; a healthy run needs far less
SLUG = "stress"


# The broker alone ------------------------------------------------------------------------


def broker_connection(folder: Path) -> Connection:
    """The embedded default's transport (config/broker.py) on its own folder."""
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        # Polling more often than the platform does (0.1 s) makes a consumer more likely to
        # come upon a message as it is written.
        "polling_interval": 0.01,
    }
    return Connection(
        "filesystem://localhost//", transport="config.broker:Transport", transport_options=options
    )


BROKER_QUEUE = Queue("stress", Exchange("stress"), routing_key="stress")


def publish(folder: Path, publisher: int, count: int) -> None:
    with broker_connection(folder) as conn:
        producer = conn.Producer()
        for i in range(count):
            body = {"publisher": publisher, "i": i, "pad": "x" * 1200}  # a Celery message's size
            producer.publish(body, routing_key="stress", declare=[BROKER_QUEUE], serializer="json")
            time.sleep(0.01)  # uploads arrive, they do not flood: the consumers keep up


def consume(folder: Path, out: Path, publishers_done) -> None:
    """Take messages (acks_late, prefetch 1, as a worker does) until the publishers are done
    and the queue has stayed empty for a second."""
    received, errors = [], []
    with broker_connection(folder) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 1, False)

        def on_message(body, message):
            received.append([body["publisher"], body["i"]])
            message.ack()

        with conn.Consumer(BROKER_QUEUE, channel=channel, callbacks=[on_message], accept=["json"]):
            idle_since = time.monotonic()
            while not publishers_done.is_set() or time.monotonic() - idle_since < 1:
                try:
                    conn.drain_events(timeout=0.2)
                    idle_since = time.monotonic()
                except TimeoutError:
                    pass
                except Exception as exc:  # what stops a Celery worker ("Unrecoverable error")
                    errors.append(repr(exc))
    out.write_text(json.dumps({"received": received, "errors": errors}))


def test_the_broker_hands_every_message_to_exactly_one_consumer_whole(tmp_path):
    """8 publishing processes (web workers) and 2 consuming ones, with the consumers keeping up:
    the case where kombu's own filesystem transport hands out half-written files (it lost 16 to
    30 of these 2,000 messages in every run, docs/queue.md)."""
    publishers, count = 8, 250
    for sub in ("queue", "processed", "control"):
        (tmp_path / sub).mkdir()
    context = multiprocessing.get_context("spawn")
    done = context.Event()
    outs = [tmp_path / f"consumer-{n}.json" for n in range(2)]
    consumers = [context.Process(target=consume, args=(tmp_path, out, done)) for out in outs]
    for process in consumers:
        process.start()
    senders = [
        context.Process(target=publish, args=(tmp_path, n, count)) for n in range(publishers)
    ]
    for process in senders:
        process.start()
    for process in senders:
        process.join(timeout=300)
        assert process.exitcode == 0
    done.set()
    for process in consumers:
        process.join(timeout=300)
        assert process.exitcode == 0

    results = [json.loads(out.read_text()) for out in outs]
    assert [error for r in results for error in r["errors"]] == []
    received = [tuple(m) for r in results for m in r["received"]]
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert set(received) == {(p, i) for p in range(publishers) for i in range(count)}
    assert all(r["received"] for r in results), "one consumer did all the work"
    assert not [name for name in os.listdir(tmp_path / "queue") if not name.startswith(".")]


# The platform -------------------------------------------------------------------------------


def write_bundle(folder: Path) -> list[str]:
    """A tiny text-classification benchmark with a quota above the load; returns the ids."""
    ids = []
    (folder / "data").mkdir(parents=True)
    for split in ("dev", "test"):
        with open(folder / "data" / f"{split}.jsonl", "w") as f:
            for i in range(ROWS):
                ids.append(f"{split}-{i}")
                row = {"id": ids[-1], "text": f"review {i}", "label": ["neg", "pos"][i % 2]}
                f.write(json.dumps(row) + "\n")
    bundle = {
        "slug": SLUG,
        "title": "Stress",
        "submission_policy": {"max_per_day": 10 * SUBMISSIONS, "max_total": 10 * SUBMISSIONS},
        "tasks": [
            {
                "slug": "cls",
                "type": "text-classification",
                "data": {
                    "splits": {
                        "dev": {"path": "data/dev.jsonl", "role": "public"},
                        "test": {"path": "data/test.jsonl", "role": "hidden"},
                    }
                },
                "columns": {
                    "id": "id",
                    "inputs": ["text"],
                    "label": "label",
                    "labels": ["neg", "pos"],
                },
                "metrics": [{"name": "accuracy"}],
                "primary_metric": "accuracy",
            }
        ],
    }
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))
    return ids


def api(method: str, url: str, token: str, body: bytes | None = None, content_type=None):
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", f"Token {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")[:500]


def worker_pids(runplatform: int) -> dict[str, int]:
    """The Celery worker children of runplatform (their main processes), by node name."""
    return {
        node: pid
        for pid, cmdline in children_of(runplatform).items()
        for node in ("scoring@%h", "maintenance@%h")
        if node in cmdline.split()
    }


@pytest.fixture
def platform(tmp_path):
    # A lost message must show as a submission left queued, not be covered up by the reaper
    # publishing its job again. (The rate limits are lifted: the load is under test.)
    embedded = EmbeddedPlatform(tmp_path, REQUEUE_AFTER_SECONDS=str(24 * 3600))
    env, manage = embedded.env, embedded.manage

    ids = write_bundle(tmp_path / "bundle")
    manage("migrate", "--noinput")
    manage("import_benchmark", str(tmp_path / "bundle"))
    token = manage("create_api_token", "stress", "--create-user").strip().splitlines()[-1]
    port, log = free_port(), tmp_path / "runplatform.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runplatform", "--port", str(port)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = log.read_text()
            ready = len(re.findall(r"(scoring|maintenance)@\S+ ready\.", text)) == 2
            if ready and api("GET", base + "/api/v1/benchmarks/", token)[0] == 200:
                break
            assert process.poll() is None, text[-4000:]
            time.sleep(0.5)
        else:
            raise AssertionError(f"runplatform did not start:\n{log.read_text()[-4000:]}")
        yield process, base, token, ids, log, manage
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


# [id, status, claims, attempts, evaluations] of each of the participant's submissions.
COUNTS = """
import json
from django.db.models import Count
from submissions.models import Submission
rows = Submission.objects.filter(participant__username="stress").annotate(n=Count("evaluations"))
print(json.dumps([[s.pk, s.status, s.claims, s.attempts, s.n] for s in rows]))
"""


def test_500_submissions_from_20_clients_are_each_scored_once(platform):
    process, base, token, ids, log, manage = platform
    workers = worker_pids(process.pid)
    assert set(workers) == {"scoring@%h", "maintenance@%h"}, workers
    content = ("id,prediction\n" + "".join(f"{i},pos\n" for i in ids)).encode()
    url = f"{base}/api/v1/benchmarks/{SLUG}/submissions/"
    lock, created, refused = threading.Lock(), [], []

    def submit(n: int) -> None:
        body, boundary = multipart({"name": f"run {n}"}, "p.csv", content)
        status, body = api("POST", url, token, body, f"multipart/form-data; boundary={boundary}")
        with lock:
            (created if status == 201 else refused).append(
                body if status == 201 else (status, body)
            )

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(submit, range(SUBMISSIONS)))
    uploaded = time.monotonic() - started
    assert not refused, refused[:5]
    assert len(created) == SUBMISSIONS
    assert len({s["id"] for s in created}) == SUBMISSIONS

    # Wait until nothing is queued or running, polling the participant's own list.
    pending = {s["id"] for s in created}
    final = {}
    deadline = time.monotonic() + DEADLINE
    while pending and time.monotonic() < deadline:
        for submission_id in list(pending)[:50]:
            status, body = api("GET", f"{base}/api/v1/submissions/{submission_id}/", token)
            assert status == 200, body
            if body["status"] not in ("queued", "running"):
                final[submission_id] = body
                pending.discard(submission_id)
        assert process.poll() is None, log.read_text()[-4000:]
        time.sleep(0.5)
    finished = time.monotonic() - started
    output = log.read_text()
    assert not pending, f"{len(pending)} still queued or running:\n{output[-4000:]}"

    statuses = {body["status"] for body in final.values()}
    assert statuses == {"scored"}, [b for b in final.values() if b["status"] != "scored"][:3]
    for body in final.values():
        # Exactly one evaluation per scored split.
        assert sorted(e["split"] for e in body["evaluations"]) == ["dev", "test"], body
    # In the database: one claim of each job (no run was taken over from a dead worker), none
    # published again, and one evaluation per scored split.
    rows = json.loads(manage("shell", "-c", COUNTS).strip().splitlines()[-1])
    assert len(rows) == SUBMISSIONS
    wrong = [row for row in rows if row[1:] != ["scored", 1, 0, 2]]
    assert not wrong, wrong[:5]
    # Exactly one message per submission reached the worker: none lost (none was published
    # again, see REQUEUE_AFTER_SECONDS) and none delivered twice.
    received = re.findall(r"score_submission\[([0-9a-f-]+)\] received", output)
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert len(received) >= SUBMISSIONS  # the benchmark's baselines are scored too

    # No worker died on the way.
    assert worker_pids(process.pid) == workers
    assert "runplatform: The" not in output, output[-4000:]
    assert "Unrecoverable error" not in output
    print(
        f"\n{SUBMISSIONS} submissions from {CLIENTS} clients: uploaded in {uploaded:.0f} s, "
        f"all scored {finished:.0f} s after the first upload; {len(received)} jobs received"
    )
