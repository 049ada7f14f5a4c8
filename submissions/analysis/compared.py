"""What a comparison compares: the task and split, and two to four submissions on it.

`parse_submission_ids` reads the ids asked for; `compare_task_split` settles the task and the
scored split (the default split when none is named); `compared_submissions` checks that each
submission is visible to the user, belongs to the benchmark and has a visible, not withheld
evaluation on the split, else a SelectionError naming which and why; `compare_choices` lists
the submissions to pick from (the leaderboard's rows and those already chosen), none while the
split's scores are withheld from the user (`split_withheld`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from benchmarks.models import Benchmark, Split, Task
from submissions.access import get_result_for
from submissions.leaderboards import default_split, leaderboard_build
from submissions.models import Evaluation, Submission
from submissions.selectors import SelectionError, visible_evaluations

MIN_COMPARED, MAX_COMPARED = 2, 4


def parse_submission_ids(raw: list[str]) -> list[int]:
    values = [v.strip() for item in raw for v in str(item).split(",") if v.strip()]
    bad = [v for v in values if not (v.isascii() and v.isdigit())]  # int() refuses '²'.
    if bad:
        raise SelectionError(
            f"Invalid submission id '{bad[0][:20]}': give submission numbers, e.g. 12,15."
        )
    ids = list(dict.fromkeys(int(v) for v in values))
    if not MIN_COMPARED <= len(ids) <= MAX_COMPARED:
        raise SelectionError(
            f"Compare {MIN_COMPARED} to {MAX_COMPARED} different submissions; {len(ids)} given."
        )
    return ids


def compare_task_split(benchmark: Benchmark, task: str | None, split: str | None):
    tasks = list(benchmark.tasks.all())
    task_obj = next((t for t in tasks if t.slug == task), None) if task else next(iter(tasks), None)
    if task_obj is None:
        raise Http404("No such task.")
    task_obj.benchmark = benchmark
    if split:
        split_obj = task_obj.splits.filter(name=split).first()
        if split_obj is None:
            raise Http404("No such split.")
        if not split_obj.is_scored:
            raise SelectionError(
                f"Split '{split_obj.name}' is a train split: it is not scored.", status_code=404
            )
    else:
        split_obj = default_split(task_obj)
        if split_obj is None:
            raise SelectionError(f"Task '{task_obj.slug}' has no scored split.", status_code=404)
    split_obj.task = task_obj
    return task_obj, split_obj


def split_withheld(user, split: Split) -> bool:
    from benchmarks.access import can_review

    return not split.scores_visible() and not can_review(user, split.task.benchmark)


def compare_choices(user, task: Task, split: Split, chosen: list[Submission]) -> list[dict]:
    """Submissions to pick from: the board's rows (each visible to the user) and those chosen."""
    if split_withheld(user, split):
        return []
    board = leaderboard_build(task=task, split=split)
    seen, choices = set(), []
    for row in board.rows:
        s = row.submission
        seen.add(s.pk)
        choices.append({"submission": s, "rank": row.rank, "evaluation": row.evaluation})
    for s in chosen:
        if s.pk not in seen:
            choices.append({"submission": s, "rank": None, "evaluation": None})
    return choices


@dataclass
class Compared:
    submission: Submission
    result: dict

    @property
    def evaluation(self) -> Evaluation:
        return self.result["evaluation"]


def compared_submissions(user, benchmark, task: Task, split: Split, ids: list[int]):
    """The submissions to compare, each visible to the user, of this benchmark, with a visible
    evaluation on the split; else a SelectionError naming which and why."""
    if split_withheld(user, split):
        raise SelectionError(
            f"Scores on split '{split.name}' are revealed when the benchmark closes.",
            status_code=403,
        )
    compared = []
    for submission_id in ids:
        try:
            submission = get_result_for(user, submission_id)
        except Http404:
            raise SelectionError(
                f"Submission #{submission_id} does not exist or is not visible to you.",
                status_code=404,
            ) from None
        if submission.benchmark_id != benchmark.pk:
            raise SelectionError(
                f"Submission #{submission_id} is not a submission to this benchmark.",
                status_code=404,
            )
        results = [
            r for r in visible_evaluations(user, submission) if r["evaluation"].split_id == split.pk
        ]
        if not results:
            raise SelectionError(
                f"Submission #{submission_id} has no evaluation on {task.slug}/{split.name}.",
                status_code=404,
            )
        if results[0]["withheld"]:
            raise SelectionError(
                f"Scores of submission #{submission_id} on split '{split.name}' are revealed "
                "when the benchmark closes.",
                status_code=403,
            )
        compared.append(Compared(submission=submission, result=results[0]))
    return compared
