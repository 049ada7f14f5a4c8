"""Which evaluation a per-example view is about, once access and role are settled.

`submission_for` gives a submission whose results the user may see; `browsable` lists its
evaluations whose rows may be browsed (public splits, scores not withheld); `error_target`
picks the evaluation to browse by task and split name and refuses, with the reason, a hidden
split (its labels never leave the server), a train split (not scored) and scores withheld until
the benchmark closes. Only a public split's rows are ever read for display.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from benchmarks.models import Split, Task
from submissions.access import get_result_for
from submissions.models import Evaluation, Submission
from submissions.selectors import SelectionError, visible_evaluations


@dataclass
class Target:
    """The evaluation a per-example view is about, once access and role are settled."""

    submission: Submission
    task: Task
    split: Split
    result: dict

    @property
    def evaluation(self) -> Evaluation:
        return self.result["evaluation"]


def _role_refusal(split: Split) -> SelectionError | None:
    if split.role == Split.Role.HIDDEN:
        return SelectionError(
            f"Split '{split.name}' is hidden: its labels never leave the server, so only "
            "aggregate scores are shown for it, never single examples.",
            status_code=403,
        )
    if split.role == Split.Role.TRAIN:
        return SelectionError(
            f"Split '{split.name}' is a train split: it is not scored, so it has no "
            "per-example results.",
            status_code=404,
        )
    return None


def error_target(user, submission: Submission, *, task: str | None, split: str | None) -> Target:
    """The public-split evaluation of `submission` to browse: `task` and `split` by name, else
    the first evaluation on a public split. Http404 for unknown names, SelectionError (403 or
    404) for a split whose rows are not shown, with the reason."""
    tasks = {t.slug: t for t in submission.benchmark.tasks.all()}
    if task and task not in tasks:
        raise Http404("No such task.")
    if split:
        task_obj = tasks[task] if task else submission.task or next(iter(tasks.values()), None)
        split_obj = task_obj and task_obj.splits.filter(name=split).first()
        if split_obj is None:
            raise Http404("No such split.")
        refusal = _role_refusal(split_obj)
        if refusal:
            raise refusal
    results = [
        r
        for r in visible_evaluations(user, submission)
        if (not task or r["task"] == task)
        and (r["split"] == split if split else r["role"] == Split.Role.PUBLIC)
    ]
    if not results:
        raise SelectionError(
            "This submission has no evaluation on a public split"
            + (f" of task '{task}'" if task else "")
            + (f" named '{split}'" if split else "")
            + ".",
            status_code=404,
        )
    result = results[0]
    evaluation = result["evaluation"]
    refusal = _role_refusal(evaluation.split)  # belt and braces: never a hidden split's rows
    if refusal:
        raise refusal
    if result["withheld"]:
        raise SelectionError(
            f"Scores on split '{result['split']}' are revealed when the benchmark closes.",
            status_code=403,
        )
    return Target(
        submission=submission, task=evaluation.task, split=evaluation.split, result=result
    )


def submission_for(user, submission_id: int) -> Submission:
    """A submission whose results `user` may see (`access.get_result_for`), else a 404."""
    return get_result_for(user, submission_id)


def browsable(user, submission: Submission) -> list[dict]:
    """The submission's evaluations whose rows may be browsed: public splits, not withheld."""
    return [
        r
        for r in visible_evaluations(user, submission)
        if r["role"] == Split.Role.PUBLIC and not r["withheld"]
    ]
