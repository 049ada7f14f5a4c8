"""Submit one Hub model to every compatible task, as the platform's evaluation account."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from benchmarks.models import Benchmark
from submissions.services import SubmissionError
from submissions.sweeps import model_sweep_create


class Command(BaseCommand):
    help = (
        "Submit the Hub model REPO[@REVISION] to every task of a benchmark, or to every task of "
        "a type on the public benchmarks that take models (default: the types its architecture "
        "serves); the worker runs and scores them."
    )

    def add_arguments(self, parser):
        parser.add_argument("model", metavar="REPO[@REVISION]", help="e.g. org/name@main")
        # Neither: every task of the types its architecture serves (config.json).
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--benchmark", help="Every task of this benchmark (slug).")
        where.add_argument("--task-type", help="Every task of this type, e.g. text-classification.")

    def handle(self, *args, model, benchmark, task_type, **options):
        repo_id, _, revision = model.partition("@")
        target = None
        if benchmark:
            target = Benchmark.objects.filter(slug=benchmark).first()
            if target is None:
                raise CommandError(f"No benchmark '{benchmark}'.")
        try:
            sweep = model_sweep_create(
                repo_id=repo_id, revision=revision, benchmark=target, task_type=task_type
            )
        except SubmissionError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        for submission in sweep.submissions:
            self.stdout.write(
                f"#{submission.pk}: {submission.benchmark.slug}/{submission.task.slug} "
                f"({submission.model_repo_id} at {submission.model_sha[:12]}), queued"
            )
        for reason in sweep.skipped:
            self.stderr.write(f"skipped {reason}")
        if not sweep.submissions:
            raise CommandError("No task took the model.")
