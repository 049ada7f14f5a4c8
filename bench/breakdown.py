"""Server time of a submission's breakdown: the result page (`GET /submissions/<id>/`, tables
and charts) and the breakdown API (`GET /api/v1/submissions/<id>/breakdown/?task=&split=`) for
a 100,000-row hidden split with 20 author slices plus the automatic ones, beside the naive way.

    .venv/bin/python bench/breakdown.py [--rows 100000] [--requests 50] [--profile]

In one process, on a throwaway SQLite database and DATA_DIR in a temporary folder (migrated
here; nothing touches the developer's database): a public text-classification benchmark whose
hidden split is synthetic (seeded numpy), 20 slice specs (value slices over metadata columns,
word and character bins, regex patterns, numeric bins). A participant uploads a prediction CSV
through `services.submission_create` (validated as an upload is) and the real scoring job
(`pipeline.submission_score`, in process) scores and stores the evaluation.

Requests go through Django's test client (in process: server time, no network), as the
participant (logged in for the page, API token for the API). Printed: the first request of each
after scoring with the per-process caches empty (the hidden split's publication, the gold
columns it reads, the chart SVGs; vl-convert's engine already started, as `config/wsgi.py` does
at web start) and the shared cache as the scoring job left it (the publication and the page's
charts, `pipeline.charts_warm`), after one request of each (the process's very first request
also imports the URLconf and compiles the templates, whatever the page: timed apart); the same
first page with the charts missing from the shared cache (as before the scoring job drew them);
the cold ones, nothing cached anywhere; then the median and p95 of `--requests` requests after
one warm-up (target: median <= 100 ms each); and the naive ways, measured in the same run:
`hidden_publication` called directly over the split's slice columns (what every request would
pay without the cache), and the page with its charts drawn uncached every time. Also printed:
what drawing the charts adds to the scoring job. `--profile` prints a cProfile excerpt of a warm
page and API request.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.csv  # noqa: F401  (pa.csv.write_csv)
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LABELS = ["negative", "neutral", "positive"]
VOCABULARY = (
    "the a cat dog sat on mat movie plot acting was is great terrible fine not never no good "
    "bad city river Paris London 1990 2024 it they we said would could but very really so why"
)
# Value slices over metadata columns: a handful of cells each, some of them small (a cell under
# MIN_SLICE_SIZE rows, others just above it) so that suppression has work to do.
CATEGORIES = {
    "topic": (["billing", "delivery", "returns", "account", "other"], None),
    "source": (["web", "app", "email", "phone"], None),
    "language": (["en", "de", "fr", "es", "it", "nl", "pt"], {"pt": 12}),
    "region": (["north", "south", "east", "west", "centre", "coast", "islands", "abroad"],
               {"abroad": 31}),
    "channel": (["organic", "campaign", "referral"], None),
    "annotator": ([f"a{i:02d}" for i in range(1, 13)], {"a12": 45}),
    "product": (["basic", "plus", "pro", "team", "enterprise", "legacy"], {"legacy": 25}),
}  # fmt: skip
NUMERIC = ["year", "rating", "confidence", "age_days"]

SLICES = [
    *({"name": column, "column": column} for column in CATEGORIES),
    {"name": "length", "column": "text", "measure": "words", "bins": [0, 10, 30]},
    {"name": "length fine", "column": "text", "measure": "words", "bins": [0, 5, 10, 20, 40, 60]},
    {"name": "characters", "column": "text", "measure": "chars", "bins": [0, 50, 150, 300]},
    {"name": "negation", "column": "text", "pattern": r"\b(not|never|no)\b"},
    {"name": "question", "column": "text", "pattern": r"\bwhy\b"},
    {"name": "contrast", "column": "text", "pattern": r"\bbut\b"},
    {"name": "number", "column": "text", "pattern": r"\d"},
    {"name": "intensifier", "column": "text", "pattern": r"\b(very|really|so)\b"},
    {"name": "city", "column": "text", "pattern": r"\b(Paris|London)\b"},
    {"name": "year", "column": "year", "bins": [2010, 2015, 2020, 2025]},
    {"name": "rating", "column": "rating", "bins": [1, 2, 3, 4, 5.01]},
    {"name": "confidence", "column": "confidence", "bins": [0, 0.5, 0.8, 0.95]},
    {"name": "age", "column": "age_days", "bins": [0, 30, 365, 1000]},
]
assert len(SLICES) == 20


def configure(data_dir: Path) -> None:
    """Django on a throwaway DATA_DIR and SQLite database, migrated. Every variable that could
    point elsewhere (a developer's .env) is set here; real environment variables win over it."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{data_dir / 'db.sqlite3'}",
        PRIVATE_STORAGE_DIR=str(data_dir / "files"),
        STORAGE_BACKEND="django.core.files.storage.FileSystemStorage",
        CELERY_BROKER_URL="filesystem://localhost//",
        CACHE_URL=f"filecache://{data_dir / 'cache'}?max_entries=5000",
        DEBUG="false",
        LOG_LEVEL="WARNING",
        # The throttles still run (a user's count in the file cache, as in production), with a
        # limit this many requests from one account stays under.
        THROTTLE_USER="100000/minute",
        THROTTLE_ANON="100000/minute",
        THROTTLE_UPLOADS="none",
    )
    os.environ.pop("STORAGE_OPTIONS", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # Pages link static files; without collectstatic the production manifest storage fails
    # them, so plain names are used, as the test suite does (tests/conftest.py).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0, interactive=False)


def texts(rng: np.random.Generator, n: int, pool: int = 5000) -> pa.Array:
    """n texts of 1–79 words drawn from a pool (as bench/scoring.py does)."""
    words = np.array(VOCABULARY.split())
    samples = [" ".join(rng.choice(words, rng.integers(1, 80))) for _ in range(pool)]
    return pa.array(samples).take(pa.array(rng.integers(0, pool, n)))


def categorical(rng: np.random.Generator, n: int, values: list[str], fixed: dict | None):
    """A column of `values`, with the cells in `fixed` holding exactly that many rows."""
    fixed = fixed or {}
    common = [v for v in values if v not in fixed]
    codes = rng.integers(0, len(common), n)
    column = np.array(common, dtype=object)[codes]
    rows = rng.permutation(n)
    start = 0
    for value, count in fixed.items():
        column[rows[start : start + count]] = value
        start += count
    return pa.array(column, pa.string())


def gold_table(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    columns = {
        "id": pa.array(np.char.add("test-", np.arange(n).astype(str))),
        "text": texts(rng, n),
        "label": pa.array(LABELS).take(pa.array(rng.integers(0, len(LABELS), n))),
    }
    for name, (values, fixed) in CATEGORIES.items():
        columns[name] = categorical(rng, n, values, fixed)
    columns["year"] = pa.array(rng.integers(2010, 2025, n))
    columns["rating"] = pa.array(np.round(rng.uniform(1, 5, n), 1))
    columns["confidence"] = pa.array(np.round(rng.beta(5, 2, n), 3))
    columns["age_days"] = pa.array(rng.integers(0, 1000, n))
    return pa.table(columns)


def prediction_csv(gold: pa.Table) -> bytes:
    rng = np.random.default_rng(1)
    y = np.array([LABELS.index(v) for v in gold["label"].to_pylist()])
    p = np.where(rng.random(len(y)) < 0.75, y, rng.integers(0, len(LABELS), len(y)))
    sink = io.BytesIO()
    table = pa.table({"id": gold["id"], "prediction": pa.array(LABELS).take(pa.array(p))})
    pa.csv.write_csv(table, sink)
    return sink.getvalue()


def build(rows: int):
    """The benchmark, its hidden split, a participant with a token, and a scored submission
    (uploaded and scored by the real pipeline). Returns (submission, user, token, seconds)."""
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.authtoken.models import Token

    from benchmarks.models import Benchmark, Split, Task
    from submissions import pipeline, services
    from submissions.models import Submission

    gold = gold_table(rows)
    sink = io.BytesIO()
    pq.write_table(gold, sink)
    data = sink.getvalue()
    benchmark = Benchmark.objects.create(slug="breakdown", title="Breakdown")
    task = Task.objects.create(
        benchmark=benchmark,
        slug="cls",
        title="Classification",
        type="text-classification",
        input_columns=["text"],
        label_column="label",
        label_names=LABELS,
        metadata_columns=[*CATEGORIES, *NUMERIC],
        metrics=[{"name": "accuracy"}, {"name": "f1", "average": "macro"}],
        primary_metric="accuracy",
        slices=SLICES,
    )
    split = Split(
        task=task,
        name="test",
        role=Split.Role.HIDDEN,
        fingerprint=hashlib.sha256(data).hexdigest(),
        num_rows=rows,
    )
    split.data.save("test.parquet", ContentFile(data), save=False)
    split.save()
    user = get_user_model().objects.create_user(username="participant", password="pw")
    token = Token.objects.create(user=user).key

    content = prediction_csv(gold)
    started = time.perf_counter()
    submission = services.submission_create(
        benchmark=benchmark,
        participant=user,
        uploaded_file=SimpleUploadedFile("predictions.csv", content),
    )
    uploaded = time.perf_counter()
    charts_warm, drawing = pipeline.charts_warm, []

    def timed_charts_warm(**kwargs):
        drawing.append(timed(lambda: charts_warm(**kwargs)))

    with mock.patch.object(pipeline, "charts_warm", timed_charts_warm):
        pipeline.submission_score(submission_id=submission.pk)
    scored = time.perf_counter()
    submission.refresh_from_db()
    if submission.status != Submission.Status.SCORED:
        raise SystemExit(f"scoring failed: {submission.status} {submission.error}")
    print(
        f"{rows:,}-row hidden split, {len(SLICES)} author slices; upload check "
        f"{uploaded - started:.2f} s, scoring job {scored - uploaded:.2f} s "
        f"({len(content) / 2**20:.1f} MB CSV), of which drawing the page's charts into the "
        f"shared cache {sum(drawing):.2f} s"
    )
    return submission, user, token


def clear_caches(*, publication=True, gold=True, charts_too=True, shared=False) -> None:
    """Empty the per-process caches a web process fills on its first breakdown (and with
    `shared`, the shared cache where the scoring job leaves the split's publication)."""
    from django.core.cache import cache

    from submissions import charts, selectors, uploads

    if shared:
        cache.clear()

    if publication:
        with selectors._PUBLICATIONS_LOCK:
            selectors._PUBLICATIONS.clear()
    if gold:
        uploads._GOLD_CACHE.clear()
    if charts_too:
        charts._chart.cache_clear()
        charts.render_svg.cache_clear()
        charts._slice_template.cache_clear()
        charts._confusion_template.cache_clear()


def charts_unshared():
    """The shared cache as if it held no chart: every chart missing from the per-process cache
    is drawn (and stored again, as a page does)."""
    from submissions import charts

    return mock.patch.object(charts, "_shared_get", return_value=None)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def stats(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return statistics.median(values) * 1000, p95 * 1000


def row(label: str, values: list[float], note: str = "") -> None:
    median, p95 = stats(values)
    p95_text = f"{p95:9.1f}" if len(values) > 1 else f"{'':9}"
    print(f"  {label:<58} {median:9.1f} {p95_text} {len(values):>4}  {note}")


def profile(label: str, fn, lines: int = 22) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"\n--- profile: {label} (cumulative) ---")
    text = out.getvalue()
    print(text[text.find("   ncalls") :].rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--naive", type=int, default=5, help="Page requests, charts uncached.")
    parser.add_argument(
        "--naive-publication", type=int, default=1, help="Direct hidden_publication calls."
    )
    parser.add_argument(
        "--skip-cold-api",
        action="store_true",
        help="No cold API request (on 100,000 rows, each publication takes minutes).",
    )
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-breakdown-") as tmp:
        configure(Path(tmp))
        from django.conf import settings
        from django.test import Client

        from benchmarks.models import Split
        from scoring.autoslices import automatic_columns, automatic_specs
        from scoring.slices import hidden_publication
        from submissions import charts, selectors
        from submissions.uploads import split_table

        # A web process starts vl-convert's engine at start (config/wsgi.py); a scoring worker
        # starts it on its first job (`pipeline.charts_warm`), once per process.
        warm = charts.warm_up()
        print(f"charts.warm_up() (vl-convert engine start, at web start): {warm:.2f} s")

        submission, user, token = build(args.rows)
        evaluation = submission.evaluations.select_related("task", "split").get()
        task, split = evaluation.task, evaluation.split
        assert split.role == Split.Role.HIDDEN

        page_url = f"/submissions/{submission.pk}/"
        api_url = f"/api/v1/submissions/{submission.pk}/breakdown/?task={task.slug}&split=test"
        page_client = Client()
        page_client.force_login(user)
        api_client = Client(HTTP_AUTHORIZATION=f"Token {token}")

        def page():
            response = page_client.get(page_url)
            assert response.status_code == 200, response.status_code
            return response

        def api():
            response = api_client.get(api_url)
            assert response.status_code == 200, response.status_code
            return response

        # The scoring job above filled the gold cache with the whole table; a web process has
        # not scored anything, so each cold request starts from empty caches. The cold API
        # request is also what every request would cost without the publication cache.
        # First view after scoring: a fresh web process, the publication and the page's charts
        # in the shared cache (the scoring job left them there). The process's very first
        # request also imports the URLconf and views and compiles the templates, once per
        # process whatever the page: timed apart, so that the figures below are this
        # submission's own.
        clear_caches()
        first_request = timed(page)
        api()
        clear_caches()
        first_page = timed(page)
        clear_caches()
        first_api = timed(api)
        # The same, the charts not in the shared cache: the first page draws them.
        clear_caches()
        with charts_unshared():
            first_page_drawn = timed(page)
        # Nothing cached anywhere (the shared cache lost): what a page would wait without it.
        clear_caches(shared=True)
        cold_page = timed(page)
        cold_api = None
        if not args.skip_cold_api:
            clear_caches(shared=True)
            cold_api = timed(api)
        # The cold page's parts: reading the slice columns, computing the publication (the
        # naive way, called directly), drawing the charts uncached.
        usable = {*task.input_columns, *task.metadata_columns}
        specs = [s for s in task.slices if s.get("column") in usable]
        task_spec = task.spec()
        columns = tuple(sorted({s["column"] for s in specs} | set(automatic_columns(task_spec))))
        clear_caches(publication=False, charts_too=False)
        gold_read = timed(lambda: split_table(split, columns))
        gold = split_table(split, columns)
        every_spec = specs + automatic_specs(task_spec, gold)
        direct = [
            timed(lambda: hidden_publication(every_spec, gold, settings.MIN_SLICE_SIZE))
            for _ in range(args.naive_publication)
        ]
        result = selectors.breakdown_for(user, submission, task=task.slug, split="test")
        clear_caches(publication=False, gold=False)
        with charts_unshared():
            cold_charts = timed(lambda: charts.charts_for(result))

        # Warm: one warm-up request each, then the measured ones, alternating.
        page(), api()
        page_times, api_times = [], []
        for _ in range(args.requests):
            page_times.append(timed(page))
            api_times.append(timed(api))

        # The page with its charts drawn uncached on every request.
        page_uncharted = []
        with charts_unshared():
            for _ in range(args.naive):
                clear_caches(publication=False, gold=False)
                page_uncharted.append(timed(page))

        publication = selectors.slice_publication(split, task)
        shown = sum(not c["suppressed"] for c in selectors.visible_slices(evaluation))
        cells = evaluation.slices
        auto = sum(1 for c in cells if c.get("auto"))
        by_prediction = sum(1 for c in cells if c.get("by_prediction"))
        names = {c["slice"] for c in cells}
        response = page()
        print(
            f"evaluation: {len(cells)} slice cells in {len(names)} slices ({auto} automatic, of "
            f"which {by_prediction} by predicted label); published on the hidden split: {shown} "
            f"(publication: {len(publication.shown)} of "
            f"{sum(len(v) for v in publication.sizes.values())} nonempty cells, "
            f"MIN_SLICE_SIZE {settings.MIN_SLICE_SIZE}); page {len(response.content) / 1024:.0f} "
            f"KB, API {len(api().content) / 1024:.0f} KB"
        )
        print(f"\n  {'':<58} {'median':>9} {'p95':>9} {'n':>4}  (ms; target: median <= 100 ms)")
        row("(a) page GET /submissions/<id>/, warm", page_times)
        row("(b) API GET …/breakdown/?task=&split=, warm", api_times)
        row("first page after scoring (publication + charts shared)", [first_page])
        row("first API answer after scoring (publication shared)", [first_api])
        row("first page, charts not in the shared cache (drawn)", [first_page_drawn])
        row("  process's first request (+ imports, templates compiled)", [first_request])
        row("cold page, nothing cached (gold read + publication + charts)", [cold_page])
        if cold_api is not None:
            row("cold API (gold read + publication)", [cold_api])
        row("  part: read the slice columns of the split (Parquet)", [gold_read])
        row("  part: charts_for uncached (altair + vl-convert + sanitise)", [cold_charts])
        if direct:
            row("naive: hidden_publication called directly", direct, "each request would add")
        row("naive: page, charts drawn uncached every request", page_uncharted)
        page_median, api_median = stats(page_times)[0], stats(api_times)[0]
        # Without a direct call: the cold page less an uncached-charts page.
        recompute = stats(direct)[0] if direct else cold_page * 1000 - stats(page_uncharted)[0]
        print(
            f"\n  ratio naive / ours (median): page with the publication recomputed "
            f"{(page_median + recompute) / page_median:.0f}x, "
            f"API {(api_median + recompute) / api_median:.0f}x"
            f" (warm median + hidden_publication); page with charts uncached "
            f"{stats(page_uncharted)[0] / page_median:.1f}x"
        )

        if args.profile:
            profile("warm page", page)
            profile("warm API", api)
            profile(
                "hidden_publication",
                lambda: hidden_publication(every_spec, gold, settings.MIN_SLICE_SIZE),
                30,
            )


if __name__ == "__main__":
    main()
