"""Recompute scores of scored submissions and report every value that changed."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from submissions.models import Submission
from submissions.rescoring import submission_rescore
from submissions.uploads import PredictionsRejected


class Command(BaseCommand):
    help = "Rescore scored submissions (all, one benchmark's, or given ids); print what changed."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int, help="Submission ids (default: all).")
        parser.add_argument("--benchmark", help="Only submissions to this benchmark (slug).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report changes without saving them."
        )

    def handle(self, *args, ids, benchmark, dry_run, **options):
        submissions = Submission.objects.scored().select_related("benchmark", "task")
        if ids:
            submissions = submissions.filter(pk__in=ids)
        if benchmark:
            submissions = submissions.filter(benchmark__slug=benchmark)
        submissions = list(submissions.order_by("pk"))
        if not submissions:
            raise CommandError("No scored submission matches.")
        changed = 0
        for submission in submissions:
            try:
                changes = submission_rescore(submission=submission, save=not dry_run)
            except PredictionsRejected as exc:
                self.stderr.write(f"#{submission.pk}: cannot rescore: {'; '.join(exc.messages)}")
                continue
            for c in changes:
                changed += 1
                self.stdout.write(
                    f"#{c['submission']} {c['task']}/{c['split']} {c['metric']}: "
                    f"{c['before']} -> {c['after']}"
                )
        verb = "would change" if dry_run else "changed"
        self.stdout.write(f"Rescored {len(submissions)} submissions: {changed} values {verb}.")
