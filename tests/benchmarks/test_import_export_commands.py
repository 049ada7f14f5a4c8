"""manage.py import_benchmark PATH [--maintainer USERNAME] [--update] and
manage.py export_benchmark SLUG OUT.zip."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from benchmarks.models import Benchmark
from tests.benchmarks.test_bundle_import import (
    DEMO,
    BundleTestCase,
    default_files,
    rows,
    write_bundle,
)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


class ImportBenchmarkCommandTests(BundleTestCase):
    def test_it_imports_and_reports_each_split(self):
        out, _ = run("import_benchmark", str(DEMO))

        self.assertIn("Imported sentiment-mini: 1 tasks, 3 splits", out)
        test = Benchmark.objects.get().tasks.get().splits.get(name="test")
        self.assertIn(f"sst/test (hidden): 600 rows, sha256 {test.fingerprint[:12]}", out)

    def test_it_adds_the_maintainer(self):
        author = get_user_model().objects.create_user("author")

        run("import_benchmark", str(DEMO), "--maintainer", "author")

        self.assertEqual(list(Benchmark.objects.get().maintainers.all()), [author])

    def test_it_refuses_an_unknown_maintainer_before_importing(self):
        with self.assertRaisesMessage(CommandError, "No user named 'nobody'"):
            run("import_benchmark", str(DEMO), "--maintainer", "nobody")
        self.assertFalse(Benchmark.objects.exists())

    def test_update_keeps_the_benchmark(self):
        run("import_benchmark", str(DEMO))
        first = Benchmark.objects.get()

        with self.assertRaises(CommandError):
            run("import_benchmark", str(DEMO))
        out, _ = run("import_benchmark", str(DEMO), "--update")

        self.assertIn("Imported sentiment-mini", out)
        self.assertEqual(Benchmark.objects.get().pk, first.pk)

    def test_a_bad_bundle_lists_every_problem_on_stderr_and_exits_with_1(self):
        files = {**default_files(), "data/test.jsonl": rows("te", 5) + rows("te", 1)}
        folder = write_bundle(self.tmp / "bad", files=files)
        err = io.StringIO()

        with self.assertRaises(CommandError) as caught:
            call_command("import_benchmark", str(folder), stdout=io.StringIO(), stderr=err)

        self.assertEqual(caught.exception.returncode, 1)
        self.assertIn("1 problem", str(caught.exception))
        self.assertIn("tasks[0].data.splits.test: 1 ids occur more than once", err.getvalue())
        self.assertFalse(Benchmark.objects.exists())
        self.assertEqual(self.stored_files(), [])

    def test_the_real_command_exits_with_1_and_no_traceback(self):
        folder = write_bundle(self.tmp / "bad", spec="slug: Bad Slug\ntitle: x\ntasks: []\n")
        env = {**os.environ, "DATA_DIR": str(self.tmp / "data")}

        result = subprocess.run(
            [sys.executable, "manage.py", "import_benchmark", str(folder)],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("slug: expected lowercase letters", result.stderr)
        self.assertIn("tasks: expected a non-empty list of tasks", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class ExportBenchmarkCommandTests(BundleTestCase):
    def test_it_writes_a_zip_that_imports_back(self):
        run("import_benchmark", str(DEMO))
        fingerprints = list(
            Benchmark.objects.get().tasks.get().splits.values_list("fingerprint", flat=True)
        )
        out_zip = self.tmp / "out" / "sentiment-mini.zip"

        out, _ = run("export_benchmark", "sentiment-mini", str(out_zip))

        self.assertIn(f"Exported sentiment-mini to {out_zip}", out)
        self.assertIn("benchmark.yaml", zipfile.ZipFile(out_zip).namelist())
        run("import_benchmark", str(out_zip), "--update")
        self.assertEqual(
            list(Benchmark.objects.get().tasks.get().splits.values_list("fingerprint", flat=True)),
            fingerprints,
        )

    def test_it_refuses_an_unknown_slug(self):
        with self.assertRaisesMessage(CommandError, "No benchmark with slug 'nope'"):
            run("export_benchmark", "nope", str(self.tmp / "x.zip"))
