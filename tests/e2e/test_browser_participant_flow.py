"""A new participant in a real Chromium: sign up, download a split's inputs, submit a CSV, watch
the status page refresh itself until the real worker has scored it, and find the run ranked."""

from __future__ import annotations

import csv
import io
import os
import shutil
from contextlib import contextmanager

import pytest
from django.test import LiveServerTestCase

from tests.base import gold_rows, make_benchmark, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LABELS = ["negative", "positive"]


@contextmanager
def chromium_launched():
    """Debian's Chromium under Playwright, closed on the way out; the test is skipped where
    either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (CI installs it)")
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls the tests
    # make between page actions are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(tmp_path):
    with chromium_launched() as browser:
        page = browser.new_page()
        page.set_default_timeout(30_000)
        yield page
        page.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
        if os.environ.get("SCREENSHOT_DIR"):
            page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "flow.png"))


class BrowserParticipantFlowTests(LiveServerTestCase):
    """Django's live server (its thread closes its database connections when the class ends,
    so the test database can be dropped after it)."""

    @pytest.fixture(autouse=True)
    def _page(self, scoring_worker, browser_page):
        self.page = browser_page

    def test_a_new_participant_signs_up_submits_and_sees_the_run_ranked(self):
        flow(self.page, self.live_server_url)


def flow(page, base_url: str) -> None:
    author = make_user("author")
    benchmark = make_benchmark(maintainers=(author,), label_names=LABELS)
    rows = gold_rows(benchmark)

    page.goto(f"{base_url}/accounts/signup/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_email", "newcomer@example.org")
    page.fill("#id_password1", "a-long-passphrase-2026")
    page.fill("#id_password2", "a-long-passphrase-2026")
    page.locator("main form button[type=submit], form.form button[type=submit]").first.click()
    page.wait_for_url(f"{base_url}/")
    assert "newcomer" in page.content()

    page.click(f"text={benchmark.title}")
    page.wait_for_url(f"**/b/{benchmark.slug}/")
    link = page.locator("a[href$='/splits/test/inputs.csv']").first
    download = page.request.get(base_url + link.get_attribute("href"))
    assert download.ok
    inputs = list(csv.DictReader(io.StringIO(download.text())))
    assert len(inputs) == 10 and "label" not in inputs[0]

    page.goto(f"{base_url}/b/{benchmark.slug}/submit/")
    predictions = "id,prediction\n" + "".join(f"{r['id']},{r['label']}\n" for r in rows)
    page.set_input_files(
        "input[type=file]",
        files=[{"name": "mine.csv", "mimeType": "text/csv", "buffer": predictions.encode()}],
    )
    page.fill("input[name=name]", "my first run")
    page.get_by_role("button", name="Upload and score").click()
    page.wait_for_url("**/submissions/*/")

    # No reload by the test: the page refreshes itself until the worker has scored the run.
    page.wait_for_selector("text=Scored", timeout=60_000)
    assert "1.000" in page.content() or "100" in page.content()

    page.goto(f"{base_url}/b/{benchmark.slug}/leaderboard/")
    row = page.locator("table.leaderboard tbody tr", has_text="my first run")
    assert row.count() == 1
    assert "newcomer" in row.inner_text()
