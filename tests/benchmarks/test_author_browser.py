"""The structured editors of the admin in a real Chromium: the task page's JSON fields render as
forms (django-jsonform, its scripts served from our own static files: no CDN), an author adds a
metric through the form, and what the editors send back is saved as the bundle would have it;
an author uploads a bundle, reads the dry run and imports it. Screenshots go to
var/screenshots/authors/ (git-ignored with var/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from benchmarks.authors import author_grant
from benchmarks.models import Benchmark, Task
from tests.base import make_benchmark, make_user
from tests.e2e.test_browser_participant_flow import chromium_launched
from tests.test_admin import demo_bundle_zip

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a-long-author-passphrase-2026"


@pytest.fixture(scope="module")
def chromium_browser():
    with chromium_launched() as browser:
        yield browser


class AdminBrowserTestCase(StaticLiveServerTestCase):
    """An author signed in to the admin in Chromium (`log_in`), every console error, failed
    request and HTTP error of the page collected in `errors`. `benchmark_slug` names the
    benchmark the author maintains."""

    benchmark_slug = "editable"

    @pytest.fixture(autouse=True)
    def _browser(self, chromium_browser, settings, tmp_path):
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "storage")},
            },
        }
        context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text} ({m.location.get('url')})")
                if m.type == "error"
                else None
            ),
        )
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.on(
            "response",
            lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )
        yield
        context.close()

    def log_in(self) -> None:
        author = make_user("writer")
        author.set_password(PASSWORD)
        author.save()
        author_grant(author)
        self.benchmark = make_benchmark(self.benchmark_slug, maintainers=(author,))
        self.task = self.benchmark.tasks.get()
        page = self.page
        page.goto(f"{self.live_server_url}/admin/login/")
        page.fill("#id_username", "writer")
        page.fill("#id_password", PASSWORD)
        page.locator("input[type=submit]").click()
        page.wait_for_url(f"{self.live_server_url}/admin/")


class TaskEditorBrowserTests(AdminBrowserTestCase):
    def test_the_task_editors_render_and_save_what_a_bundle_would_hold(self):
        self.log_in()
        page = self.page
        page.goto(f"{self.live_server_url}/admin/benchmarks/task/{self.task.pk}/change/")
        for field in ["input_columns", "metadata_columns", "metrics", "slices", "model_run"]:
            editor = page.locator(f".field-{field} .rjf-form-wrapper, .field-{field} .rjf-form")
            assert editor.count() >= 1, f"no structured editor for {field}"
        folder = Path(settings.BASE_DIR) / "var/screenshots/authors"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "task-editor.png"), full_page=True)
        # Add a third metric through the form: precision, averaged per label.
        metrics = page.locator(".field-metrics")
        metrics.get_by_role("button", name="Add item").last.click()
        new = metrics.locator(".rjf-form-group-wrapper, .rjf-form-group").last
        new.locator("select").first.select_option("precision")
        new.locator("select").nth(1).select_option("weighted")
        page.locator("input[name=_continue]").click()
        page.wait_for_load_state("load")
        assert page.locator(".errornote").count() == 0, page.locator("#content").inner_text()
        # The admin's pages link no icon, so Chromium asks for /favicon.ico and logs its 404.
        errors = [e for e in self.errors if "/favicon.ico" not in e]
        assert errors == [], errors
        self.task.refresh_from_db()
        self.assertEqual(
            self.task.metrics,
            [
                {"name": "accuracy"},
                {"name": "f1", "average": "macro"},
                {"name": "precision", "average": "weighted"},
            ],
        )
        self.assertEqual(self.task.slices, [{"name": "topic", "column": "topic"}])
        self.assertEqual(self.task.model_run, {})
        self.assertEqual(Task.objects.get(pk=self.task.pk).input_columns, ["text"])

    def test_an_author_uploads_a_bundle_checks_it_and_imports_a_draft(self):
        self.log_in()
        page = self.page
        page.goto(f"{self.live_server_url}/admin/benchmarks/benchmark/")
        page.get_by_role("link", name="Upload bundle").click()
        page.set_input_files("#id_bundle", files=[self.demo_zip()])
        page.get_by_role("button", name="Check the bundle").click()
        page.wait_for_load_state("load")
        assert page.locator("table.import-plan tbody tr").count() == 3
        folder = Path(settings.BASE_DIR) / "var/screenshots/authors"
        page.screenshot(path=str(folder / "bundle-dry-run.png"), full_page=True)
        page.get_by_role("button", name="Import").click()
        page.wait_for_load_state("load")
        assert "as a draft" in page.locator(".messagelist").inner_text()
        assert Benchmark.objects.get(slug="sentiment-mini").is_draft
        errors = [e for e in self.errors if "/favicon.ico" not in e]
        assert errors == [], errors

    def demo_zip(self) -> dict:
        upload = demo_bundle_zip()
        return {"name": upload.name, "mimeType": "application/zip", "buffer": upload.read()}


class PhaseInlineBrowserTests(AdminBrowserTestCase):
    def test_an_author_adds_a_phase_on_the_benchmark_page(self):
        self.log_in()
        page = self.page
        page.goto(f"{self.live_server_url}/admin/benchmarks/benchmark/{self.benchmark.pk}/change/")
        page.locator("#phases-group .add-row a").click()
        page.fill("#id_phases-0-slug", "development")
        page.fill("#id_phases-0-title", "Development")
        page.fill("#id_phases-0-max_total", "3")
        page.locator("input[name=_continue]").click()
        page.wait_for_load_state("load")
        assert page.locator(".errornote").count() == 0, page.locator("#content").inner_text()
        errors = [e for e in self.errors if "/favicon.ico" not in e]
        assert errors == [], errors
        phase = self.benchmark.phases.get()
        self.assertEqual(
            (phase.slug, phase.title, phase.max_total), ("development", "Development", 3)
        )
        folder = Path(settings.BASE_DIR) / "var/screenshots/authors"
        page.screenshot(path=str(folder / "phases-inline.png"), full_page=True)
