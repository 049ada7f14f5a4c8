"""The analysis pages in a real Chromium: a submission's public result page (charts, tables,
provenance, description), the leaderboard ranked on a slice cell, the error browser of a public
split (filters, search, pages, QA highlights, image thumbnails; refused on a hidden split) and
the comparison of two submissions. Every page loads without a console error and, at 390 px,
scrolls sideways only inside its tables' own wrappers.

No worker: the demo bundles are imported and the simulated participants' predictions submitted
through `submission_create`, then scored in this process with `pipeline.submission_score`, as the
worker would. Screenshots of every page, at desktop width and at 390 px, go to $SCREENSHOT_DIR,
else to var/screenshots/analysis/ (git-ignored with var/)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from benchmarks.services import benchmark_import
from submissions import pipeline
from submissions.demo_participants import demo_participants_create
from submissions.models import Submission
from tests.e2e.test_browser_participant_flow import chromium_launched

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DEMO_ROOT = Path(settings.BASE_DIR) / "demo"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEWER_PASSWORD = "a-long-viewer-passphrase-2026"


def screenshot_dir() -> Path:
    folder = Path(
        os.environ.get("SCREENSHOT_DIR") or Path(settings.BASE_DIR) / "var/screenshots/analysis"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def chromium_browser():
    with chromium_launched() as browser:
        yield browser


class Tab:
    """A page of its own browser context (its own cookies) that records every console error,
    uncaught exception and failed subresource."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport=DESKTOP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.errors: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text} ({m.location.get('url')})")
                if m.type == "error"
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on(
            "response",
            lambda r: (
                self.errors.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 and r.request.resource_type != "document"
                else None
            ),
        )
        # A request the page itself abandoned (it navigated or reloaded first, e.g. the live
        # progress's refresh while the icon loads) is not a failure of the platform.
        self.page.on(
            "requestfailed",
            lambda r: (
                None if r.failure == "net::ERR_ABORTED" else self.errors.append(f"failed: {r.url}")
            ),
        )

    def goto(self, url: str, *, status: int = 200):
        self.errors.clear()
        response = self.page.goto(url)
        assert response is not None and response.status == status, (url, response.status)
        self.page.wait_for_load_state("load")
        return self.page

    def assert_clean(self, *, allow_status: int | None = None):
        # The pages link no icon, so Chromium asks for /favicon.ico and logs its 404.
        errors = [e for e in self.errors if not e.endswith("/favicon.ico)")]
        if allow_status is not None:
            # Chromium logs a main document answered 4xx as a console error.
            errors = [e for e in errors if f"status of {allow_status}" not in e]
        assert errors == [], f"{self.page.url}: {errors}"

    def stylesheets_loaded(self):
        count = self.page.evaluate(
            "() => [...document.styleSheets].filter(s => { try { return s.cssRules.length > 0 }"
            " catch (e) { return false } }).length"
        )
        assert count >= 3, "site.css, charts.css and analysis.css must have loaded"

    def capture(self, name: str):
        """Full-page screenshots at desktop width and at 390 px; at 390 px the page itself
        must not scroll sideways (tables scroll inside their own wrappers)."""
        page = self.page
        folder = screenshot_dir()
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(folder / f"{name}-desktop.png"), full_page=True)
        page.set_viewport_size(PHONE)
        widths = page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
            " wide: [...document.querySelectorAll('main *')]"
            "  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1"
            "   && !e.closest('.table-wrap, .table-scroll'))"
            "  .slice(0, 5).map(e => e.tagName + '.' + e.className)})"
        )
        page.screenshot(path=str(folder / f"{name}-390.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        assert widths["scroll"] <= widths["inner"], (
            f"{name}: the page overflows at 390 px ({widths['scroll']} > {widths['inner']}); "
            f"elements past the right edge, outside table wrappers: {widths['wide']}"
        )

    def close(self):
        self.context.close()


def first_number(text: str) -> float | None:
    match = re.search(r"-?\d+(?:\.\d+)?", text.replace("−", "-"))
    return float(match.group()) if match else None


def match_count(page) -> int:
    text = page.locator("p", has_text=re.compile(r"rows? match")).first.inner_text()
    return int(re.match(r"\s*(\d+) rows? match", text).group(1))


def svg_box(page, selector: str) -> dict:
    svg = page.locator(selector).first
    assert svg.count() == 1, f"no {selector}"
    box = svg.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0, (selector, box)
    return box


class BrowserTabs:
    """For live-server test cases: `tab()` opens a page of its own browser context (closed after
    the test), `url(path)` is the live server's; stored files go to a temporary folder."""

    @pytest.fixture(autouse=True)
    def _browser(self, chromium_browser, settings, tmp_path):
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "storage")},
            },
        }
        self.browser = chromium_browser
        self.tabs: list[Tab] = []
        yield
        for tab in self.tabs:
            tab.close()

    def tab(self) -> Tab:
        tab = Tab(self.browser)
        self.tabs.append(tab)
        return tab

    def url(self, path: str) -> str:
        return self.live_server_url + path


class BrowserAnalysisTests(BrowserTabs, StaticLiveServerTestCase):
    """StaticLiveServerTestCase: the live server serves the static files from the app folders
    (no collectstatic in tests), so the pages are styled as in production and the 390 px
    checks mean something."""

    def demo(self, *names: str) -> dict[str, dict[str, Submission]]:
        """Import the demo bundles and score the simulated participants' submissions in this
        process: {slug: {username: submission}}, all scored."""
        author = get_user_model().objects.create_user("demo-author")
        benchmarks = [benchmark_import(source=DEMO_ROOT / n, maintainer=author) for n in names]
        # Nothing is published to the broker: no worker runs, and a stray message in the
        # embedded broker's folder would outlive this test database.
        with mock.patch.object(pipeline, "enqueue"):
            submitted = demo_participants_create(benchmarks=benchmarks)
        out: dict[str, dict[str, Submission]] = {n: {} for n in names}
        for submission in submitted:
            pipeline.submission_score(submission_id=submission.pk)
            submission.refresh_from_db()
            assert submission.status == Submission.Status.SCORED, submission.error
            out[submission.benchmark.slug][submission.participant.username] = submission
        return out

    def log_in(self, tab: Tab, username: str) -> None:
        get_user_model().objects.create_user(username, password=VIEWER_PASSWORD)
        page = tab.goto(self.url("/accounts/login/"))
        page.fill("#id_username", username)
        page.fill("#id_password", VIEWER_PASSWORD)
        page.locator("main form.form button[type=submit]").click()
        page.wait_for_url(self.url("/"))
        assert username in page.locator(".nav-user").inner_text()

    # 1. The public result page.

    def test_result_page_for_visitors_and_other_users(self):
        ada = self.demo("sentiment-mini")["sentiment-mini"]["ada"]
        anonymous, viewer = self.tab(), self.tab()
        self.log_in(viewer, "viewer")
        for tab, who in ((anonymous, "anonymous"), (viewer, "viewer")):
            page = tab.goto(self.url(f"/submissions/{ada.pk}/"))
            tab.stylesheets_loaded()
            assert "Ada-Encoder (base)" in page.locator("h1").inner_text()
            sections = page.locator("section.evaluation")
            assert sections.count() == 2, who  # sst / dev (public) and sst / test (hidden)
            for i in range(sections.count()):
                section = sections.nth(i)
                svg_box(section, ".chart-breakdown svg")
                # The tables the chart draws, for readers without the chart.
                heads = section.locator(".table-scroll table.slices thead").all_inner_texts()
                for name in ("topic", "length", "negation"):  # the author's slices, and more
                    assert any(h.lower().startswith(name) for h in heads), (name, heads)
                assert section.locator("table.metrics tbody tr").count() >= 2
            dev = sections.filter(has_text="dev")
            svg_box(dev, ".chart-confusion svg")
            confusion = dev.locator("table.confusion")
            assert confusion.locator("tbody tr").count() == 2  # negative, positive
            counts = [int(t) for t in confusion.locator("td").all_inner_texts()]
            assert sum(counts) == 300  # every dev row once
            # Provenance opens.
            details = dev.locator("details.provenance")
            assert not details.locator("dl").is_visible()
            details.locator("summary").click()
            assert details.evaluate("d => d.open")
            assert details.locator("dl").is_visible()
            assert "fingerprint" in details.inner_text()
            # The markdown description: links and emphasis, no raw markdown.
            description = page.locator(".description")
            link = description.locator("a[href='https://example.org/papers/ada-encoder']")
            assert link.inner_text() == "Paper"
            assert description.locator("strong", has_text="Known weakness").count() == 1
            assert "**" not in description.inner_text() and "](" not in description.inner_text()
            # An anonymous visitor and another user see no owner's controls.
            assert page.locator("form[action$='/privacy/']").count() == 0
            tab.assert_clean()
        anonymous.capture("result")

    # 2. The leaderboard and its slice picker.

    def test_leaderboard_links_and_ranks_on_a_slice(self):
        submissions = self.demo("sentiment-mini")["sentiment-mini"]
        tab = self.tab()
        page = tab.goto(self.url("/b/sentiment-mini/leaderboard/"))
        rows = page.locator("table.leaderboard tbody tr")
        assert rows.count() == len(submissions) == 4
        tab.capture("leaderboard")

        # Every row links to its result page.
        hrefs = rows.locator("td a[href^='/submissions/']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        assert sorted(hrefs) == sorted(f"/submissions/{s.pk}/" for s in submissions.values())
        rows.first.locator("a[href^='/submissions/']").click()
        page.wait_for_url(re.compile(r"/submissions/\d+/$"))
        assert page.locator("section.evaluation").count() == 2
        tab.assert_clean()

        # Rank on a slice: the picker opens, a cell link ranks the board on it.
        page = tab.goto(self.url("/b/sentiment-mini/leaderboard/"))
        picker = page.locator("details.slice-picker")
        assert not picker.evaluate("d => d.open")
        picker.locator("summary").click()
        link = picker.locator(".slice-options a", has_text="price").first
        assert link.is_visible()
        link.click()
        page.wait_for_url(re.compile(r"[?&]slice=topic&.*cell=price"))
        assert "slice=topic" in page.url and "cell=price" in page.url
        assert page.locator("details.slice-picker").evaluate("d => d.open")
        header = page.locator("table.leaderboard thead th.sorted").first
        assert "on topic: price" in header.inner_text().lower()
        rows = page.locator("table.leaderboard tbody tr")
        assert rows.count() == 4
        values = [first_number(t) for t in rows.locator("td.num.sorted").all_inner_texts()]
        assert None not in values and len(values) == 4
        assert values == sorted(values, reverse=True), values  # accuracy: higher is better
        # Margaret's lexicon lacks price words: she ranks last on that cell.
        assert "margaret" in rows.last.inner_text()
        tab.assert_clean()
        tab.capture("leaderboard-slice")

    # 3. The error browser.

    def test_error_browser_filters_search_and_pages_on_the_public_split(self):
        ada = self.demo("sentiment-mini")["sentiment-mini"]["ada"]
        tab = self.tab()
        page = tab.goto(self.url(f"/submissions/{ada.pk}/"))
        page.locator("section.evaluation", has_text="dev").get_by_role(
            "link", name="Browse errors"
        ).click()
        page.wait_for_url(re.compile(r"/errors/\?task=sst&split=dev"))
        page.wait_for_load_state("load")
        total = match_count(page)
        assert total == 300
        assert page.locator("table.examples tbody tr").count() == 50
        tab.assert_clean()
        tab.capture("errors")

        # Pagination: the next page, then back.
        page.get_by_role("link", name="Next →").click()
        page.wait_for_url(re.compile(r"page=2"))
        assert "page 2 of 6" in page.locator("main").inner_text()
        assert page.locator("table.examples tbody tr").count() == 50
        page.get_by_role("link", name="← Previous").click()
        page.wait_for_url(re.compile(r"page=1"))
        tab.assert_clean()

        # Filters from the form: a slice cell, a gold label, incorrect rows only.
        page.select_option("#f-cell", "negation:match")
        page.select_option("#f-gold", "negative")
        page.select_option("#f-correct", "no")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        assert "cell=negation%3Amatch" in page.url and "correct=no" in page.url
        filtered = match_count(page)
        assert 0 < filtered < total
        rows = page.locator("table.examples tbody tr")
        assert rows.count() == min(filtered, 50)
        for i in range(rows.count()):
            row = rows.nth(i)
            assert "negation: match" in row.locator(".cell-tags").inner_text()
            cells = row.locator("td")
            assert cells.nth(2).inner_text().strip() == "negative"
            assert row.locator(".badge", has_text="wrong").count() == 1
            assert re.search(r"\b(not|never|no)\b", cells.nth(1).inner_text().lower())
        # The form shows what is applied.
        assert page.locator("#f-cell").input_value() == "negation:match"
        assert page.locator("#f-correct").input_value() == "no"
        tab.assert_clean()
        tab.capture("errors-filtered")

        # Text search (after a reset of the filters).
        page.get_by_role("link", name="Reset").click()
        page.wait_for_load_state("load")
        assert match_count(page) == total
        page.fill("#f-q", "delivery")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        found = match_count(page)
        assert 0 < found < total
        inputs = page.locator("table.examples tbody td.example-input").all_inner_texts()
        assert inputs and all("delivery" in text.lower() for text in inputs)
        tab.assert_clean()

        # The hidden split: refused, no row read.
        page = tab.goto(self.url(f"/submissions/{ada.pk}/errors/?task=sst&split=test"), status=403)
        assert page.locator("[role=alert]").count() == 1
        assert page.locator("table.examples").count() == 0
        assert page.locator("form.analysis-filters").count() == 0
        tab.assert_clean(allow_status=403)
        tab.capture("errors-hidden")

    def test_error_browser_highlights_qa_contexts_and_shows_image_thumbnails(self):
        demo = self.demo("qa-mini", "images-mini")
        tab = self.tab()

        # QA: the gold answer and the prediction marked in the context.
        reader = demo["qa-mini"]["ada"]
        page = tab.goto(self.url(f"/submissions/{reader.pk}/errors/?task=qa&split=dev"))
        assert match_count(page) == 200
        marks = page.locator("table.examples p.context mark")
        assert marks.count() > 0
        assert page.locator("p.context mark.mark-gold").count() > 0
        assert page.locator("p.context mark.mark-pred").count() > 0
        first = marks.first
        assert first.inner_text().strip() and first.bounding_box()["width"] > 0
        # The text search covers the question and the context.
        page.fill("#f-q", "bridge")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        assert 0 < match_count(page) < 200
        tab.assert_clean()
        tab.capture("errors-qa")

        # Images: the thumbnails load.
        convnet = demo["images-mini"]["ada"]
        page = tab.goto(self.url(f"/submissions/{convnet.pk}/errors/?task=colours&split=dev"))
        assert match_count(page) == 225
        thumbs = page.locator("table.examples img.thumb")
        assert thumbs.count() == 50
        for i in (0, thumbs.count() - 1):  # the first and the last (lazy) of the page
            thumb = thumbs.nth(i)
            thumb.scroll_into_view_if_needed()
            page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
            )
            assert thumb.evaluate("img => img.naturalWidth") == 32
            assert thumb.bounding_box()["width"] > 0
        # Filters on an image task: brightness and correctness.
        page.select_option("#f-cell", "brightness:dark")
        page.select_option("#f-correct", "no")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        dark_wrong = match_count(page)
        assert 0 < dark_wrong < 225
        rows = page.locator("table.examples tbody tr")
        assert rows.count() == min(dark_wrong, 50)
        for text in rows.locator(".cell-tags").all_inner_texts():
            assert "brightness: dark" in text
        page.wait_for_function(
            "() => [...document.querySelectorAll('img.thumb')].slice(0, 3)"
            ".every(img => img.complete && img.naturalWidth > 0)"
        )
        tab.assert_clean()
        tab.capture("errors-images")

    # 4. Comparisons.

    def test_compare_two_submissions(self):
        submissions = self.demo("sentiment-mini")["sentiment-mini"]
        ada, grace = submissions["ada"], submissions["grace"]
        tab = self.tab()

        # Chosen from the form on the public split.
        page = tab.goto(self.url("/b/sentiment-mini/compare/?task=sst&split=dev"))
        page.check(f"#pick-{ada.pk}")
        page.check(f"#pick-{grace.pk}")
        with page.expect_navigation():
            page.get_by_role("button", name="Compare").click()
        assert f"s={ada.pk}" in page.url and f"s={grace.pk}" in page.url
        metrics = page.locator("table.compare-metrics")
        heads = metrics.locator("thead th").all_inner_texts()
        assert any(f"#{ada.pk}" in h for h in heads) and any(f"#{grace.pk}" in h for h in heads)
        assert metrics.locator("tbody tr").count() >= 2
        deltas = metrics.locator(".delta").all_inner_texts()
        assert deltas and all("Δ" in d for d in deltas)
        p_values = [t for t in metrics.locator(".ci").all_inner_texts() if t.startswith("p ")]
        assert p_values, "a p-value per metric"
        for text in p_values:
            value = first_number(text)
            assert value is not None and 0 <= value <= 1, text
        # Slice deltas, every slice.
        slices = page.locator("table.compare-slices")
        heads = [h.lower() for h in slices.locator("thead").all_inner_texts()]
        for name in ("topic", "length", "negation", "gold label"):
            assert any(h.startswith(name) for h in heads), (name, heads)
        assert slices.locator(".delta").count() > 0
        # Wins, ties and losses over the 300 dev rows.
        wtl = page.locator("table.compare-wtl tbody tr")
        assert wtl.count() == 1
        numbers = [int(t) for t in wtl.first.locator("td.num").all_inner_texts()]
        assert sum(numbers) == 300 and numbers[1] > 0
        disagreements = page.locator("table.examples tbody tr")
        assert disagreements.count() > 0
        # A chart, where the page draws one.
        for i in range(page.locator("main svg").count()):
            svg_box(page, f"main svg >> nth={i}")
        tab.assert_clean()
        tab.capture("compare")

        # On the hidden split: metrics and p-values, but no per-row comparison.
        page = tab.goto(
            self.url(f"/b/sentiment-mini/compare/?task=sst&split=test&s={ada.pk}&s={grace.pk}")
        )
        assert page.locator("table.compare-metrics .delta").count() > 0
        assert page.locator("table.compare-wtl").count() == 0
        assert page.locator("table.examples").count() == 0
        assert page.locator(".notice.locked").count() == 1
        tab.assert_clean()
        tab.capture("compare-hidden")
