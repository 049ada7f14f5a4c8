"""The final board: a split revealed after the close shows no score before `closes_at` and
every score from that instant, on the page, the API, the export, the history and the overall
board alike, with the clock frozen on each side of the boundary. Maintainers see it throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

from django.test import override_settings
from django.urls import reverse

from benchmarks.models import Split
from tests.base import PlatformTestCase, make_scored_submission

CLOSES_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECRET_SCORE = 0.8123  # appears only once the board is revealed


def frozen(moment: datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


@override_settings(THROTTLE_RATES={"anon": None, "user": None, "uploads": None})
class FinalBoardTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.test_split.reveal = Split.Reveal.AFTER_CLOSE
        cls.test_split.save()
        cls.benchmark.closes_at = CLOSES_AT
        cls.benchmark.save()
        make_scored_submission(cls.benchmark, cls.alice, {"test": {"accuracy": SECRET_SCORE}})
        make_scored_submission(cls.benchmark, cls.bob, {"test": {"accuracy": 0.5}})

    def requests(self) -> dict:
        query = {"task": "sst", "split": "test"}
        slug = self.benchmark.slug
        return {
            "page": self.client.get(reverse("leaderboard", args=[slug]), query),
            "api": self.client.get(reverse("api-leaderboard", args=[slug]), query),
            "export": self.client.get(reverse("leaderboard_export", args=[slug, "csv"]), query),
            "api export": self.client.get(reverse("api-leaderboard-export", args=[slug]), query),
            "history": self.client.get(reverse("api-leaderboard-history", args=[slug]), query),
            "overall": self.client.get(reverse("api-overall-board", args=[slug])),
        }

    def assert_withheld(self, answers: dict):
        for name in ("api", "export", "api export", "history"):
            self.assertEqual(answers[name].status_code, 403, name)
        self.assertContains(answers["page"], "revealed when the benchmark closes")
        # The overall board combines the public split meanwhile, as the task's board defaults.
        self.assertEqual([c["split"] for c in answers["overall"].json()["components"]], ["dev"])
        for name, answer in answers.items():
            self.assertNotIn(str(SECRET_SCORE), answer.content.decode(), name)

    def assert_revealed(self, answers: dict):
        for name, answer in answers.items():
            self.assertEqual(answer.status_code, 200, name)
            self.assertIn(str(SECRET_SCORE)[:5], answer.content.decode(), name)
        self.assertEqual([c["split"] for c in answers["overall"].json()["components"]], ["test"])

    def test_withheld_until_the_instant_of_the_close_then_shown(self):
        self.client.force_login(self.bob)
        with frozen(CLOSES_AT - timedelta(seconds=1)):
            self.assert_withheld(self.requests())
        with frozen(CLOSES_AT):
            self.assert_revealed(self.requests())
        with frozen(CLOSES_AT + timedelta(days=30)):
            self.assert_revealed(self.requests())

    def test_anonymous_visitors_wait_too(self):
        with frozen(CLOSES_AT - timedelta(minutes=5)):
            self.assert_withheld(self.requests())

    def test_maintainers_see_the_board_before_the_close(self):
        self.client.force_login(self.author)
        with frozen(CLOSES_AT - timedelta(days=3)):
            answers = self.requests()
        for name in ("api", "api export", "history"):
            self.assertEqual(answers[name].status_code, 200, name)
        self.assertContains(answers["page"], "Participants cannot see this board")
