from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from benchmarks.models import Benchmark
from benchmarks.services import benchmark_export


class Command(BaseCommand):
    help = "Export a benchmark as a bundle zip that import_benchmark reads back (docs/formats.md)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Slug of the benchmark to export.")
        parser.add_argument("out", type=Path, help="Zip file to write, e.g. OUT.zip.")

    def handle(self, *args, slug: str, out: Path, **options):
        benchmark = Benchmark.objects.filter(slug=slug).first()
        if benchmark is None:
            raise CommandError(f"No benchmark with slug '{slug}'.")
        path = benchmark_export(benchmark=benchmark, out=out)
        self.stdout.write(f"Exported {benchmark.slug} to {path}")
