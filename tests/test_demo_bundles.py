"""Every demo bundle under demo/ imports, and its automatic baselines score on every scored split
with a value for the task's primary metric: the demos are what a newcomer sees first."""

from __future__ import annotations

import pytest

from benchmarks.models import Split
from benchmarks.services import benchmark_import
from scoring.tasktypes import TASK_TYPES
from submissions import baselines as baselines_service
from submissions import pipeline as services
from submissions.models import Evaluation, Submission
from tests.demo_helpers import BUNDLES, private_storage  # noqa: F401 - a fixture

# Demo bundles travel with the repository and into every checkout: they stay small.
MAX_BUNDLE_BYTES = 700_000


@pytest.fixture(autouse=True)
def hf_cache(settings, tmp_path):
    settings.HF_DATASETS_CACHE = str(tmp_path / "hf")


def test_there_is_a_demo_bundle_for_every_task_type():
    types = set()
    for bundle in BUNDLES:
        text = (bundle / "benchmark.yaml").read_text()
        types |= {name for name in TASK_TYPES if f"type: {name}" in text}
    assert types == set(TASK_TYPES)


@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_the_demo_bundle_is_small(bundle):
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    assert size <= MAX_BUNDLE_BYTES, f"{bundle.name} holds {size} bytes"


@pytest.mark.django_db
@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_the_demo_bundle_imports_and_its_baselines_score(bundle):
    benchmark = benchmark_import(source=bundle)

    for task in benchmark.tasks.all():
        scored = list(task.scored_splits)
        assert {s.role for s in scored} == {Split.Role.PUBLIC, Split.Role.HIDDEN}
        assert all(s.num_rows > 0 and s.fingerprint for s in task.splits.all())

        baselines = baselines_service.baselines_create(task=task)
        assert baselines, f"{task}: no baseline applies"
        for submission in baselines:
            services.submission_score(submission_id=submission.pk)
            submission.refresh_from_db()
            assert submission.status == Submission.Status.SCORED, submission.error
            for split in scored:
                evaluation = Evaluation.objects.get(submission=submission, split=split)
                primary = evaluation.metrics.get(task.primary_metric) or {}
                assert primary.get("value") is not None, (
                    f"{task} / {submission.name} on {split.name}: no {task.primary_metric} "
                    f"(metrics: {sorted(evaluation.metrics)})"
                )
