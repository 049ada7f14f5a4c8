"""Import the demo benchmarks (those not there yet), create the demo logins and the simulated
participants' submissions."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from benchmarks.authors import author_grant
from benchmarks.models import Benchmark
from submissions.baselines import benchmark_import_with_baselines
from submissions.demo_participants import PARTICIPANTS, demo_participants_create

DEMO_ROOT = settings.BASE_DIR / "demo"
# One benchmark per task type; sentiment-mini first, the one the README walks through.
DEMO_BUNDLES = [
    "sentiment-mini",
    "qa-mini",
    "ner-mini",
    "summaries-mini",
    "regression-mini",
    "images-mini",
]


class Command(BaseCommand):
    help = (
        "Load the demo benchmarks, create the demo users and submit the simulated participants' "
        "predictions (idempotent)."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        author, created = User.objects.get_or_create(username="demo-author")
        if created:
            author.set_password("demo-author-password")
            author.save()
        author_grant(author)
        participant, created = User.objects.get_or_create(username="demo")
        if created:
            participant.set_password("demo-password")
            participant.save()
        for name in DEMO_BUNDLES:
            if Benchmark.objects.filter(slug=name).exists():
                continue
            # Each import commits on its own; then its baselines are computed and queued.
            benchmark = benchmark_import_with_baselines(source=DEMO_ROOT / name, maintainer=author)
            self.stdout.write(f"Imported the demo benchmark '{benchmark.slug}'.")
        demo = list(Benchmark.objects.filter(slug__in=DEMO_BUNDLES))
        submitted = demo_participants_create(benchmarks=demo)
        if submitted:
            names = ", ".join(p.username for p in PARTICIPANTS)
            self.stdout.write(
                f"Submitted {len(submitted)} predictions of the simulated participants ({names})."
            )
        self.stdout.write(
            "Demo logins: participant demo / demo-password; "
            "author (admin at /admin/) demo-author / demo-author-password"
        )
