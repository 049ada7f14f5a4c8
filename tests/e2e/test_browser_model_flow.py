"""A participant in a real Chromium submits a model archive through the form, watches the status
page move through its stages (run the model, then score) without reloading, and finds the model
on the board with its speed and size, while real workers on the `gpu` and `scoring` queues do
the work."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import LiveServerTestCase

from benchmarks.models import Benchmark
from benchmarks.services import benchmark_import
from scoring import sandbox
from tests import tiny_models
from tests.base import make_user
from tests.e2e.test_browser_participant_flow import browser_page  # noqa: F401 - a fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not sandbox.available(), reason="bubblewrap is not usable here"),
]


class BrowserModelFlowTests(LiveServerTestCase):
    @pytest.fixture(autouse=True)
    def _page(self, model_workers, browser_page, tmp_path):  # noqa: F811
        self.page = browser_page
        self.tmp = tmp_path

    def test_a_participant_submits_a_model_archive_and_sees_it_run_score_and_rank(self):
        page, base = self.page, self.live_server_url
        make_user("modeller")
        benchmark = benchmark_import(source=Path(settings.BASE_DIR) / "demo" / "sentiment-mini")
        Benchmark.objects.filter(pk=benchmark.pk).update(accepted_kinds=["predictions", "model"])
        task = benchmark.tasks.get()
        folder = tiny_models.build_text_classifier(self.tmp / "model", task.label_names)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            for path in folder.iterdir():
                zipped.write(path, f"my-model/{path.name}")

        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "modeller")
        page.fill("#id_password", "pw-modeller")
        page.locator("main form button[type=submit]").first.click()
        page.goto(f"{base}/b/{benchmark.slug}/submit/")
        model_card = page.locator("#model")
        model_card.locator("input[type=file]").set_input_files(
            files=[
                {
                    "name": "my-model.zip",
                    "mimeType": "application/zip",
                    "buffer": archive.getvalue(),
                }
            ]
        )
        model_card.locator("input[name=name]").fill("tiny bert")
        model_card.get_by_role("button", name="Submit the model").click()
        page.wait_for_url("**/submissions/*/")

        # The worker needs seconds to start the sandbox: the first page shows the first stage.
        assert "1. run the model" in page.content()
        # No reload by the test: the page refreshes itself through both stages.
        page.wait_for_selector("text=Scored", timeout=120_000)
        content = page.content()
        assert "Speed and size" in content and "rows/s" in content
        assert "my-model.zip" in content

        page.goto(f"{base}/b/{benchmark.slug}/leaderboard/")
        headers = page.locator("table.leaderboard thead").inner_text()
        for column in ("Rows/s", "Latency p95", "Memory", "Params"):
            assert column in headers
        row = page.locator("table.leaderboard tbody tr", has_text="tiny bert")
        assert row.count() == 1 and "modeller" in row.inner_text()
