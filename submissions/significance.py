"""Which differences on a board are real: paired bootstraps between neighbouring rows and
between the top row and those below it, stored as `PairedTest`s.

`significance_refresh` runs in the scoring worker after an evaluation is stored: it builds the
split's board (ranked on the primary metric), lists the pairs the board shows a verdict for
(each ranked row of the top `TESTED_ROWS` against the row above it, and against the top row
until one differs significantly), and computes the missing ones from the stored per-example
predictions and the split's gold table with `scoring.compare.paired_bootstrap` (every metric
key at once, so a board sorted on another metric reads the same tests). `board_significance`
marks a board's rows from those tests in one query: reading a board never touches the data.

A row is "not significantly different from the row above" when the two-sided paired-bootstrap
p-value of their difference on the sort metric is at least `ALPHA`; the "statistically tied
with #1" group is the top row and the rows below it, in order, whose difference with the top
row is not significant, up to the first that is (or whose test is not computed yet).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pyarrow as pa
from django.conf import settings

from benchmarks.models import Split, Task
from scoring.tasktypes import TOKEN_CLASSIFICATION
from submissions import analysis
from submissions.analysis.examples import _string_ids
from submissions.board_entries import leaderboard_page
from submissions.leaderboards import Leaderboard
from submissions.models import Evaluation, PairedTest
from submissions.uploads import split_table

logger = logging.getLogger(__name__)

ALPHA = 0.05
TESTED_ROWS = 50  # ranked rows of a board whose neighbours are tested
PER_REFRESH = 8  # pairs one refresh computes at most (the scoring job's extra time)


def _ordered(a: Evaluation, b: Evaluation) -> tuple[Evaluation, Evaluation]:
    return (a, b) if a.pk < b.pk else (b, a)


def _files(first: Evaluation, second: Evaluation) -> list[str]:
    return [first.examples.name, second.examples.name]


def _fresh_tests(split: Split, evaluations: dict[int, Evaluation]) -> dict[tuple, PairedTest]:
    """The stored tests among `evaluations`, by (first pk, second pk), that were computed from
    their current per-example files. One query."""
    tests = PairedTest.objects.filter(
        split=split, first_id__in=list(evaluations), second_id__in=list(evaluations)
    ).only("first_id", "second_id", "results", "files")
    return {
        (t.first_id, t.second_id): t
        for t in tests
        if t.files == _files(evaluations[t.first_id], evaluations[t.second_id])
    }


def _p_value(tests: dict, a: Evaluation, b: Evaluation, key: str) -> float | None:
    first, second = _ordered(a, b)
    test = tests.get((first.pk, second.pk))
    entry = (test.results.get(key) if test else None) or {}
    return entry.get("p_value")


def _ranked(board: Leaderboard) -> list:
    return [row for row in board.rows[:TESTED_ROWS] if row.rank is not None]


def board_significance(board: Leaderboard) -> None:
    """Mark the rows of `board` from the stored tests: `p_above` (the p-value against the row
    above; None where not tested) and `tied_with_first`. Boards ranked on a slice cell get no
    marks (the tests are of the whole split). One query."""
    ranked = _ranked(board)
    if board.cell is not None or len(ranked) < 2:
        return
    evaluations = {row.evaluation.pk: row.evaluation for row in ranked}
    tests = _fresh_tests(board.split, evaluations)
    if not tests:
        return
    board.tested = True
    top = ranked[0].evaluation
    ranked[0].tied_with_first = True
    chain = True
    for above, row in zip(ranked, ranked[1:], strict=False):
        row.p_above = _p_value(tests, above.evaluation, row.evaluation, board.sort)
        p_first = _p_value(tests, top, row.evaluation, board.sort)
        chain = chain and p_first is not None and p_first >= ALPHA
        row.tied_with_first = chain
    board.tied_group = sum(1 for row in ranked if row.tied_with_first)


def _wanted(ranked: list, tests: dict, key: str) -> Iterator[tuple[Evaluation, Evaluation]]:
    """The untested pairs a board shows a verdict for, best rows first: each row against the
    row above, and against the top row while the chain of ties with it lasts."""
    top = ranked[0].evaluation
    chain = True
    for above, row in zip(ranked, ranked[1:], strict=False):
        for a, b in (
            ((above.evaluation, row.evaluation), (top, row.evaluation))
            if chain
            else ((above.evaluation, row.evaluation),)
        ):
            first, second = _ordered(a, b)
            if (first.pk, second.pk) not in tests:
                yield first, second
        if chain:
            p_first = _p_value(tests, top, row.evaluation, key)
            chain = p_first is None or p_first >= ALPHA


class _Predictions:
    """The split's gold table and each evaluation's stored predictions, read once."""

    def __init__(self, task: Task, split: Split):
        columns = [task.id_column, task.label_column]
        if task.type == TOKEN_CLASSIFICATION:
            columns += list(task.input_columns)
        self.gold = split_table(split, tuple(dict.fromkeys(columns)))
        self.ids = _string_ids(self.gold[task.id_column])
        self.cache: dict[int, pa.Array] = {}

    def of(self, evaluation: Evaluation):
        if evaluation.pk not in self.cache:
            examples = analysis.examples_for(evaluation, self.ids)
            if examples.prediction is None:
                raise analysis.ExamplesUnavailable("The per-example results hold no predictions.")
            self.cache[evaluation.pk] = examples.prediction
        return self.cache[evaluation.pk]


def significance_refresh(task: Task, split: Split, *, limit: int | None = PER_REFRESH) -> int:
    """Compute up to `limit` (None: all) missing tests of the split's board; returns how many
    were stored. The chain of ties with the top row is followed as tests come in."""
    board = leaderboard_page(task=task, split=split, start=0, size=TESTED_ROWS)
    ranked = [row for row in _ranked(board) if row.evaluation.examples]
    if len(ranked) < 2:
        return 0
    evaluations = {row.evaluation.pk: row.evaluation for row in ranked}
    tests = _fresh_tests(split, evaluations)
    spec, resamples = task.spec(), settings.BOOTSTRAP_RESAMPLES
    data: _Predictions | None = None
    stored, skipped = 0, set()
    while limit is None or stored < limit:
        pairs = (p for p in _wanted(ranked, tests, board.sort) if (p[0].pk, p[1].pk) not in skipped)
        pair = next(pairs, None)
        if pair is None:
            break
        first, second = pair
        data = data or _Predictions(task, split)
        try:
            predictions = [data.of(first), data.of(second)]
        except (analysis.ExamplesUnavailable, OSError, pa.ArrowException):
            skipped.add((first.pk, second.pk))  # e.g. a file kept by an older version
            continue
        found = analysis.bootstrap.compare_module().paired_bootstrap(
            spec, data.gold, predictions, resamples=resamples, seed=0
        )
        results = {
            key: {"delta": entry["deltas"][1], "ci": entry["ci"][1], "p_value": entry["p_value"][1]}
            for key, entry in found.items()
        }
        test, _ = PairedTest.objects.update_or_create(
            first=first,
            second=second,
            defaults={
                "split": split,
                "results": results,
                "files": _files(first, second),
                "resamples": resamples,
            },
        )
        tests[(first.pk, second.pk)] = test
        stored += 1
    return stored


def significance_refresh_for(evaluations: list[Evaluation]) -> None:
    """After a scoring job stores `evaluations`: refresh each split's board. Never fails the
    job; a failure is logged by its type only (messages could quote data)."""
    for evaluation in evaluations:
        try:
            significance_refresh(evaluation.task, evaluation.split)
        except Exception as exc:  # noqa: BLE001 - the submission is scored whatever happens here
            logger.warning(
                "Significance tests of split %s failed: %s",
                evaluation.split_id,
                type(exc).__name__,
            )
