"""Boards in a real Chromium: a reviewer re-weights the overall board (the ranking changes and
the address keeps the weights, so reloading it gives the same view), and the history chart
under a task's board renders with its table fallback. No console errors; at 390 px the page
scrolls sideways only inside its tables. Screenshots go where test_browser_analysis.py puts
its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from benchmarks.models import Split
from submissions.models import Evaluation, Submission
from tests.base import make_benchmark, make_split, make_task, make_user
from tests.e2e.test_browser_analysis import (  # noqa: F401 (chromium_browser: a fixture)
    DESKTOP,
    PHONE,
    BrowserTabs,
    chromium_browser,
    svg_box,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


class BrowserBoardTests(BrowserTabs, StaticLiveServerTestCase):
    def setUp(self):
        super().setUp()
        self.benchmark = make_benchmark("two-tasks")
        self.sst = self.benchmark.tasks.get()
        self.sst_test = self.sst.splits.get(name="test")
        self.rate = make_task(
            self.benchmark,
            "rate",
            type="text-regression",
            label_column="score",
            metrics=[{"name": "mae"}],
            primary_metric="mae",
        )
        rows = [{"id": f"r{i}", "text": "t", "score": float(i)} for i in range(10)]
        self.rate_test = make_split(self.rate, "test", Split.Role.HIDDEN, rows)
        # alice is best on sentiment, bob on ratings; over three days, each better than the last.
        start = timezone.now() - timedelta(days=3)
        for day, (name, accuracy, mae) in enumerate(
            [("carol", 0.6, 2.5), ("alice", 0.95, 2.0), ("bob", 0.7, 0.5)]
        ):
            submission = Submission.objects.create(
                benchmark=self.benchmark,
                participant=make_user(name),
                status=Submission.Status.SCORED,
                progress=1.0,
                name=f"{name}-run",
            )
            Submission.objects.filter(pk=submission.pk).update(
                created_at=start + timedelta(days=day)
            )
            Evaluation.objects.create(
                submission=submission,
                task=self.sst,
                split=self.sst_test,
                metrics={"accuracy": {"value": accuracy, "ci": None}},
            )
            Evaluation.objects.create(
                submission=submission,
                task=self.rate,
                split=self.rate_test,
                metrics={"mae": {"value": mae, "ci": None}},
            )

    def leaders(self, page) -> list[str]:
        return page.locator("table.overall tbody tr td.col-participant").all_inner_texts()

    def assert_ranking_column_in_view_on_a_phone(self, page):
        """At 390 px, rank, name and the column the board is ranked on are on screen without
        scrolling (the others scroll inside the table's wrapper)."""
        page.set_viewport_size(PHONE)
        inner = page.evaluate("() => window.innerWidth")
        for selector in ("th.num.rank, thead th:first-child", "thead th.sorted"):
            box = page.locator(selector).first.bounding_box()
            self.assertLessEqual(box["x"] + box["width"], inner, selector)
        page.set_viewport_size(DESKTOP)

    def test_a_reviewer_re_weights_the_overall_board_and_shares_the_address(self):
        tab = self.tab()
        page = tab.goto(self.url(f"/b/{self.benchmark.slug}/overall/"))
        # Equal weights: bob (0.7 + 1.0) / 2 beats alice (0.95 + 0.25) / 2.
        self.assertEqual(self.leaders(page), ["bob", "alice", "carol"])
        page.locator("details.weights summary").click()
        page.fill('input[name="w.sst.accuracy"]', "4")
        page.locator("form.weights-form button[type=submit]").click()
        page.wait_for_load_state("load")
        self.assertIn("w.sst.accuracy=4", page.url)
        # Accuracy four times as heavy: alice (3.8 + 0.25) / 5 beats bob (2.8 + 1.0) / 5.
        self.assertEqual(self.leaders(page), ["alice", "bob", "carol"])
        self.assertIn("your own", page.locator("details.weights summary").inner_text())
        tab.assert_clean()
        self.assert_ranking_column_in_view_on_a_phone(page)
        tab.capture("overall-board-reweighted")
        shared = page.url
        other = self.tab()
        again = other.goto(shared)
        self.assertEqual(self.leaders(again), ["alice", "bob", "carol"])
        self.assertEqual(again.input_value('input[name="w.sst.accuracy"]'), "4")
        other.assert_clean()

    def test_the_history_chart_renders_with_its_table(self):
        tab = self.tab()
        page = tab.goto(self.url(f"/b/{self.benchmark.slug}/leaderboard/?task=sst&split=test"))
        svg_box(page, ".board-history svg")
        page.locator(".board-history details summary").click()
        rows = page.locator(".board-history table tbody tr").all_inner_texts()
        # The best accuracy rose twice: carol's 0.6, then alice's 0.95 (bob's 0.7 did not).
        self.assertEqual(len(rows), 2)
        self.assertIn("carol-run", rows[0])
        self.assertIn("alice-run", rows[1])
        tab.assert_clean()
        self.assert_ranking_column_in_view_on_a_phone(page)
        tab.capture("board-history")
