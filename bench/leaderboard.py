"""Leaderboard at scale: the board page (`/b/<slug>/leaderboard/`) and the leaderboard API
(`/api/v1/benchmarks/<slug>/leaderboard/`) of one task and split holding 10,000 scored
submissions from 2,000 participants (and 1,000 from 200), served by gunicorn on PostgreSQL and
loaded by locust from a separate process; beside the naive board (every evaluation read and
ranked in Python) and the time to store one evaluation through the real path.

    .venv/bin/python bench/leaderboard.py [--submissions 1000 10000] [--quick] [--explain]
        [--profile] [--seconds 30] [--clients 4] [--workers 2]

Needs the development PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and Redis
(127.0.0.1:6379, database 11 as the broker, flushed); creates `benchmarks_bench_lb_<pid>` and
drops it at the end (`--keep` keeps it and the DATA_DIR), and locust in the venv
(`pip install -r bench/requirements.txt`).

The benchmark is the demo bundle `demo/sentiment-mini` (text classification, public `dev` and
hidden `test`, three author slices plus the automatic ones). Its baselines and one participant
submission are scored by the real pipeline in process; the rest are bulk-inserted copies of
that real evaluation (both scored splits per submission, as the pipeline stores them) whose
metric values, intervals and slice cells are shifted to a per-participant skill, so every row
has the stored shape and size of a real one (metrics, slices, confusion, provenance,
cell_values; no per-example Parquet file). Then ANALYZE, as autovacuum would.

Per size (ascending, in the same database): the board's parts in process (the SQL alone, the
whole `leaderboard_build`, the naive board, the API and page views through Django's test client
with their query counts, the table template for 50 rows and for every row), the board the
default board reads (`submissions/board_entries.py`: the split's entries rebuilt after the bulk
insert, a page of 50 with ranks, one submission's upkeep), the time to store one evaluation
(`services.submission_create` then `pipeline.submission_record`, the scoring job's write step,
the board work the job does after it (`significance_refresh_for`, which builds each scored
split's board), and a whole `pipeline.submission_score`), then locust against gunicorn (`-w`
from `--workers`): a small API answer (the benchmark's detail: the floor of any request here),
then each board URL with one client back to back (latency) and with `--clients` clients
(throughput), median, p95 and requests/s from every response, against the target p95 <= 20 ms.
`--explain` prints EXPLAIN (ANALYZE, BUFFERS) of the board query at each size; `--profile` a
cProfile excerpt of an API and a page request at the largest.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import dataclasses
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from stack import BIN, ROOT, Stack, fresh_production_stack

sys.path.insert(0, str(ROOT))  # the project's `scoring` package before bench/scoring.py

BUNDLE = ROOT / "demo" / "sentiment-mini"
SLUG = "sentiment-mini"
TARGET_P95_MS = 20.0
LOCUSTFILE = Path(__file__).resolve().parent / "leaderboard_locust.py"
TABLE_TEMPLATE = "submissions/leaderboard_table.html"  # the board's rows, in the page

# The settings the web processes and this one run under: the project's, with STATIC_ROOT in
# the DATA_DIR, where `collectstatic` writes the manifest that DEBUG off serves pages from.
SETTINGS = """from config.settings import *  # noqa: F403
STATIC_ROOT = {static!r}
"""


# Set-up ----------------------------------------------------------------------------------


def configure(args) -> Stack:
    """A fresh PostgreSQL database and Redis database, a DATA_DIR with the settings module,
    Django set up in this process, migrated, static files collected."""
    env = fresh_production_stack(args.database_url, args.broker_url)
    stack = Stack("leaderboard", env, keep=args.keep)
    settings_dir = stack.data_dir / "settings"
    settings_dir.mkdir()
    (settings_dir / "bench_lb_settings.py").write_text(
        SETTINGS.format(static=str(stack.data_dir / "static"))
    )
    stack.env.update(
        DJANGO_SETTINGS_MODULE="bench_lb_settings",
        PYTHONPATH=str(settings_dir),
        DEBUG="false",
        PRIVATE_STORAGE_DIR=str(stack.data_dir / "files"),
        STORAGE_BACKEND="django.core.files.storage.FileSystemStorage",
        CACHE_URL=f"filecache://{stack.data_dir / 'cache'}?max_entries=5000",
    )
    stack.env.pop("STORAGE_OPTIONS", None)
    os.environ.update(stack.env)
    sys.path.append(str(settings_dir))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    return stack


def drop_database(database_url: str) -> None:
    import psycopg2
    from django.db import connections

    connections.close_all()
    server, name = database_url.rsplit("/", 1)
    admin = psycopg2.connect(server + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def prediction_csv(task, accuracy: float, seed: int) -> bytes:
    """A prediction file for every scored split of the task, right on about `accuracy` of the
    rows."""
    from submissions.uploads import split_table

    rng = random.Random(seed)
    labels = list(task.label_names)
    lines = ["id,prediction"]
    for split in task.scored_splits:
        table = split_table(split).select([task.id_column, task.label_column]).to_pylist()
        for row in table:
            gold = row[task.label_column]
            wrong = [label for label in labels if label != gold]
            guess = gold if rng.random() < accuracy else rng.choice(wrong)
            lines.append(f"{row[task.id_column]},{guess}")
    return ("\n".join(lines) + "\n").encode()


def upload_and_score(benchmark, task, username: str, accuracy: float, seed: int) -> dict:
    """One participant's submission through the real path: `services.submission_create` (the
    upload's check, storage, enqueue), then the scoring job's steps in process: claim, compute,
    and `submission_record`, the write step, timed on its own."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from submissions import pipeline, services

    user = get_user_model().objects.create_user(username=username)
    content = prediction_csv(task, accuracy, seed)
    started = time.perf_counter()
    submission = services.submission_create(
        benchmark=benchmark,
        participant=user,
        uploaded_file=SimpleUploadedFile("predictions.csv", content),
        name=username,
    )
    created = time.perf_counter()
    claim = pipeline.submission_claim(submission_id=submission.pk, stage="score")
    evaluations = pipeline.evaluations_compute(submission=submission)
    computed = time.perf_counter()
    assert pipeline.submission_record(
        submission_id=submission.pk, claim=claim, evaluations=evaluations
    )
    recorded = time.perf_counter()
    # What the scoring job does next that reads the board: the paired tests' refresh builds
    # each scored split's board (where the tree has it).
    try:
        from submissions.significance import significance_refresh_for
    except ImportError:
        significance_refresh_for = None
    if significance_refresh_for is not None:
        significance_refresh_for(evaluations)
    refreshed = time.perf_counter()
    return {
        "submission": submission,
        "create": created - started,
        "compute": computed - created,
        "record": recorded - computed,
        "after": refreshed - recorded if significance_refresh_for is not None else None,
    }


def score_whole(benchmark, task, username: str, accuracy: float, seed: int) -> float:
    """An upload, then the whole scoring job (`pipeline.submission_score`), timed."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from submissions import pipeline, services
    from submissions.models import Submission

    user = get_user_model().objects.create_user(username=username)
    submission = services.submission_create(
        benchmark=benchmark,
        participant=user,
        uploaded_file=SimpleUploadedFile("predictions.csv", prediction_csv(task, accuracy, seed)),
    )
    started = time.perf_counter()
    pipeline.submission_score(submission_id=submission.pk)
    elapsed = time.perf_counter() - started
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.SCORED
    return elapsed


def import_benchmark():
    """The demo bundle, its automatic baselines scored by the real job in process."""
    from benchmarks.services import benchmark_import
    from submissions import pipeline
    from submissions.baselines import baselines_create

    benchmark = benchmark_import(source=BUNDLE)
    task = benchmark.tasks.prefetch_related("splits").get()
    for baseline in baselines_create(task=task):
        pipeline.submission_score(submission_id=baseline.pk)
    return benchmark, task


# Bulk rows shaped like the real evaluation -----------------------------------------------


def shifted(entry, delta: float, rng: random.Random, noise: float):
    """A metric entry ({"value", "ci", ...}) moved by about `delta`, within [0, 1] where the
    original was."""
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), (int, float)):
        return entry
    value = entry["value"]
    bounded = 0.0 <= value <= 1.0
    move = delta + (rng.gauss(0, noise) if noise else 0.0)

    def clamp(x):
        return min(1.0, max(0.0, x)) if bounded else x

    out = {**entry, "value": clamp(value + move)}
    if isinstance(entry.get("ci"), list) and len(entry["ci"]) == 2:
        lo, hi = entry["ci"]
        if lo is not None and hi is not None:
            out["ci"] = [clamp(lo + move), clamp(hi + move)]
    return out


def synthetic_evaluation(template, submission_id: int, target: float, rng: random.Random):
    """An unsaved Evaluation with the template's shape, its primary metric at `target`
    (rounded to a whole number of rows, so equal scores happen as they do for real)."""
    from submissions.models import Evaluation

    primary = template.task.primary_metric
    rows = template.split.num_rows or 1000
    target = round(target * rows) / rows
    delta = target - template.metrics[primary]["value"]
    metrics = {
        key: shifted(entry, delta, rng, 0.0 if key == primary else 0.01)
        for key, entry in template.metrics.items()
    }
    metrics[primary]["value"] = min(1.0, max(0.0, target))
    slices = []
    for cell in template.slices or []:
        cell = dict(cell)
        cell_delta = delta + rng.gauss(0, 0.03)
        cell["metrics"] = {
            k: shifted(v, cell_delta, rng, 0.01) for k, v in (cell.get("metrics") or {}).items()
        }
        slices.append(cell)
    provenance = copy.deepcopy(template.provenance)
    evaluation = Evaluation(
        submission_id=submission_id,
        task_id=template.task_id,
        split_id=template.split_id,
        metrics=metrics,
        slices=slices,
        confusion=template.confusion,
        efficiency=None,
        provenance=provenance,
    )
    evaluation.cell_values = evaluation.cell_values_compute()
    return evaluation


def grow(benchmark, task, templates, *, participants: int, submissions: int, seed: int) -> float:
    """Add `participants` new participants holding `submissions` scored submissions between
    them (each at least one, the rest spread at random), each evaluated on every scored split
    like the template. Returns the seconds it took."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from submissions.models import Evaluation, Submission

    started = time.perf_counter()
    rng = random.Random(seed)
    User = get_user_model()
    first = User.objects.count()
    users = User.objects.bulk_create(
        [User(username=f"p{first + i:05d}", password="!") for i in range(participants)],
        batch_size=2000,
    )
    owners = list(range(participants)) + [
        rng.randrange(participants) for _ in range(submissions - participants)
    ]
    rng.shuffle(owners)
    skill = {i: rng.uniform(0.55, 0.93) for i in range(participants)}
    now = timezone.now()
    batch = 2000
    for start in range(0, len(owners), batch):
        chunk = owners[start : start + batch]
        rows = []
        for owner in chunk:
            created = now - timedelta(seconds=rng.uniform(600, 90 * 86400))
            rows.append(
                Submission(
                    benchmark=benchmark,
                    participant=users[owner],
                    task=task,
                    kind=Submission.Kind.PREDICTIONS,
                    file=f"submissions/{benchmark.slug}/{created:%Y/%m/%d}/bulk-predictions.csv",
                    original_filename="predictions.csv",
                    name=rng.choice(["", "", f"run {rng.randint(1, 40)}", "ensemble", "bert-ft"]),
                    status=Submission.Status.SCORED,
                    progress=1.0,
                    created_at=created,
                    started_at=created + timedelta(seconds=2),
                    finished_at=created + timedelta(seconds=3),
                    stage_seconds={"queued": 2.0, "score": 1.0},
                    celery_task_id=f"{rng.getrandbits(128):032x}",
                    claims=1,
                )
            )
        Submission.objects.bulk_create(rows)
        evaluations = [
            synthetic_evaluation(
                template,
                submission.pk,
                min(0.99, max(0.3, skill[owner] + rng.gauss(0, 0.03))),
                rng,
            )
            for owner, submission in zip(chunk, rows, strict=True)
            for template in templates
        ]
        Evaluation.objects.bulk_create(evaluations, batch_size=1000)
    return time.perf_counter() - started


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


# Measuring in process --------------------------------------------------------------------


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def summary(values: list[float]) -> tuple[float, float]:
    """Median and p95 (nearest rank), in milliseconds."""
    values = sorted(values)
    p95 = values[min(len(values) - 1, max(0, -(-95 * len(values) // 100) - 1))]
    return statistics.median(values) * 1000, p95 * 1000


def naive_board(split, sort: str) -> list:
    """The board the naive way: every evaluation of the split on the boards read into Python,
    each participant's best kept (each baseline its own row), sorted and ranked."""
    from scoring.tasktypes import lower_is_better
    from submissions.models import Evaluation, Submission

    sign = 1 if lower_is_better(sort) else -1
    best = {}
    evaluations = Evaluation.objects.filter(
        split=split, submission__in=Submission.objects.on_leaderboards()
    ).select_related("submission", "submission__participant")
    for evaluation in evaluations:
        submission = evaluation.submission
        group = -submission.pk if submission.is_baseline else submission.participant_id
        value = evaluation.value(sort)
        key = (value is None, sign * (value or 0), submission.created_at, submission.pk)
        if group not in best or key < best[group][0]:
            best[group] = (key, evaluation)
    rows, previous, rank = [], object(), None
    for index, (_key, evaluation) in enumerate(sorted(best.values(), key=lambda kv: kv[0]), 1):
        value = evaluation.value(sort)
        if value is None:
            rank = None
        elif value != previous:
            rank = index
        previous = value
        rows.append((rank, evaluation))
    return rows


def board_sql(task, split) -> str:
    """The SQL `leaderboard_build` runs, as sent to the server."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from submissions.leaderboards import leaderboard_build

    with CaptureQueriesContext(connection) as queries:
        leaderboard_build(task=task, split=split)
    board = [q["sql"] for q in queries.captured_queries if "ROW_NUMBER" in q["sql"].upper()]
    return board[0]


def in_process(task, split, urls: dict, repeat: int) -> dict:
    """Server time of the board's parts in this process (no HTTP), median and p95."""
    from django.contrib.auth.models import AnonymousUser
    from django.db import connection
    from django.template.loader import render_to_string
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from submissions.leaderboards import leaderboard_build

    sql = board_sql(task, split)

    def raw_sql():
        with connection.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()

    client = Client()
    parts = {
        "board SQL alone (cursor, fetchall)": timed(raw_sql, repeat),
        "leaderboard_build (SQL + model rows)": timed(
            lambda: leaderboard_build(task=task, split=split), repeat
        ),
        "naive board (every evaluation into Python)": timed(
            lambda: naive_board(split, task.primary_metric), max(3, repeat // 3)
        ),
    }
    queries = {}
    from django.core.cache import cache

    def cold(url: str):
        cache.clear()  # what the first read after a change of the board costs
        client.get(url)

    for name, url in urls.items():
        assert client.get(url).status_code == 200
        parts[f"{name} view, test client"] = timed(lambda url=url: client.get(url), repeat)
        parts[f"{name} view, shared cache emptied first"] = timed(lambda url=url: cold(url), repeat)
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries[name] = (
            len(captured.captured_queries),
            sum(float(q["time"]) for q in captured.captured_queries) * 1000,
        )
    board = leaderboard_build(task=task, split=split)
    head = dataclasses.replace(board, rows=board.rows[:50])

    def render(shown) -> None:
        for row in shown.rows:  # each request reads fresh rows: nothing cached on them yet
            row.evaluation.__dict__.pop("display_metrics", None)
        render_to_string(TABLE_TEMPLATE, {"board": shown, "user": AnonymousUser()})

    parts["table template, first 50 rows"] = timed(lambda: render(head), repeat)
    parts["table template, every row (no pages)"] = timed(
        lambda: render(board), max(3, repeat // 3)
    )
    naive = naive_board(split, task.primary_metric)
    same = [(r.rank, r.evaluation.pk) for r in board.rows] == [(r, e.pk) for r, e in naive]
    return {"parts": parts, "queries": queries, "rows": len(board.rows), "same": same, "sql": sql}


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cur.fetchall())


def profile(label: str, fn, lines: int = 25) -> None:
    for order in ("cumulative", "tottime"):
        profiler = cProfile.Profile()
        profiler.enable()
        fn()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(lines)
        text = out.getvalue()
        print(f"\n--- profile: {label} ({order}) ---")
        print(text[text.find("   ncalls") :].rstrip())


def table_sizes() -> str:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), pg_size_pretty(pg_total_relation_size('submissions_evaluation')),"
            " avg(pg_column_size(metrics))::int, avg(pg_column_size(slices))::int,"
            " avg(pg_column_size(provenance))::int, avg(pg_column_size(cell_values))::int"
            " FROM submissions_evaluation"
        )
        n, size, metrics, slices, provenance, cells = cur.fetchone()
    return (
        f"{n:,} evaluation rows, {size} with indexes; stored JSON per row: metrics {metrics} B, "
        f"slices {slices} B, provenance {provenance} B, cell_values {cells} B"
    )


# Board entries (submissions/board_entries.py) -------------------------------------------


def entries_probe(task, split, repeat: int) -> dict:
    """The board entries at this size: a rebuild of the split's entries (the bulk-inserted
    rows have none: the bench writes them around the platform), a page of 50 with its ranks
    (first and last page), one submission's upkeep; and whether the first page is the board
    `leaderboard_build` builds from the evaluations."""
    from django.db import connection, transaction

    from submissions.board_entries import entries_rebuild, entries_refresh, leaderboard_page
    from submissions.leaderboards import leaderboard_build
    from submissions.models import BoardEntry, Submission

    started = time.perf_counter()
    entries_rebuild([split.pk])
    backfill = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("ANALYZE submissions_boardentry")
    entries = BoardEntry.objects.filter(split=split).count()

    def page(start: int):
        return leaderboard_page(task=task, split=split, start=start, size=50)

    board = leaderboard_build(task=task, split=split)
    same = [(r.rank, r.evaluation.pk) for r in page(0).rows] == [
        (r.rank, r.evaluation.pk) for r in board.rows[:50]
    ]
    last = max(0, (len(board.rows) - 1) // 50 * 50)
    submission = (
        Submission.objects.on_leaderboards().filter(is_baseline=False).order_by("-pk").first()
    )

    def upkeep():
        with transaction.atomic():
            entries_refresh([submission.pk])

    return {
        "entries": entries,
        "backfill": backfill,
        "same": same,
        "parts": {
            "leaderboard_page: page 1 of 50 (+ count, rank)": timed(lambda: page(0), repeat * 5),
            f"leaderboard_page: last page (start {last:,})": timed(lambda: page(last), repeat * 5),
            "entries_refresh of one submission's groups": timed(upkeep, repeat * 5),
        },
    }


# Load from a separate process ------------------------------------------------------------


def locust(base: str, path: str, users: int, seconds: float, max_responses: int, tmp: Path):
    """locust headless against one path; (median ms, p95 ms, requests/s, responses, errors)."""
    times_file = tmp / f"times-{users}-{abs(hash(path))}.json"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "CELERY"))
    }
    env.update(LB_PATH=path, LB_TIMES=str(times_file), LB_MAX=str(max_responses))
    command = [
        BIN / "locust", "-f", LOCUSTFILE, "--headless", "-u", str(users), "-r", str(users),
        "-t", f"{int(seconds)}s", "-H", base, "--only-summary", "--loglevel", "ERROR",
        "--exit-code-on-error", "0",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode or not times_file.exists():
        raise SystemExit(f"locust failed ({done.returncode}):\n{done.stderr[-2000:]}")
    responses = json.loads(times_file.read_text())
    ok = [r for r in responses if r[2] == 200]
    errors = len(responses) - len(ok)
    if not ok:
        raise SystemExit(f"locust: no successful response from {path} ({errors} errors)")
    median, p95 = summary([ms / 1000 for _, ms, _ in ok])
    first_start = min(end - ms / 1000 for end, ms, _ in responses)
    last_end = max(end for end, _, _ in responses)
    rps = len(responses) / max(last_end - first_start, 1e-9)
    return median, p95, rps, len(ok), errors


def wait_for(url: str) -> None:
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the web server did not answer {url}")


# Report ----------------------------------------------------------------------------------


def report_parts(size: int, result: dict, repeat: int) -> None:
    print(
        f"  in process, {result['rows']:,} board rows (same ranking as the naive board: "
        f"{'yes' if result['same'] else 'NO'}), median / p95 of {repeat}:"
    )
    for label, values in result["parts"].items():
        median, p95 = summary(values)
        print(f"    {label:<48} {median:9.1f} ms {p95:9.1f} ms")
    for name, (count, ms) in result["queries"].items():
        print(f"    {name} request: {count} queries, {ms:.1f} ms in SQL (Django's clock)")


def report_load(rows: list) -> None:
    print(
        f"    {'URL':<6} {'clients':>7} {'median ms':>10} {'p95 ms':>9} {'req/s':>7} "
        f"{'n':>5} {'errors':>6}  p95 <= {TARGET_P95_MS:.0f} ms"
    )
    for name, users, (median, p95, rps, n, errors) in rows:
        verdict = "yes" if p95 <= TARGET_P95_MS else f"no ({p95 / TARGET_P95_MS:.1f}x)"
        print(
            f"    {name:<6} {users:>7} {median:10.1f} {p95:9.1f} {rps:7.1f} {n:>5} {errors:>6}  "
            f"{verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument(
        "--per-participant", type=float, default=5.0, help="Submissions per participant."
    )
    parser.add_argument("--seconds", type=float, default=30, help="Per locust run.")
    parser.add_argument("--max-requests", type=int, default=400, help="Per locust run.")
    parser.add_argument("--clients", type=int, default=4, help="Locust users, throughput run.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers.")
    parser.add_argument("--repeat", type=int, default=10, help="In-process timings.")
    parser.add_argument("--stores", type=int, default=5, help="Evaluations stored, timed.")
    parser.add_argument("--quick", action="store_true", help="Small numbers: a smoke run.")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the database and DATA_DIR.")
    parser.add_argument(
        "--database-url",
        default=f"postgres://postgres@127.0.0.1:5432/benchmarks_bench_lb_{os.getpid()}",
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    if args.quick:
        if args.submissions == parser.get_default("submissions"):
            args.submissions = [100, 300]
        args.seconds, args.max_requests, args.repeat, args.stores = 3, 40, 3, 2
        args.clients = min(args.clients, 2)
    sizes = sorted(set(args.submissions))

    stack = configure(args)
    results = {}
    try:
        from django.db.models import Count

        from benchmarks.models import Split
        from submissions.leaderboards import metric_columns
        from submissions.models import Evaluation, Submission

        t0 = time.perf_counter()
        benchmark, task = import_benchmark()
        baselines = Submission.objects.filter(is_baseline=True, status="scored").count()
        first = upload_and_score(benchmark, task, "template", 0.8, seed=1)
        templates = list(
            Evaluation.objects.filter(submission=first["submission"])
            .select_related("task", "split")
            .order_by("split__position")
        )
        board_split = next(e.split for e in templates if e.split.role == Split.Role.HIDDEN)
        print(
            f"{benchmark.slug}: task {task.slug}, splits "
            + ", ".join(
                f"{e.split.name} ({e.split.role}, {e.split.num_rows} rows)" for e in templates
            )
            + f"; {baselines} baselines and one upload scored by the real pipeline "
            f"({time.perf_counter() - t0:.1f} s with the import)"
        )
        template = next(e for e in templates if e.split == board_split)
        print(
            f"  a real evaluation on {board_split.name}: metrics {sorted(template.metrics)}, "
            f"{len(template.slices)} slice cells, {len(template.cell_values)} cell_values, "
            f"confusion {'yes' if template.confusion else 'no'}; e.g. "
            f"{json.dumps({task.primary_metric: template.metrics[task.primary_metric]})}"
        )
        port = 8000 + random.Random().randint(1000, 20000)
        base = f"http://127.0.0.1:{port}"
        page = f"/b/{SLUG}/leaderboard/"
        api = f"/api/v1/benchmarks/{SLUG}/leaderboard/"
        floor = f"/api/v1/benchmarks/{SLUG}/"  # a small API answer: what any request costs here
        stack.start(
            "web",
            [BIN / "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
             "--timeout", "300"],
        )  # fmt: skip
        participants_now = 0
        store_seed = 100
        tmp = Path(tempfile.mkdtemp(dir=stack.data_dir))
        for size in sizes:
            existing = Submission.objects.filter(is_baseline=False).count()
            adding = size - existing
            if adding > 0:
                wanted = max(1, round(size / args.per_participant))
                new_participants = min(adding, max(1, wanted - participants_now))
                seconds = grow(
                    benchmark,
                    task,
                    templates,
                    participants=new_participants,
                    submissions=adding,
                    seed=size,
                )
                participants_now += new_participants
                analyze()
                print(f"\n== {size:,} submissions: added {adding:,} in {seconds:.1f} s, ANALYZE")
            else:
                print(f"\n== {size:,} submissions (already there)")
            on_board = (
                Submission.objects.on_leaderboards()
                .filter(is_baseline=False)
                .aggregate(n=Count("participant", distinct=True))["n"]
            )
            print(f"  {on_board:,} participants on the board; {table_sizes()}")

            result = in_process(task, board_split, {"API": api, "page": page}, args.repeat)
            report_parts(size, result, args.repeat)
            design = entries_probe(task, board_split, args.repeat)
            print(
                f"  board entries: {design['entries']:,} for {len(metric_columns(task))} metrics, "
                f"rebuilt in {design['backfill'] * 1000:.0f} ms; first page as the built board: "
                f"{'yes' if design['same'] else 'NO'}; median / p95:"
            )
            for label, values in design["parts"].items():
                median, p95 = summary(values)
                print(f"    {label:<48} {median:9.2f} ms {p95:9.2f} ms")
            if args.explain:
                print(f"\n  EXPLAIN (ANALYZE, BUFFERS) of the board query at {size:,}:")
                print("    " + explain(result["sql"]).replace("\n", "\n    "))
                print()

            stores = [
                upload_and_score(benchmark, task, f"store{size}-{i}", 0.75, seed=store_seed + i)
                for i in range(args.stores)
            ]
            store_seed += args.stores
            whole = [
                score_whole(benchmark, task, f"whole{size}-{i}", 0.7, seed=store_seed + i)
                for i in range(max(1, args.stores // 2))
            ]
            store_seed += args.stores
            record = summary([s["record"] for s in stores])
            create = summary([s["create"] for s in stores])
            after = [s["after"] for s in stores if s["after"] is not None]
            after_text = (
                f"; after it, significance_refresh_for (builds each scored split's board) "
                f"{summary(after)[0]:.0f} / {summary(after)[1]:.0f} ms"
                if after
                else ""
            )
            print(
                f"  storing one evaluation (2 rows, one per scored split), median / p95 of "
                f"{len(stores)}: submission_record {record[0]:.1f} / {record[1]:.1f} ms; "
                f"the upload before it (services.submission_create) {create[0]:.0f} / "
                f"{create[1]:.0f} ms{after_text}; a whole scoring job "
                f"(pipeline.submission_score) {statistics.median(whole) * 1000:.0f} ms "
                f"(median of {len(whole)})"
            )

            wait_for(base + api)
            for url in (floor, page, api):  # every worker's first requests, before the timed ones
                for _ in range(2 * args.workers):
                    urllib.request.urlopen(base + url, timeout=300).read()
            load_rows = [("floor", 1, locust(base, floor, 1, args.seconds, args.max_requests, tmp))]
            for users in (1, args.clients):
                for name, url in (("page", page), ("API", api)):
                    figures = locust(base, url, users, args.seconds, args.max_requests, tmp)
                    load_rows.append((name, users, figures))
            print(
                f"  gunicorn -w {args.workers}, locust in its own process, up to "
                f"{args.max_requests} responses or {args.seconds:.0f} s per row "
                f"(page: its first 100 rows; API: its first page of 50):"
            )
            report_load(load_rows)
            results[size] = {"parts": result, "load": load_rows, "record": record}

        if args.profile:
            from django.test import Client

            client = Client()
            client.get(api), client.get(page)  # the handler's middleware loads on its first
            largest = sizes[-1]
            profile(f"API request at {largest:,}", lambda: client.get(api))
            profile(f"page request at {largest:,}", lambda: client.get(page))
    finally:
        stack.stop()
        if not args.keep:
            drop_database(args.database_url)
            import redis

            redis.Redis.from_url(args.broker_url).flushdb()
        else:
            print(f"  (database kept: {args.database_url})")

    print(f"\nSummary (target p95 <= {TARGET_P95_MS:.0f} ms; the machine: {os.cpu_count()} CPUs)")
    for size, result in results.items():
        for name, users, (median, p95, rps, _, _) in result["load"]:
            print(
                f"  {size:>6,} submissions  {name:<4} {users} client(s): median {median:7.1f} ms, "
                f"p95 {p95:7.1f} ms, {rps:6.1f} req/s"
            )
        print(f"  {size:>6,} submissions  store one evaluation: {result['record'][0]:.1f} ms")


if __name__ == "__main__":
    main()
