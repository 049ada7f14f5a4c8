"""A leaderboard's history (submissions/history.py): the best score of one board over time, each
participant submission that improved it, and the baselines as horizontal lines; read in one
query, on the leaderboard page (a chart and its table) and at
`GET /api/v1/benchmarks/<slug>/leaderboard/history/`, refused and withheld as the board is."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Benchmark, Split
from submissions import history
from submissions.models import Evaluation, Submission
from tests.base import (
    PlatformTestCase,
    make_benchmark,
    make_split,
    make_task,
    make_user,
)

URL = "/api/v1/benchmarks/{slug}/leaderboard/history/"
BOARD_URL = "/api/v1/benchmarks/{slug}/leaderboard/"
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def scored(task, split_name, user, values: dict, *, when: datetime, **fields) -> Submission:
    """A scored submission of `task` made at `when`, with `values` ({metric: value or None}) on
    one split."""
    fields = {"status": Submission.Status.SCORED, "progress": 1.0, **fields}
    submission = Submission.objects.create(
        benchmark=task.benchmark,
        participant=user,
        task=task,
        original_filename="predictions.csv",
        created_at=when,
        **fields,
    )
    Evaluation.objects.create(
        submission=submission,
        task=task,
        split=task.splits.get(name=split_name),
        metrics={k: {"value": v, "ci": None} for k, v in values.items()},
    )
    return submission


def point(submission: Submission, value: float) -> dict:
    return {
        "date": submission.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "value": value,
        "submission": submission.pk,
        "participant": submission.participant.username,
        "name": submission.display_name,
    }


class HistoryTests(PlatformTestCase):
    """Accuracy on `test` (higher is better), and an error metric on another task."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.carol, cls.dave = make_user("carol"), make_user("dave")
        sst = cls.task
        acc = lambda v: {"accuracy": v, "f1_macro": 0.5}  # noqa: E731
        cls.first = scored(sst, "test", cls.alice, acc(0.60), when=day(0), name="alice-1")
        scored(sst, "test", cls.bob, acc(0.55), when=day(1), name="bob-worse")
        scored(sst, "test", cls.carol, acc(None), when=day(2), name="carol-undefined")
        cls.second = scored(sst, "test", cls.bob, acc(0.70), when=day(3), name="bob-2")
        scored(sst, "test", cls.alice, acc(0.70), when=day(4), name="alice-tie")
        scored(sst, "test", cls.dave, acc(0.95), when=day(5), name="dave-private", is_private=True)
        scored(sst, "test", cls.dave, acc(0.96), when=day(5), name="dave-hidden", is_hidden=True)
        scored(sst, "test", cls.dave, acc(0.97), when=day(5), name="dave-dq", is_disqualified=True)
        scored(sst, "test", cls.dave, acc(0.98), when=day(5), name="dave-queued",
               status=Submission.Status.QUEUED)  # fmt: skip
        scored(sst, "dev", cls.dave, acc(0.99), when=day(5), name="dave-on-dev")
        cls.third = scored(sst, "test", cls.carol, acc(0.80), when=day(6), name="carol-best")
        scored(sst, "test", cls.bob, acc(0.75), when=day(7), name="bob-late")
        # Baselines: lines, whenever they were made; they neither set nor beat the best.
        cls.strong = scored(sst, "test", cls.author, acc(0.90), when=day(-1), name="strong",
                            is_baseline=True)  # fmt: skip
        cls.weak = scored(sst, "test", cls.author, acc(0.65), when=day(2.5), name="weak",
                          is_baseline=True)  # fmt: skip
        scored(sst, "test", cls.author, acc(None), when=day(1), name="undefined-baseline",
               is_baseline=True)  # fmt: skip

        # An error metric (lower is better): ties, a null, a worse one later, equal dates.
        cls.rating = make_task(
            cls.benchmark,
            "rating",
            type="regression",
            label_names=[],
            metrics=[{"name": "mae"}, {"name": "pearson"}],
            primary_metric="mae",
        )
        make_split(cls.rating, "test", Split.Role.HIDDEN, [{"id": "r-1", "text": "x", "label": 1}])
        rate = cls.rating
        cls.mae = [
            scored(rate, "test", cls.alice, {"mae": 0.5}, when=day(0), name="m1"),
            scored(rate, "test", cls.bob, {"mae": 0.6}, when=day(1), name="m2"),
            scored(rate, "test", cls.carol, {"mae": 0.4}, when=day(2), name="m3"),
            scored(rate, "test", cls.alice, {"mae": 0.4}, when=day(3), name="m4-tie"),
            scored(rate, "test", cls.bob, {"mae": None}, when=day(4), name="m5-null"),
            # Two at the same moment: the earlier id comes first.
            scored(rate, "test", cls.dave, {"mae": 0.3}, when=day(5), name="m6"),
            scored(rate, "test", cls.bob, {"mae": 0.3}, when=day(5), name="m7-same-time"),
            scored(rate, "test", cls.carol, {"mae": 0.9}, when=day(6), name="m8-worse"),
        ]
        cls.mae_baseline = scored(rate, "test", cls.author, {"mae": 0.45}, when=day(9),
                                  name="mean", is_baseline=True)  # fmt: skip

    def api(self, slug="sentiment", **params):
        return self.client.get(URL.format(slug=slug), params)

    def build(self, task=None, split="test", sort="accuracy") -> history.History:
        task = task or self.task
        return history.history_build(task=task, split=task.splits.get(name=split), sort=sort)

    def build_counting(self) -> tuple[history.History, int]:
        """The accuracy history on `test`, and the queries it took."""
        split = self.test_split
        with CaptureQueriesContext(connection) as queries:
            found = history.history_build(task=self.task, split=split, sort="accuracy")
        return found, len(queries)

    # What it holds.

    def test_points_are_where_the_best_improved_in_creation_order(self):
        found = self.build()
        self.assertFalse(found.lower_is_better)
        self.assertEqual(
            [(p.date, p.value, p.submission, p.participant, p.name) for p in found.points],
            [
                (day(0), 0.60, self.first.pk, "alice", "alice-1"),
                (day(3), 0.70, self.second.pk, "bob", "bob-2"),
                (day(6), 0.80, self.third.pk, "carol", "carol-best"),
            ],
        )
        self.assertEqual(found.latest, day(7))  # bob-late: later, not better

    def test_baselines_are_lines_best_first_and_undefined_ones_are_left_out(self):
        found = self.build()
        self.assertEqual(
            [(b.name, b.value, b.submission) for b in found.baselines],
            [("strong", 0.90, self.strong.pk), ("weak", 0.65, self.weak.pk)],
        )

    def test_a_lower_is_better_metric_improves_downwards(self):
        found = self.build(task=self.rating, sort="mae")
        self.assertTrue(found.lower_is_better)
        m1, _, m3, _, _, m6, _, _ = self.mae
        self.assertEqual(
            [(p.submission, p.value, p.date) for p in found.points],
            [(m1.pk, 0.5, day(0)), (m3.pk, 0.4, day(2)), (m6.pk, 0.3, day(5))],
        )
        self.assertEqual([(b.name, b.value) for b in found.baselines], [("mean", 0.45)])
        # By the other metric: every submission without a value of it is left out.
        self.assertEqual(self.build(task=self.rating, sort="pearson").points, [])

    def test_another_sort_metric_has_its_own_history(self):
        found = self.build(sort="f1_macro")
        self.assertEqual([p.submission for p in found.points], [self.first.pk])

    def test_one_query_however_many_submissions(self):
        self.assertEqual(self.build_counting()[1], 1)
        for i in range(6):
            scored(self.task, "test", make_user(f"p{i}"), {"accuracy": 0.81 + i / 100},
                   when=day(10 + i))  # fmt: skip
        found, queries = self.build_counting()
        self.assertEqual(queries, 1)
        self.assertEqual(len(found.points), 9)

    # The API.

    def test_the_api_gives_the_points_and_baselines(self):
        response = self.api(task="sst", split="test")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(
            response.json(),
            {
                "task": "sst",
                "split": "test",
                "sort": "accuracy",
                "lower_is_better": False,
                "points": [
                    point(self.first, 0.60),
                    point(self.second, 0.70),
                    point(self.third, 0.80),
                ],
                "baselines": [
                    {"name": "strong", "value": 0.90, "submission": self.strong.pk},
                    {"name": "weak", "value": 0.65, "submission": self.weak.pk},
                ],
            },
        )

    def test_the_api_chooses_the_board_as_the_board_api_does(self):
        body = self.api().json()  # first task, first visible hidden split, primary metric
        self.assertEqual((body["task"], body["split"], body["sort"]), ("sst", "test", "accuracy"))
        body = self.api(task="rating").json()
        self.assertEqual((body["sort"], body["lower_is_better"]), ("mae", True))
        self.assertEqual([p["value"] for p in body["points"]], [0.5, 0.4, 0.3])
        dev = self.api(task="sst", split="dev").json()
        self.assertEqual([p["name"] for p in dev["points"]], ["dave-on-dev"])
        self.assertEqual(dev["baselines"], [])

    def test_the_api_refuses_what_the_board_api_refuses_with_its_words(self):
        for params, status in (
            ({"sort": "bleu"}, 400),
            ({"task": "nope"}, 404),
            ({"task": "sst", "split": "nope"}, 404),
        ):
            board = self.client.get(BOARD_URL.format(slug="sentiment"), params)
            self.assertEqual(
                self.assert_errors(self.api(**params), status),
                self.assert_errors(board, status),
            )

    def test_the_api_refuses_parameters_it_does_not_take(self):
        for params in (
            {"slice": "topic", "cell": "food"},
            {"page": "2"},
            {"show": "all"},
            {"sorting": "accuracy"},
        ):
            (message,) = self.assert_errors(self.api(**params), 400)
            self.assertTrue(message.startswith(f"Unknown parameter '{next(iter(params))}': use "))
            self.assertIn("task, split, sort", message)

    def test_the_history_is_of_a_metric(self):
        # A model run's speed orders a board, not a history (or is no sort at all).
        (message,) = self.assert_errors(self.api(sort="rows_per_second"), 400)
        self.assertIn("accuracy, f1_macro", message)

    def test_a_split_that_is_not_scored_has_no_history(self):
        make_split(self.task, "train", Split.Role.TRAIN, [{"id": "t-1", "text": "x", "label": "a"}])
        board = self.client.get(BOARD_URL.format(slug="sentiment"), {"split": "train"})
        self.assertEqual(
            self.assert_errors(self.api(split="train"), 404), self.assert_errors(board, 404)
        )

    def test_the_api_counts_no_query_per_submission(self):
        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                self.assertEqual(self.api().status_code, 200)
            return len(queries)

        before = count()
        for i in range(5):
            scored(self.task, "test", make_user(f"p{i}"), {"accuracy": 0.81 + i / 100},
                   when=day(10 + i))  # fmt: skip
        self.assertEqual(count(), before)
        # benchmark, tasks, their splits, the history
        self.assertEqual(before, 4)

    # The page.

    def page(self, **params):
        response = self.client.get(reverse("leaderboard", args=["sentiment"]), params)
        self.assertEqual(response.status_code, 200)
        return response

    def test_the_page_shows_the_chart_then_its_table(self):
        html = self.page(task="sst", split="test").content.decode()
        section = html[html.index('<section class="board-history"') :]
        section = section[: section.index("</section>")]
        self.assertIn('<figure class="chart chart-history">', section)
        svg = section[section.index("<svg") : section.index("</svg>") + len("</svg>")]
        root = ET.fromstring(svg)
        self.assertIn("max-width:100%", root.get("style"))  # shrinks with a 390 px page
        self.assertLessEqual(float(root.get("width")), 560)
        self.assertLess(section.index("<svg"), section.index("<details"))
        table = section[section.index('<table class="table compact history">') :]
        for name in ("alice-1", "bob-2", "carol-best", "strong", "weak"):
            self.assertIn(name, table)
        for text in ("0.600", "0.700", "0.800", "0.900", "0.650", "2025-03-04"):
            self.assertIn(text, table)
        self.assertIn('class="table-scroll"', section)  # the tables scroll, not the page
        for name in ("dave-", "bob-worse", "alice-tie", "carol-undefined", "bob-late"):
            self.assertNotIn(name, section)

    def test_the_chart_draws_the_steps_the_dots_and_the_baseline_lines(self):
        found = self.build()
        svg = history.history_chart(found, lambda v: f"{v:.3f}")
        root = ET.fromstring(svg)
        texts = ["".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("strong (0.900)", texts)
        self.assertIn("weak (0.650)", texts)
        roles = [e.get("aria-roledescription") for e in root.iter()]
        self.assertEqual(roles.count("rule mark"), 2)
        self.assertEqual(roles.count("point"), 3)
        self.assertEqual(roles.count("line mark"), 1)

    def test_a_baseline_name_is_drawn_as_text_only(self):
        found = self.build()
        hostile = "<script>alert(1)</script>"
        found.baselines[0] = history.Baseline(name=hostile, value=0.9, submission=1)
        svg = history.history_chart(found, str)
        self.assertNotIn("<script", svg)
        self.assertIn("&lt;script&gt;", svg)

    def test_no_history_on_a_board_without_values(self):
        response = self.page(task="rating", split="test", sort="pearson")
        self.assertNotContains(response, "board-history")

    def test_no_chart_without_a_participant_value_but_the_baselines_table(self):
        Submission.objects.filter(is_baseline=False).update(is_hidden=True)
        response = self.page(task="sst", split="test")
        self.assertIsNone(response.context["history_chart"])
        self.assertContains(response, "history-baselines")
        self.assertContains(response, "strong")

    def test_a_board_sorted_on_speed_shows_the_history_of_its_primary_metric(self):
        url = reverse("leaderboard", args=["sentiment"])
        response = self.client.get(url, {"split": "test", "sort": "rows_per_second"})
        self.assertEqual(response.context["history"].sort, "accuracy")
        self.assertEqual(len(response.context["history"].points), 3)

    def test_the_page_adds_one_query_for_the_history(self):
        def count() -> int:
            with CaptureQueriesContext(connection) as queries:
                self.page(task="sst", split="test")
            return len(queries)

        before = count()
        for i in range(5):
            scored(self.task, "test", make_user(f"p{i}"), {"accuracy": 0.81 + i / 100},
                   when=day(10 + i))  # fmt: skip
        self.assertEqual(count(), before)


class WithheldHistoryTests(PlatformTestCase):
    """A hidden split revealed only after the benchmark closes: no history before, as no
    board; maintainers see both."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Benchmark.objects.filter(pk=cls.benchmark.pk).update(
            closes_at=timezone.now() + timedelta(days=7)
        )
        Split.objects.filter(pk=cls.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        values = {"accuracy": 0.777}
        scored(cls.task, "test", cls.alice, values, when=day(0), name="secret-run")
        scored(cls.task, "test", cls.author, {"accuracy": 0.555}, when=day(0), name="base",
               is_baseline=True)  # fmt: skip

    def test_the_api_withholds_it_as_the_board(self):
        self.client.force_login(self.alice)
        params = {"split": "test"}
        board = self.client.get(BOARD_URL.format(slug="sentiment"), params)
        response = self.client.get(URL.format(slug="sentiment"), params)
        self.assertEqual(self.assert_errors(response, 403), self.assert_errors(board, 403))
        self.assertNotIn(b"0.777", response.content)

    def test_the_page_shows_no_history(self):
        self.client.force_login(self.alice)
        response = self.client.get(reverse("leaderboard", args=["sentiment"]), {"split": "test"})
        self.assertIsNone(response.context["history"])
        self.assertNotContains(response, "board-history")
        self.assertNotContains(response, "0.777")
        self.assertNotContains(response, "0.555")

    def test_maintainers_see_it(self):
        self.client.force_login(self.author)
        body = self.client.get(URL.format(slug="sentiment"), {"split": "test"}).json()
        self.assertEqual([p["value"] for p in body["points"]], [0.777])
        response = self.client.get(reverse("leaderboard", args=["sentiment"]), {"split": "test"})
        self.assertContains(response, "board-history")

    def test_everyone_sees_it_after_the_close(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() - timedelta(hours=1)
        )
        body = self.client.get(URL.format(slug="sentiment"), {"split": "test"}).json()
        self.assertEqual([p["name"] for p in body["points"]], ["secret-run"])


class HistoryPermissionTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.private = make_benchmark(
            "private-bench", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )
        scored(cls.private.tasks.get(), "test", cls.alice, {"accuracy": 0.7}, when=day(0))

    def test_a_viewer_who_cannot_see_the_benchmark_gets_a_404(self):
        url = URL.format(slug="private-bench")
        self.assert_errors(self.client.get(url), 404)
        self.client.force_login(self.alice)
        self.assert_errors(self.client.get(url), 404)
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(url).json()["points"][0]["value"], 0.7)

    def test_an_unknown_benchmark_is_a_404(self):
        self.assert_errors(self.client.get(URL.format(slug="nope")), 404)
