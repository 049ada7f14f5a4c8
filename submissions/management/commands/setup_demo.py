"""Import the demo benchmark (if it isn't there yet) and create a demo login."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from benchmarks.authors import author_grant
from benchmarks.models import Benchmark
from submissions.baselines import benchmark_import_with_baselines

DEMO_BUNDLE = settings.BASE_DIR / "demo" / "sentiment-mini"


class Command(BaseCommand):
    help = "Load the demo benchmark and create the demo users (idempotent)."

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
        if not Benchmark.objects.filter(slug="sentiment-mini").exists():
            benchmark = benchmark_import_with_baselines(source=DEMO_BUNDLE, maintainer=author)
            self.stdout.write(f"Imported the demo benchmark '{benchmark.slug}'.")
        self.stdout.write(
            "Demo logins: participant demo / demo-password; "
            "author (admin at /admin/) demo-author / demo-author-password"
        )
