"""Significance marks on boards (submissions/significance.py): the real paired bootstrap on
stored per-example results, with submissions whose differences are known by construction."""

from __future__ import annotations

from datetime import timedelta

import pyarrow.parquet as pq
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Split
from submissions import pipeline
from submissions.boards import leaderboard_for
from submissions.leaderboards import leaderboard_build
from submissions.models import PairedTest, Submission
from submissions.services import submission_create
from submissions.significance import ALPHA, board_significance, significance_refresh
from tests.base import (
    SECRET_LABELS,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_benchmark,
    make_scored_submission,
    make_user,
    prediction_csv,
    upload,
)
from tests.examples_artifacts import attach_examples, classification_examples

ROWS = 200


def read_rows(split: Split) -> list[dict]:
    with split.data.open("rb") as f:
        return pq.read_table(f).to_pylist()


@override_settings(
    BOOTSTRAP_RESAMPLES=1000, THROTTLE_RATES={"anon": None, "user": None, "uploads": None}
)
class SignificanceTests(TestCase):
    """Four participants on a 200-row split, each wrong on a superset of the rows the one above
    gets wrong: #2 differs from #1 on 2 rows (not significant), #3 from #2 on 48 rows, all
    against it (significant), #4 from #3 on 1 row (not significant)."""

    @classmethod
    def setUpTestData(cls):
        cls.author = make_user("author")
        cls.benchmark = make_benchmark(
            "sig", maintainers=(cls.author,), public_rows=ROWS, hidden_rows=ROWS
        )
        cls.task = cls.benchmark.tasks.get()
        cls.dev = cls.task.splits.get(name="dev")
        cls.test_split = cls.task.splits.get(name="test")
        rows = {split.name: read_rows(split) for split in (cls.dev, cls.test_split)}
        wrong_counts = [10, 12, 60, 61]
        cls.submissions = []
        for index, count in enumerate(wrong_counts):
            user = make_user(f"p{index}")
            wrong = {name: {r["id"] for r in rows[name][:count]} for name in rows}
            s = make_scored_submission(
                cls.benchmark,
                user,
                {name: {"accuracy": 1 - count / ROWS} for name in rows},
                name=f"system {index}",
            )
            for evaluation in s.evaluations.all():
                name = evaluation.split.name
                table = classification_examples(rows[name], wrong[name], SECRET_LABELS)
                attach_examples(evaluation, table)
            cls.submissions.append(s)

    def board(self, split="dev", **params):
        view = leaderboard_for(
            self.author, self.benchmark, task="sst", split=split, sort=params.get("sort"),
            slice_name=params.get("slice"), cell=params.get("cell"),
        )  # fmt: skip
        return view.board

    def test_neighbours_and_the_tie_with_first_are_as_constructed(self):
        stored = significance_refresh(self.task, self.dev, limit=None)
        # Adjacent pairs (1-2, 2-3, 3-4) and the top row against #2 (already) and #3, where
        # the chain of ties ends.
        self.assertEqual(stored, 4)
        board = self.board()
        rows = board.rows
        self.assertEqual([r.submission.pk for r in rows], [s.pk for s in self.submissions])
        self.assertIsNone(rows[0].p_above)
        self.assertGreaterEqual(rows[1].p_above, ALPHA)
        self.assertLess(rows[2].p_above, 0.01)
        self.assertGreaterEqual(rows[3].p_above, ALPHA)
        self.assertEqual([r.tied_with_first for r in rows], [True, True, False, False])
        self.assertEqual(board.tied_group, 2)
        self.assertTrue(board.tested)
        # A second refresh has nothing left to compute.
        self.assertEqual(significance_refresh(self.task, self.dev, limit=None), 0)

    def test_tests_are_stored_once_per_pair_for_every_metric(self):
        significance_refresh(self.task, self.dev, limit=None)
        test = PairedTest.objects.get(
            first=self.submissions[1].evaluations.get(split=self.dev),
            second=self.submissions[2].evaluations.get(split=self.dev),
        )
        self.assertEqual(set(test.results), {"accuracy", "f1_macro"})
        self.assertAlmostEqual(test.results["accuracy"]["delta"], -48 / ROWS)
        low, high = test.results["accuracy"]["ci"]
        self.assertLess(high, 0)

    def test_a_limited_refresh_marks_what_it_computed_and_no_more(self):
        self.assertEqual(significance_refresh(self.task, self.dev, limit=1), 1)
        rows = self.board().rows
        self.assertGreaterEqual(rows[1].p_above, ALPHA)  # the best pair first
        self.assertIsNone(rows[2].p_above)
        self.assertEqual([r.tied_with_first for r in rows], [True, True, False, False])
        significance_refresh(self.task, self.dev, limit=None)
        self.assertLess(self.board().rows[2].p_above, 0.01)

    def test_a_rescored_evaluation_has_no_marks_until_tested_again(self):
        significance_refresh(self.task, self.dev, limit=None)
        evaluation = self.submissions[1].evaluations.get(split=self.dev)
        rows = read_rows(self.dev)
        attach_examples(evaluation, classification_examples(rows, set(), SECRET_LABELS), "new")
        board = self.board()
        self.assertIsNone(board.rows[1].p_above)
        self.assertIsNone(board.rows[2].p_above)
        self.assertGreaterEqual(board.rows[3].p_above, ALPHA)  # untouched pair
        self.assertEqual(significance_refresh(self.task, self.dev, limit=None), 2)

    def test_a_board_ranked_on_a_slice_cell_has_no_marks(self):
        significance_refresh(self.task, self.dev, limit=None)
        for s in self.submissions:
            evaluation = s.evaluations.get(split=self.dev)
            evaluation.slices = [
                {
                    "slice": "topic",
                    "cell": "food",
                    "n": 100,
                    "metrics": {"accuracy": {"value": 0.5}},
                }
            ]
            evaluation.save()
        board = self.board(slice="topic", cell="food")
        self.assertTrue(all(r.p_above is None and not r.tied_with_first for r in board.rows))

    def test_page_and_api_show_the_marks(self):
        significance_refresh(self.task, self.dev, limit=None)
        self.client.force_login(self.author)
        page = self.client.get(
            reverse("leaderboard", args=[self.benchmark.slug]), {"task": "sst", "split": "dev"}
        )
        html = page.content.decode()
        self.assertEqual(html.count('class="tie-mark" title="Not significantly different'), 2)
        self.assertEqual(html.count("tied-first"), 2)
        self.assertIn("the shaded top 2 rows are statistically tied with #1", html)
        api = self.client.get(
            reverse("api-leaderboard", args=[self.benchmark.slug]),
            {"task": "sst", "split": "dev"},
        ).json()
        marks = [(r["p_value_vs_above"] is not None, r["tied_with_first"]) for r in api["rows"]]
        self.assertEqual(marks, [(False, True), (True, True), (True, False), (True, False)])
        self.assertLess(api["rows"][2]["p_value_vs_above"], ALPHA)

    def test_a_withheld_hidden_split_shows_no_marks_and_no_labels(self):
        self.test_split.reveal = Split.Reveal.AFTER_CLOSE
        self.test_split.save()
        self.benchmark.closes_at = timezone.now() + timedelta(days=3)
        self.benchmark.save()
        significance_refresh(self.task, self.test_split, limit=None)
        participant = self.submissions[0].participant
        self.client.force_login(participant)
        api = self.client.get(
            reverse("api-leaderboard", args=[self.benchmark.slug]),
            {"task": "sst", "split": "test"},
        )
        self.assertEqual(api.status_code, 403)
        page = self.client.get(
            reverse("leaderboard", args=[self.benchmark.slug]), {"task": "sst", "split": "test"}
        )
        self.assertNotIn("tie-mark", page.content.decode())
        pairs = hidden_pairs(self.benchmark)
        assert_no_hidden_labels(self, page.content, pairs)
        assert_no_hidden_labels(self, api.content, pairs)

    def test_reading_a_board_costs_one_query_for_its_marks(self):
        significance_refresh(self.task, self.dev, limit=None)
        board = leaderboard_build(task=self.task, split=self.dev)
        with self.assertNumQueries(1):
            board_significance(board)


@override_settings(
    BOOTSTRAP_RESAMPLES=200, THROTTLE_RATES={"anon": None, "user": None, "uploads": None}
)
class ScoringJobTests(TestCase):
    """The real scoring job tests a new submission against its neighbours on every split."""

    def test_scoring_a_second_submission_tests_it_against_the_first(self):
        author = make_user("author")
        benchmark = make_benchmark("job", maintainers=(author,), public_rows=60, hidden_rows=60)
        rows = gold_rows(benchmark)
        submissions = []
        for index, every in enumerate((5, 2)):
            wrong = {row["id"] for i, row in enumerate(rows) if i % every == 0}
            submission = submission_create(
                benchmark=benchmark,
                participant=make_user(f"p{index}"),
                uploaded_file=upload(prediction_csv(rows, wrong=wrong)),
            )
            pipeline.submission_score(submission_id=submission.pk)
            submission.refresh_from_db()
            self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
            submissions.append(submission)
        tests = PairedTest.objects.all()
        self.assertEqual({t.split.name for t in tests}, {"dev", "test"})
        for test in tests:
            # 20% against 50% wrong on 60 rows, every row of the first's wrong in the second's.
            self.assertLess(test.results["accuracy"]["p_value"], ALPHA)
        task = benchmark.tasks.get()
        board = leaderboard_build(task=task, split=task.splits.get(name="dev"))
        board_significance(board)
        self.assertEqual(board.rows[0].submission, submissions[0])
        self.assertLess(board.rows[1].p_above, ALPHA)
        self.assertEqual(board.tied_group, 1)
