"""Board entries (submissions/board_entries.py): a default board read a page at a time from its
entries is the board `leaderboard_build` builds from the evaluations — same rows, order and
ranks, ties and missing values included — and stays so through every change of what a board
shows: scoring, privacy, flags, baselines, deletion, rescoring."""

from __future__ import annotations

import random

from django.core.management import call_command

from submissions import services
from submissions.board_entries import entries_rebuild, leaderboard_page
from submissions.leaderboards import leaderboard_build
from submissions.models import BoardEntry, Evaluation
from tests.base import PlatformTestCase, make_scored_submission, make_user


def rows(board):
    return [(row.rank, row.submission.pk, row.value) for row in board.rows]


class BoardEntriesTests(PlatformTestCase):
    def setUp(self):
        self.participants = [make_user(f"p{i}") for i in range(12)]

    def score(self, user, accuracy, f1=0.5, **fields):
        return make_scored_submission(
            self.benchmark, user, {"test": {"accuracy": accuracy, "f1": f1}}, **fields
        )

    def assert_same_board(self, page_size=7):
        """Every page of every default board equals the built board's rows there."""
        for sort in ("accuracy", "f1"):
            for baselines in (True, False):
                built = leaderboard_build(
                    task=self.task, split=self.test_split, sort=sort, baselines=baselines
                )
                paged, start = [], 0
                while True:
                    page = leaderboard_page(
                        task=self.task,
                        split=self.test_split,
                        start=start,
                        size=page_size,
                        sort=sort,
                        baselines=baselines,
                    )
                    self.assertEqual(page.total, len(built.rows))
                    if not page.rows:
                        break
                    paged += rows(page)
                    start += page_size
                self.assertEqual(paged, rows(built), (sort, baselines))

    def test_pages_equal_the_built_board_with_ties_missing_values_and_baselines(self):
        rng = random.Random(4)
        for user in self.participants:
            for _ in range(rng.randint(1, 3)):
                value = None if rng.random() < 0.15 else round(rng.random(), 1)  # ties
                self.score(user, value, f1=round(rng.random(), 1))
        for name in ("majority", "random"):
            self.score(self.author, round(rng.random(), 1), is_baseline=True, name=name)
        self.score(self.alice, 0.99, is_private=True)  # off the boards
        self.score(self.bob, 0.98, is_hidden=True)
        board = leaderboard_build(task=self.task, split=self.test_split)
        ranks = [r for r, _, _ in rows(board)]
        self.assertIn(None, ranks)  # missing values, ranked last
        self.assertTrue(any(a == b for a, b in zip(ranks, ranks[1:], strict=False) if a))
        self.assert_same_board()
        self.assert_same_board(page_size=1)  # every row's rank from its own count

    def test_changes_of_what_a_board_shows_keep_the_entries_right(self):
        first = self.score(self.alice, 0.6)
        best = self.score(self.alice, 0.9)
        self.score(self.bob, 0.7)
        self.assert_same_board()
        services.submission_set_private(submission=best, private=True)  # an update() path
        self.assertEqual(
            BoardEntry.objects.get(group=self.alice.pk, metric="accuracy").submission, first
        )
        self.assert_same_board()
        services.submission_set_private(submission=best, private=False)
        for flag in ("is_hidden", "is_disqualified", "is_baseline"):
            setattr(best, flag, True)
            best.save()  # the admin's path
            self.assert_same_board()
            setattr(best, flag, False)
            best.save()
            self.assert_same_board()
        best.delete()  # the participant's next best moves up
        self.assertEqual(
            BoardEntry.objects.get(group=self.alice.pk, metric="accuracy").submission, first
        )
        self.assert_same_board()
        first.delete()
        self.assertFalse(BoardEntry.objects.filter(group=self.alice.pk).exists())
        self.assert_same_board()

    def test_a_rebuild_writes_what_upkeep_kept(self):
        for i, user in enumerate(self.participants):
            self.score(user, i / 20)
            self.score(user, None if i % 3 == 0 else 1 - i / 20)
        self.score(self.author, 0.5, is_baseline=True)
        kept = sorted(
            BoardEntry.objects.values_list("split", "metric", "group", "submission", "value")
        )
        self.assertEqual(entries_rebuild(), len(kept))
        rebuilt = sorted(
            BoardEntry.objects.values_list("split", "metric", "group", "submission", "value")
        )
        self.assertEqual(rebuilt, kept)
        BoardEntry.objects.all().delete()
        call_command("board_entries", verbosity=0)
        self.assertEqual(BoardEntry.objects.count(), len(kept))
        self.assert_same_board()

    def test_evaluations_stored_in_bulk_are_on_the_board_only_after_a_refresh(self):
        # The scoring job stores evaluations with bulk_create, which sends no signal: it
        # refreshes the entries itself (pipeline.submission_record); this is why it must.
        submission = self.score(self.alice, 0.5)
        evaluation = Evaluation.objects.get(submission=submission, split=self.test_split)
        Evaluation.objects.filter(pk=evaluation.pk).delete()
        self.assertFalse(BoardEntry.objects.filter(group=self.alice.pk).exists())
        evaluation.pk = None
        evaluation.metrics = {"accuracy": {"value": 0.8, "ci": None}}
        Evaluation.objects.bulk_create([evaluation])
        self.assertFalse(BoardEntry.objects.filter(group=self.alice.pk).exists())
        from submissions.board_entries import entries_refresh

        entries_refresh([submission.pk])
        self.assertEqual(BoardEntry.objects.get(group=self.alice.pk, metric="accuracy").value, 0.8)
        self.assert_same_board()
