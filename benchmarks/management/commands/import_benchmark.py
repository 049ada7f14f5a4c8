from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from benchmarks.bundles import BundleError
from benchmarks.services import benchmark_import, benchmark_published_hooks_run


class Command(BaseCommand):
    help = (
        "Import a benchmark bundle (a folder or .zip with benchmark.yaml) and publish it "
        "(docs/formats.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="Bundle folder or .zip file.")
        parser.add_argument(
            "--maintainer", metavar="USERNAME", help="Add this user to the benchmark's maintainers."
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Replace an existing benchmark with the same slug in place (keeps submissions).",
        )

    def handle(self, *args, path: Path, maintainer: str | None, update: bool, **options):
        user = None
        if maintainer:
            user = get_user_model().objects.filter(username=maintainer).first()
            if user is None:
                raise CommandError(f"No user named '{maintainer}'.")
        try:
            benchmark = benchmark_import(source=path, maintainer=user, update=update)
        except BundleError as exc:
            for message in exc.messages:
                self.stderr.write(message)
            count = len(exc.messages)
            raise CommandError(
                f"Import of {path} failed: {count} problem{'s' if count != 1 else ''} "
                "(listed above); nothing was changed.",
                returncode=1,
            ) from None
        # Published at once: the automatic baselines (outside a transaction, right away).
        benchmark_published_hooks_run(benchmark=benchmark)
        tasks = list(benchmark.tasks.prefetch_related("splits"))
        splits = [(task, split) for task in tasks for split in task.splits.all()]
        self.stdout.write(f"Imported {benchmark.slug}: {len(tasks)} tasks, {len(splits)} splits")
        for task, split in splits:
            self.stdout.write(
                f"  {task.slug}/{split.name} ({split.role}): {split.num_rows} rows, "
                f"sha256 {split.fingerprint[:12]}"
            )
        if not benchmark.maintainers.exists():
            self.stdout.write(
                f"No maintainer given: only operators (staff) can manage '{benchmark.slug}' "
                "until one is added in the admin."
            )
        # Read through the reverse relation: the submissions app sits above this one.
        baselines = benchmark.submissions.filter(is_baseline=True)
        if baselines.exists():
            names = ", ".join(baselines.values_list("name", flat=True))
            self.stdout.write(f"Baselines submitted (a worker scores them): {names}")
