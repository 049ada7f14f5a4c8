"""The demo as `make run` loads it: `setup_demo` imports every demo bundle and submits the
simulated participants' predictions through the upload path (scored here synchronously, as the
worker would); the demo data is generated deterministically by demo/generate.py; and the hidden
splits are large enough for every author slice to show."""

from __future__ import annotations

import importlib.util
import io
import json

import pyarrow.parquet as pq
import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command

from benchmarks.bundles import bundle_load
from benchmarks.models import Benchmark
from scoring.slices import hidden_publication, slice_cells
from submissions import pipeline
from submissions.demo_participants import PARTICIPANTS
from submissions.management.commands.setup_demo import DEMO_BUNDLES
from submissions.models import Evaluation, Submission
from tests.demo_helpers import BUNDLES, DEMO_ROOT, private_storage  # noqa: F401 - a fixture

MIN_SLICE_SIZE = 20


def load_generator():
    spec = importlib.util.spec_from_file_location("demo_generate", DEMO_ROOT / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cell(evaluation: Evaluation, slice_name: str, cell_name: str) -> dict:
    return next(c for c in evaluation.slices if c["slice"] == slice_name and c["cell"] == cell_name)


@pytest.mark.django_db
def test_setup_demo_imports_every_bundle_and_submits_the_simulated_participants():
    call_command("setup_demo", stdout=io.StringIO())

    assert sorted(Benchmark.objects.values_list("slug", flat=True)) == sorted(
        b.name for b in BUNDLES
    )
    assert sorted(DEMO_BUNDLES) == sorted(b.name for b in BUNDLES)
    users = get_user_model().objects
    entries = sum(len(p.entries) for p in PARTICIPANTS)
    submissions = Submission.objects.filter(
        participant__username__in=[p.username for p in PARTICIPANTS]
    )
    assert submissions.count() == entries >= 4 * 4
    for participant in PARTICIPANTS:
        user = users.get(username=participant.username)
        assert not user.has_usable_password()
        assert set(submissions.filter(participant=user).values_list("name", flat=True)) == {
            entry.name for entry in participant.entries.values()
        }
    for submission in submissions:
        assert submission.status == Submission.Status.QUEUED
        assert not submission.is_baseline
        assert "https://" in submission.description and "simulated" in submission.description

    # Idempotent: a second run adds nothing.
    call_command("setup_demo", stdout=io.StringIO())
    assert Benchmark.objects.count() == len(BUNDLES)
    assert submissions.count() == entries

    # Scored like any upload, on every scored split.
    for submission in submissions:
        pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == Submission.Status.SCORED, submission.error
        assert submission.evaluations.count() == 2

    # The failure patterns show in the breakdowns of the hidden split.
    def test_evaluation(name):
        return Evaluation.objects.get(submission__name=name, split__name="test")

    ada = test_evaluation("Ada-Encoder (base)")
    negated = cell(ada, "negation", "match")["metrics"]["accuracy"]["value"]
    plain = cell(ada, "negation", "no match")["metrics"]["accuracy"]["value"]
    assert negated < plain - 0.2
    grace = test_evaluation("Grace-Window-32")
    long = cell(grace, "length", "[30,inf)")["metrics"]["accuracy"]["value"]
    short = cell(grace, "length", "[0,10)")["metrics"]["accuracy"]["value"]
    assert long < short - 0.2
    margaret = test_evaluation("Margaret-Lexicon stars")
    app = cell(margaret, "category", "app")["metrics"]["mae"]["value"]
    hotel = cell(margaret, "category", "hotel")["metrics"]["mae"]["value"]
    assert app > 2 * hotel


def test_the_demo_data_is_generated_deterministically(tmp_path):
    generator = load_generator()
    generator.generate(tmp_path / "a")
    generator.generate(tmp_path / "b")
    first = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    second = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert first == second
    for path in first:
        a, b = tmp_path / "a" / path, tmp_path / "b" / path
        assert a.is_dir() or a.read_bytes() == b.read_bytes(), path
    # The checked-in data is the generator's output. (Images are compared by name only: zlib
    # builds may compress the same pixels differently.)
    for path in first:
        generated, stored = tmp_path / "a" / path, DEMO_ROOT / path
        if generated.suffix == ".png":
            assert stored.is_file(), path
        elif generated.is_file():
            assert generated.read_bytes() == stored.read_bytes(), f"{path}: run demo/generate.py"
    images = {p.name for p in (DEMO_ROOT / "images-mini" / "images").iterdir()}
    assert images == {p.name for p in (tmp_path / "a" / "images-mini" / "images").iterdir()}


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_every_author_slice_of_a_hidden_split_shows_cells_of_20_rows_or_more(bundle):
    loaded = bundle_load(bundle)
    spec = yaml.safe_load((bundle / "benchmark.yaml").read_text())
    for task in spec["tasks"]:
        hidden = [n for n, s in task["data"]["splits"].items() if s["role"] == "hidden"]
        for split in hidden:
            gold = pq.read_table(io.BytesIO(loaded.frozen(task["slug"], split).parquet))
            assert gold.num_rows >= 400
            for slice_spec in task["slices"]:
                codes, names = slice_cells(slice_spec, gold)
                counts = {names[c]: int((codes == c).sum()) for c in set(codes.tolist())}
                assert min(counts.values()) >= MIN_SLICE_SIZE, (slice_spec["name"], counts)
            publication = hidden_publication(task["slices"], gold, MIN_SLICE_SIZE)
            every = {(name, c) for name, cells in publication.sizes.items() for c in cells}
            assert publication.shown == every


def test_the_sentiment_test_split_balances_topics_and_has_negations():
    rows = [json.loads(line) for line in (DEMO_ROOT / "sentiment-mini/data/test.jsonl").open()]
    assert len(rows) == 600
    topics = {r["topic"] for r in rows}
    assert all(sum(r["topic"] == t for r in rows) >= 100 for t in topics)
    assert sum(" not " in f" {r['text']} " for r in rows) >= 60
