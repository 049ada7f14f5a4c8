"""Upload-to-scored latency: a participant POSTs a 10,000-row prediction CSV and polls until it
is scored. Runs the real platform (gunicorn + one Celery worker) in subprocesses, on PostgreSQL
+ Redis and on the embedded default (SQLite + filesystem broker) in the same run, and prints
the in-process scoring time of the same file as the floor the queue adds to.

    .venv/bin/python bench/latency.py [--rows 10000] [--submissions 20]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from stack import BIN, ROOT, Stack, fresh_production_stack, multipart

KEEP = False
LABELS = ["negative", "positive", "neutral"]
WORDS = [
    "good",
    "bad",
    "fine",
    "awful",
    "great",
    "slow",
    "fast",
    "cheap",
    "tasty",
    "cold",
    "warm",
    "rude",
    "kind",
    "late",
    "early",
]


# The benchmark's one task, as the scorer sees it (Task.spec()); the bundle is written from it.
TASK_SPEC = {
    "slug": "cls",
    "type": "text-classification",
    "columns": {
        "id": "id",
        "inputs": ["text"],
        "label": "label",
        "labels": LABELS,
        "metadata": ["topic"],
    },
    "metrics": [{"name": "accuracy"}, {"name": "f1", "average": "macro"}],
    "primary_metric": "accuracy",
    "slices": [
        {"name": "topic", "column": "topic"},
        {"name": "length", "column": "text", "measure": "words", "bins": [0, 10, 30]},
        {"name": "negation", "column": "text", "pattern": r"\b(bad|awful)\b"},
    ],
}


def write_bundle(folder: Path, rows: int) -> None:
    rng = random.Random(0)
    (folder / "data").mkdir(parents=True)
    for name, n in (("dev", rows // 10), ("test", rows - rows // 10)):
        with open(folder / "data" / f"{name}.jsonl", "w") as f:
            for i in range(n):
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
                f.write(
                    json.dumps(
                        {
                            "id": f"{name}-{i}",
                            "text": text,
                            "label": rng.choice(LABELS),
                            "topic": rng.choice(["food", "service", "price"]),
                        }
                    )
                    + "\n"
                )
    task = {
        "slug": TASK_SPEC["slug"],
        "type": TASK_SPEC["type"],
        "data": {
            "splits": {
                "dev": {"path": "data/dev.jsonl", "role": "public"},
                "test": {"path": "data/test.jsonl", "role": "hidden"},
            }
        },
        **{k: TASK_SPEC[k] for k in ("columns", "metrics", "primary_metric", "slices")},
    }
    bundle = {"slug": "latency", "title": "Latency", "tasks": [task]}
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))


def prediction_csv(folder: Path, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = ["id,prediction"]
    for name in ("dev", "test"):
        with open(folder / "data" / f"{name}.jsonl") as f:
            for line in f:
                lines.append(f"{json.loads(line)['id']},{rng.choice(LABELS)}")
    return ("\n".join(lines) + "\n").encode()


def request(url, token, body=None, headers=None, method="GET"):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    req.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(req, timeout=60) as response:
        return json.loads(response.read())


def run_platform(label: str, env_extra: dict, bundle: Path, files: list[bytes]) -> dict:
    stack = Stack(label, env_extra, keep=KEEP)
    stack.manage("migrate", "--noinput")
    stack.manage("import_benchmark", str(bundle))
    token = stack.manage("create_api_token", "bench", "--create-user").strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stack.start("web", [BIN / "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"])
    stack.start(
        "worker",
        [BIN / "celery", "-A", "config", "worker", "-Q", "scoring", "-c", "1"]
        + ["--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
    )
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/v1/benchmarks/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        latencies, uploads = [], []
        for i, content in enumerate(files):
            body, content_type = multipart(content)
            start = time.perf_counter()
            created = request(
                f"{base}/api/v1/benchmarks/latency/submissions/",
                token,
                body,
                {"Content-Type": content_type},
                method="POST",
            )
            uploaded = time.perf_counter()
            while True:
                state = request(base + created["url"], token)
                if state["status"] in ("scored", "failed", "cancelled"):
                    break
                time.sleep(0.01)
            done = time.perf_counter()
            if state["status"] != "scored":
                raise SystemExit(f"{label}: submission failed: {state['error']}")
            if i == 0:
                continue  # the first one warms the worker's caches and imports
            uploads.append(uploaded - start)
            latencies.append(done - start)
        # Where the time went, from the rows' own timestamps: waiting in the queue (created to
        # claimed) and the worker's run (claimed to recorded).
        phases = json.loads(stack.manage("shell", "-c", PHASES).strip().splitlines()[-1])
        return {"label": label, "latencies": latencies, "uploads": uploads, **phases}
    finally:
        stack.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PHASES = """
import json
from submissions.models import Submission
rows = Submission.objects.filter(is_baseline=False).order_by("pk")[1:]
print(json.dumps({
    "queued": [(s.started_at - s.created_at).total_seconds() for s in rows],
    "running": [(s.finished_at - s.started_at).total_seconds() for s in rows],
}))
"""


def in_process_floor(bundle: Path, content: bytes) -> float:
    """Parse + check + score of the same file with no web server, queue or database."""
    sys.path.insert(0, str(ROOT))
    import io

    import pyarrow.json as pajson

    from scoring.evaluation import score_split
    from scoring.predictions import check_predictions, read_prediction_file

    golds = [pajson.read_json(bundle / "data" / f"{n}.jsonl") for n in ("dev", "test")]
    import pyarrow as pa

    ids = pa.concat_arrays([g.column("id").combine_chunks() for g in golds])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        table = check_predictions(
            TASK_SPEC, ids, read_prediction_file(io.BytesIO(content), "p.csv")
        )
        for gold in golds:
            score_split(TASK_SPEC, gold, table, resamples=1000)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def summary(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms  "
        f"min {values[0] * 1000:7.1f} ms  max {values[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_latency"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep each run's DATA_DIR.")
    args = parser.parse_args()
    global KEEP
    KEEP = args.keep

    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        write_bundle(bundle, args.rows)
        files = [prediction_csv(bundle, seed) for seed in range(args.submissions + 1)]
        print(
            f"{args.rows:,}-row CSV ({len(files[0]) / 1024:.0f} KB), "
            f"{args.submissions} submissions each (after 1 warm-up), one worker process"
        )
        floor = in_process_floor(bundle, files[0])
        print(f"  in-process parse+check+score (no web/queue/db): {floor * 1000:7.1f} ms")
        results = [
            run_platform(
                "PostgreSQL + Redis",
                fresh_production_stack(args.database_url, args.broker_url),
                bundle,
                files,
            )
        ]
        if not args.skip_embedded:
            results.append(run_platform("SQLite + filesystem broker", {}, bundle, files))
        for r in results:
            print(f"  {r['label']:<28} upload-to-scored {summary(r['latencies'])}")
            print(f"  {'':<28} POST (upload+validate) {summary(r['uploads'])}")
            print(f"  {'':<28} created → claimed      {summary(r['queued'])}")
            print(f"  {'':<28} claimed → scored       {summary(r['running'])}")


if __name__ == "__main__":
    main()
