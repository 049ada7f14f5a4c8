"""Every page and API answer a participant or an author opens renders for every task type: the
demo bundles imported, their baselines scored, then each page fetched."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from benchmarks.services import benchmark_import
from submissions import baselines as baselines_service
from submissions import pipeline as services
from submissions.models import Submission
from tests.demo_helpers import BUNDLES, private_storage  # noqa: F401 - a fixture


@pytest.mark.django_db
@pytest.mark.parametrize("bundle", BUNDLES, ids=[b.name for b in BUNDLES])
def test_every_page_of_a_scored_demo_renders(bundle, client):
    author = get_user_model().objects.create_user("author", password="pw")
    benchmark = benchmark_import(source=bundle, maintainer=author)
    for task in benchmark.tasks.all():
        for baseline in baselines_service.baselines_create(task=task):
            services.submission_score(submission_id=baseline.pk)
    submissions = list(Submission.objects.filter(benchmark=benchmark))
    assert submissions and all(s.status == "scored" for s in submissions)

    slug = benchmark.slug
    urls = [f"/b/{slug}/", f"/api/v1/benchmarks/{slug}/"]
    for task in benchmark.tasks.all():
        for split in task.splits.all():
            if split.is_scored:
                urls += [
                    f"/b/{slug}/leaderboard/?task={task.slug}&split={split.name}",
                    f"/api/v1/benchmarks/{slug}/leaderboard/?task={task.slug}&split={split.name}",
                ]
            for fmt in ("csv", "jsonl", "parquet"):
                urls += [
                    f"/b/{slug}/tasks/{task.slug}/splits/{split.name}/inputs.{fmt}",
                    f"/api/v1/benchmarks/{slug}/tasks/{task.slug}/splits/{split.name}/inputs"
                    f"?format={fmt}",
                ]
    for submission in submissions:
        urls += [
            f"/submissions/{submission.pk}/",
            f"/api/v1/submissions/{submission.pk}/",
            f"/api/v1/submissions/{submission.pk}/breakdown/",
        ]
    client.force_login(author)
    for url in urls:
        assert client.get(url).status_code == 200, url
