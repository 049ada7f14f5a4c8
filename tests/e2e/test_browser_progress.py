"""Live progress in a real Chromium, with a real worker: a participant submits a file through the
form and, without the page ever reloading, watches its status part (polled with htmx) go to
"Scored" and the results appear; the worker e-mails the result. Then "My submissions" shows the
run scored."""

from __future__ import annotations

import time

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from tests.base import gold_rows, make_benchmark, make_user, prediction_csv
from tests.e2e.test_browser_analysis import (  # noqa: F401 (chromium_browser: a fixture)
    BrowserTabs,
    Tab,
    chromium_browser,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LABELS = ["negative", "positive"]

# Each state the page showed (its status badge, the bar of its status part), as it changed:
# recorded from the DOM right after each change, before the next answer can arrive.
RECORD_STATES = """() => {
  window.statesSeen = [];
  const record = () => {
    const bar = document.querySelector("#submission-progress [role=progressbar]");
    const state = {
      status: document.querySelector("#submission-status").innerText.trim(),
      progress: bar ? bar.getAttribute("aria-valuenow") : null,
    };
    const last = window.statesSeen[window.statesSeen.length - 1];
    if (!last || last.status !== state.status || last.progress !== state.progress) {
      window.statesSeen.push(state);
    }
  };
  record();
  new MutationObserver(record).observe(document.body, {childList: true, subtree: true});
}"""


class BrowserProgressTests(BrowserTabs, StaticLiveServerTestCase):
    """StaticLiveServerTestCase: the live server serves htmx from the static folders. Stored
    files stay where the worker reads them (BrowserTabs would move them to a folder of the
    test's own)."""

    @pytest.fixture(autouse=True)
    def _browser(self, chromium_browser, scoring_worker, tmp_path_factory):  # noqa: F811
        self.browser = chromium_browser
        # Every worker this run started writes its output under the run's temporary folder.
        self.runs = tmp_path_factory.getbasetemp()
        self.tabs: list[Tab] = []
        yield
        for tab in self.tabs:
            tab.close()

    def worker_printed(self, text: str, timeout: float = 20) -> bool:
        """Whether a worker's output (where the console e-mail backend writes) shows `text`:
        any worker on the scoring queue may have taken the job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for log in self.runs.rglob("*.log"):
                if text in log.read_text(errors="replace"):
                    return True
            time.sleep(0.2)
        return False

    def test_a_participant_watches_a_submission_get_scored_without_a_reload(self):
        benchmark = make_benchmark("live", label_names=LABELS)
        make_user("watcher", email="watcher@example.org")
        tab = self.tab()
        page = tab.goto(self.url("/accounts/login/"))
        page.fill("#id_username", "watcher")
        page.fill("#id_password", "pw-watcher")
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(self.url("/"))

        tab.goto(self.url(f"/b/{benchmark.slug}/submit/"))
        predictions = prediction_csv(gold_rows(benchmark), labels=LABELS)
        page.set_input_files(
            "input[type=file]",
            files=[{"name": "live.csv", "mimeType": "text/csv", "buffer": predictions}],
        )
        page.fill("input[name=name]", "watched run")
        page.get_by_role("button", name="Upload and score").click()
        page.wait_for_url("**/submissions/*/")
        page.wait_for_load_state("load")

        page.evaluate("() => { window.sameDocument = true }")
        page.evaluate(RECORD_STATES)
        if page.evaluate("() => window.statesSeen[0].status") != "Scored":
            # Not scored yet (the usual case: the worker needs a moment): the page polls.
            self.assertEqual(page.evaluate("() => typeof htmx"), "object")
            page.wait_for_selector("section.evaluation", timeout=60_000)
            # No reload: what the script set on this document is still there.
            self.assertIs(page.evaluate("() => window.sameDocument"), True)
            # The status part itself reached "Scored" with a full bar, then the page's own
            # content came in (without a bar: the results say the rest).
            seen = page.evaluate("() => window.statesSeen")
            self.assertIn({"status": "Scored", "progress": "100"}, seen)
            self.assertEqual(seen[-1], {"status": "Scored", "progress": None}, seen)
        self.assertEqual(page.locator("#submission-status").inner_text().strip(), "Scored")
        self.assertEqual(page.locator("#submission-progress [hx-trigger]").count(), 0)
        self.assertEqual(page.locator("#submission-progress[hx-trigger]").count(), 0)
        self.assertIn("watched run", page.locator("h1").inner_text())
        self.assertIn("1.000", page.locator("section.evaluation table.metrics").first.inner_text())
        self.assertIn("Your rank on the", page.content())
        tab.assert_clean()

        # The worker mailed the result (the console backend prints it to its output).
        self.assertTrue(self.worker_printed('Subject: Live: "watched run" is scored'))

        tab.goto(self.url("/submissions/"))
        row = page.locator("#my-submissions tbody tr", has_text="watched run")
        self.assertIn("Scored", row.inner_text())
        self.assertEqual(page.locator("#my-submissions[hx-trigger]").count(), 0)
        tab.assert_clean()
