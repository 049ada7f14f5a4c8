"""What of a submission's evaluations a viewer may see: values on a hidden split revealed only
after close are withheld from everyone but maintainers until the benchmark closes."""

from __future__ import annotations

from benchmarks.access import can_maintain
from submissions.models import Submission


def visible_evaluations(user, submission: Submission) -> list[dict]:
    maintainer = can_maintain(user, submission.benchmark)
    results = []
    evaluations = submission.evaluations.select_related("task", "split", "task__benchmark")
    for evaluation in evaluations.order_by("task__position", "split__position"):
        split = evaluation.split
        withheld = not maintainer and not split.scores_visible()
        results.append(
            {
                "task": evaluation.task.slug,
                "split": split.name,
                "role": split.role,
                "withheld": withheld,
                "metrics": None if withheld else evaluation.metrics,
                "evaluation": evaluation,
            }
        )
    return results
