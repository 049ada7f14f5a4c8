"""The admin's export action: a benchmark as a bundle zip (the same export as
`manage.py export_benchmark`), which imports back."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import yaml
from django.contrib.messages import get_messages

from benchmarks.models import Benchmark
from benchmarks.services import benchmark_import_check
from tests.test_admin import AdminTestCase


class ExportActionTests(AdminTestCase):
    def export(self, *benchmarks: Benchmark):
        data = {"action": "export_bundle", "_selected_action": [b.pk for b in benchmarks]}
        return self.client.post(self.url(Benchmark), data)

    def test_an_author_downloads_their_benchmark_as_a_bundle_that_imports_back(self):
        self.client.force_login(self.author)
        response = self.export(self.benchmark)

        self.assertEqual(response["Content-Type"], "application/zip")
        self.assertEqual(response["Content-Disposition"], 'attachment; filename="sentiment.zip"')
        content = b"".join(response.streaming_content)
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = sorted(archive.namelist())
            spec = yaml.safe_load(archive.read("benchmark.yaml"))
        self.assertEqual(names, ["benchmark.yaml", "data/sst/dev.parquet", "data/sst/test.parquet"])
        self.assertEqual(spec["slug"], "sentiment")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sentiment.zip"
            path.write_bytes(content)
            plan = benchmark_import_check(source=path, update=True, editor=self.author)
        # (The test's splits were written by pyarrow's defaults, not frozen: their bytes change.)
        self.assertEqual(
            [(s.name, s.role, s.rows) for s in plan.tasks[0].splits],
            [("dev", "public", 10), ("test", "hidden", 10)],
        )

    def test_one_benchmark_at_a_time(self):
        self.client.force_login(self.root)
        response = self.export(self.benchmark, self.other)
        self.assertEqual(response.status_code, 302)
        messages = [str(m) for m in get_messages(response.wsgi_request)]
        self.assertEqual(messages, ["Export one benchmark at a time: select only one."])

    def test_an_author_cannot_export_another_authors_benchmark(self):
        self.client.force_login(self.author)
        response = self.export(self.other)
        self.assertEqual(response.status_code, 302)
        self.assertNotEqual(response.get("Content-Type"), "application/zip")
