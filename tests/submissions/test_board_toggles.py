"""A board's toggles (best per participant or every submission, one kind, baselines on or off),
sorting on efficiency figures, and the parameters page, API and export accept and refuse alike."""

from __future__ import annotations

import html

from django.test import override_settings
from django.urls import reverse

from submissions import views
from submissions.models import Submission
from tests.base import PlatformTestCase, make_scored_submission, make_user

EFFICIENCY = {"rows_per_second": 100.0, "latency_ms_p95": 20.0, "peak_rss_mb": 500.0}


@override_settings(THROTTLE_RATES={"anon": None, "user": None, "uploads": None})
class BoardToggleTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()

        def scored(user, accuracy, name, **fields):
            efficiency = fields.pop("efficiency", None)
            s = make_scored_submission(
                cls.benchmark, user, {"test": {"accuracy": accuracy}}, name=name, **fields
            )
            if efficiency:
                s.evaluations.update(efficiency=efficiency)
            return s

        scored(cls.alice, 0.6, "alice-1")
        scored(cls.alice, 0.8, "alice-2")
        scored(
            cls.bob,
            0.7,
            "bob-model",
            kind=Submission.Kind.MODEL,
            efficiency={**EFFICIENCY, "rows_per_second": 50.0},
        )
        scored(
            cls.staff,
            0.65,
            "fast-model",
            kind=Submission.Kind.MODEL,
            efficiency={**EFFICIENCY, "rows_per_second": 400.0},
        )
        scored(cls.author, 0.5, "majority", is_baseline=True)

    def names(self, **params) -> list[str]:
        response = self.client.get(reverse("api-leaderboard", args=["sentiment"]), params)
        self.assertEqual(response.status_code, 200, response.content)
        return [row["name"] for row in response.json()["rows"]]

    def test_best_per_participant_by_default_every_submission_on_request(self):
        self.assertEqual(self.names(), ["alice-2", "bob-model", "fast-model", "majority"])
        self.assertEqual(
            self.names(show="all"), ["alice-2", "bob-model", "fast-model", "alice-1", "majority"]
        )

    def test_one_kind_and_no_baselines(self):
        self.assertEqual(self.names(kind="model"), ["bob-model", "fast-model"])
        self.assertEqual(self.names(kind="predictions"), ["alice-2", "majority"])
        self.assertEqual(self.names(baselines="off"), ["alice-2", "bob-model", "fast-model"])

    def test_sorting_on_speed_puts_runs_without_figures_last(self):
        response = self.client.get(
            reverse("api-leaderboard", args=["sentiment"]), {"sort": "rows_per_second"}
        )
        rows = response.json()["rows"]
        self.assertEqual([r["name"] for r in rows[:2]], ["fast-model", "bob-model"])
        self.assertEqual([r["rank"] for r in rows], [1, 2, None, None])
        lower = self.names(sort="latency_ms_p95", kind="model")
        self.assertEqual(lower, ["bob-model", "fast-model"])  # equal latency: the earlier first

    def test_unknown_parameters_and_values_are_refused_alike(self):
        cases = [{"sort_by": "accuracy"}, {"show": "some"}, {"kind": "zip"}, {"baselines": "no"}]
        for params in cases:
            api = self.client.get(reverse("api-leaderboard", args=["sentiment"]), params)
            message = self.assert_errors(api, 400)[0]
            page = self.client.get(reverse("leaderboard", args=["sentiment"]), params)
            self.assertEqual(page.status_code, 400)
            self.assertIn(message, html.unescape(page.content.decode()))
            # The export takes `format` where the board takes `page`; the rest is the same.
            export = self.client.get(
                reverse("leaderboard_export", args=["sentiment", "csv"]), params
            )
            self.assertEqual(export.status_code, 400)
            self.assertEqual(export.content.decode().split(": use")[0], message.split(": use")[0])

    def test_links_keep_the_view(self):
        page = self.client.get(
            reverse("leaderboard", args=["sentiment"]), {"show": "all", "kind": "model"}
        )
        links = page.context["links"]
        self.assertIn("show=all", links["sort"]["f1_macro"])
        self.assertIn("kind=model", links["sort"]["f1_macro"])
        self.assertNotIn("show=", links["show"]["best"])
        self.assertIn("baselines=off", links["baselines"]["off"])
        content = page.content.decode()
        self.assertIn("Every submission is shown (model submissions only)", content)
        self.assertIn('aria-current="true">all submissions', content)

    def test_the_export_follows_the_toggles(self):
        response = self.client.get(
            reverse("leaderboard_export", args=["sentiment", "json"]),
            {"show": "all", "baselines": "off"},
        )
        names = [row["name"] for row in response.json()["rows"]]
        self.assertEqual(names, ["alice-2", "bob-model", "fast-model", "alice-1"])


@override_settings(THROTTLE_RATES={"anon": None, "user": None, "uploads": None})
class BoardPageTests(PlatformTestCase):
    def test_a_long_board_is_paged_and_no_row_is_lost(self):
        for i in range(views.BOARD_PAGE_ROWS + 5):
            make_scored_submission(
                self.benchmark, make_user(f"u{i:03d}"), {"test": {"accuracy": i / 1000}}
            )
        url = reverse("leaderboard", args=["sentiment"])
        first = self.client.get(url, {"show": "all"})
        self.assertEqual(len(first.context["rows"]), views.BOARD_PAGE_ROWS)
        self.assertContains(first, f"Rows 1–{views.BOARD_PAGE_ROWS} of {views.BOARD_PAGE_ROWS + 5}")
        next_link = first.context["rows_links"]["next"]
        self.assertIn("show=all", next_link)
        second = self.client.get(url + next_link)
        self.assertEqual(len(second.context["rows"]), 5)
        ranks = [r.rank for r in first.context["rows"]] + [r.rank for r in second.context["rows"]]
        self.assertEqual(ranks, list(range(1, views.BOARD_PAGE_ROWS + 6)))


class ModelLinkTests(PlatformTestCase):
    def test_a_model_runs_row_links_its_repository_at_the_commit_that_ran(self):
        sha = "0123456789abcdef0123456789abcdef01234567"
        make_scored_submission(
            self.benchmark,
            self.alice,
            {"test": {"accuracy": 0.9}},
            kind=Submission.Kind.MODEL,
            model_repo_id="org/tiny-bert",
            model_revision="main",
            model_sha=sha,
        )
        url = f"https://huggingface.co/org/tiny-bert/tree/{sha}"
        page = self.client.get(reverse("leaderboard", args=["sentiment"]))
        self.assertContains(page, f'href="{url}"')
        self.assertContains(page, "org/tiny-bert@0123456")
        rows = self.client.get(reverse("api-leaderboard", args=["sentiment"])).json()["rows"]
        self.assertEqual(rows[0]["model_url"], url)
