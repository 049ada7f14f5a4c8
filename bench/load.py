"""Load: many API clients submitting at once against the real platform in subprocesses
(gunicorn + 2 Celery workers + the reaper), on PostgreSQL + Redis and on the embedded default
in the same run. Prints, per stack: accepted, refused (by status), lost, double-scored,
accepted/s, submit latency p50/p95, drain time (last upload to nothing queued or running), and
the peak memory of the web and worker processes.

    .venv/bin/python bench/load.py [--submissions 1000] [--clients 50]
        [--embedded-submissions 200] [--embedded-clients 20] [--rows 200]

Each client is its own participant (a token each); the benchmark sets no quota, so every
refusal is the platform's. The API's rate limits are lifted for the run (one client here sends
more than any person would).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from stack import BIN, Stack, fresh_production_stack, multipart

LABELS = ["negative", "positive"]

COUNT = """
import json
from django.db.models import Count
from submissions.models import Submission
rows = Submission.objects.filter(is_baseline=False).annotate(n=Count("evaluations"))
print(json.dumps([[s.pk, s.status, s.claims, s.n] for s in rows]))
"""


def write_bundle(folder: Path, rows: int) -> list[str]:
    rng = random.Random(0)
    (folder / "data").mkdir(parents=True)
    ids = []
    for name, n in (("dev", rows // 5), ("test", rows - rows // 5)):
        with open(folder / "data" / f"{name}.jsonl", "w") as f:
            for i in range(n):
                row_id = f"{name}-{i:05d}"
                ids.append(row_id)
                text = " ".join(rng.choice(["good", "bad", "fine", "awful"]) for _ in range(8))
                f.write(json.dumps({"id": row_id, "text": text, "label": rng.choice(LABELS)}))
                f.write("\n")
    spec = {
        "slug": "load",
        "title": "Load",
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
                "columns": {"id": "id", "inputs": ["text"], "label": "label", "labels": LABELS},
                "metrics": ["accuracy", {"name": "f1", "average": "macro"}],
                "primary_metric": "accuracy",
            }
        ],
    }
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(spec))
    return ids


def peak_rss_mb(root_pid: int) -> float:
    """The largest peak resident set (VmHWM) among a process and its descendants."""
    pids, peak = [root_pid], 0
    while pids:
        pid = pids.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        pids += [int(c) for c in children]
    return peak / 1024


def tree_pids(root_pid: int) -> list[int]:
    pids, found = [root_pid], []
    while pids:
        pid = pids.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        found.append(pid)
        pids += [int(c) for c in children]
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def service_pids(name: str) -> list[int]:
    """Every process whose command name is `name` (the database or Redis server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip().startswith(name):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def run_stack(label: str, env_extra: dict, bundle: Path, ids: list[str], args) -> dict:
    stack = Stack(label, env_extra)
    manage = stack.manage

    manage("migrate", "--noinput")
    manage("import_benchmark", str(bundle))
    tokens = [
        manage("create_api_token", f"client{i}", "--create-user").strip().splitlines()[-1]
        for i in range(args.clients)
    ]
    port = 8000 + random.Random().randint(1000, 20000)
    base = f"http://127.0.0.1:{port}"
    worker = [BIN / "celery", "-A", "config", "worker", "-c", "1", "--loglevel", "WARNING"]
    commands = {
        "web": [BIN / "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "4"],
        "worker1": [*worker, "-Q", "scoring", "-n", "w1@%h"],
        "worker2": [*worker, "-Q", "scoring", "-n", "w2@%h"],
        "reaper": [*worker, "-Q", "maintenance", "-n", "reaper@%h", "--beat"],
    }
    processes = {
        name: stack.start(name, cmd, nice=args.worker_nice if name != "web" else 0)
        for name, cmd in commands.items()
    }
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/v1/benchmarks/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        content = ("id,prediction\n" + "".join(f"{i},positive\n" for i in ids)).encode()
        statuses: dict[int | str, int] = {}
        latencies: list[float] = []
        accepted: list[int] = []
        lock = threading.Lock()

        def submit(n: int) -> None:
            body, content_type = multipart(content)
            request = urllib.request.Request(
                f"{base}/api/v1/benchmarks/load/submissions/",
                data=body,
                method="POST",
                headers={
                    "Authorization": f"Token {tokens[n % len(tokens)]}",
                    "Content-Type": content_type,
                },
            )
            start = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, answer = response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                status, answer = exc.code, None
            except OSError as exc:
                status, answer = type(exc).__name__, None
            elapsed = time.perf_counter() - start
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(elapsed)
                if status == 201:
                    accepted.append(answer["id"])

        groups = {
            "web": lambda: tree_pids(processes["web"].pid),
            "workers": lambda: [
                pid for w in ("worker1", "worker2", "reaper") for pid in tree_pids(processes[w].pid)
            ],
            "database": lambda: service_pids("postgres"),
            "redis": lambda: service_pids("redis-server"),
        }
        cpu_before = {name: cpu_seconds(pids()) for name, pids in groups.items()}
        client_before = time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(submit, range(args.submissions)))
        uploaded = time.perf_counter()
        while True:
            rows = json.loads(manage("shell", "-c", COUNT).strip().splitlines()[-1])
            if all(status not in ("queued", "running") for _, status, _, _ in rows):
                break
            if time.perf_counter() - uploaded > 600:
                break
            time.sleep(0.5)
        drained = time.perf_counter()
        cpu = {name: cpu_seconds(pids()) - cpu_before[name] for name, pids in groups.items()}
        cpu["client"] = time.process_time() - client_before
        by_id = {pk: (status, claims, n) for pk, status, claims, n in rows}
        scored_splits = 2
        return {
            "label": label,
            "statuses": statuses,
            "accepted": len(accepted),
            "lost": sum(1 for pk in accepted if by_id.get(pk, ("missing",))[0] != "scored"),
            "double": sum(
                1
                for pk in accepted
                if pk in by_id and (by_id[pk][1] > 1 or by_id[pk][2] != scored_splits)
            ),
            "rate": len(accepted) / (uploaded - started),
            "p50": statistics.median(latencies),
            "p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
            "drain": drained - uploaded,
            "cpu": cpu,
            "web_mb": peak_rss_mb(processes["web"].pid),
            "worker_mb": max(peak_rss_mb(processes[w].pid) for w in ("worker1", "worker2")),
        }
    finally:
        stack.stop()


def report(r: dict) -> None:
    refused = {k: v for k, v in r["statuses"].items() if k != 201}
    print(f"  {r['label']}")
    print(
        f"    accepted {r['accepted']}, refused {refused or 0}, lost {r['lost']}, "
        f"double-scored {r['double']}"
    )
    print(
        f"    {r['rate']:.0f} accepted/s; submit p50 {r['p50'] * 1000:.0f} ms, "
        f"p95 {r['p95'] * 1000:.0f} ms; drained {r['drain']:.1f} s after the last upload"
    )
    per = ", ".join(
        f"{name} {seconds * 1000 / max(r['accepted'], 1):.1f} ms"
        for name, seconds in r["cpu"].items()
    )
    print(f"    CPU per accepted submission, upload to drained: {per}")
    print(
        f"    peak memory: web {r['web_mb']:.0f} MB, worker {r['worker_mb']:.0f} MB (per process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--embedded-submissions", type=int, default=200)
    parser.add_argument("--embedded-clients", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200, help="Rows of the benchmark's splits.")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_load")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="Niceness of the worker processes, as `runplatform` starts its scoring worker "
        "(WORKER_NICE); the web server runs at 0.",
    )
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-production", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "bundle"
        ids = write_bundle(bundle, args.rows)
        print(
            f"{args.rows}-row benchmark, gunicorn -w 4, 2 scoring workers and one reaper "
            f"at niceness {args.worker_nice}"
        )
        if not args.skip_production:
            env = fresh_production_stack(args.database_url, args.broker_url)
            print(f"PostgreSQL + Redis: {args.submissions} submissions from {args.clients} clients")
            report(run_stack("PostgreSQL + Redis", env, bundle, ids, args))
        if not args.skip_embedded:
            embedded = argparse.Namespace(
                **{
                    **vars(args),
                    "submissions": args.embedded_submissions,
                    "clients": args.embedded_clients,
                }
            )
            print(
                f"Embedded default: {embedded.submissions} submissions from "
                f"{embedded.clients} clients"
            )
            report(run_stack("Embedded default", {}, bundle, ids, embedded))


if __name__ == "__main__":
    main()
