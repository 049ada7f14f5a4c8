"""What of a submission's evaluations a viewer may see (DESIGN §7, §8):
- values on a hidden split revealed only after close are withheld from everyone but maintainers
  until the benchmark closes;
- slice cells of hidden splits smaller than MIN_SLICE_SIZE are suppressed, with further cells
  suppressed so that they cannot be recovered by subtraction — for maintainers too, since the
  same figures reach exports and screenshots.
Pages and the API both present evaluations through this module only."""

from __future__ import annotations

from django.conf import settings

from benchmarks.access import can_maintain
from benchmarks.models import Split
from scoring.models import Evaluation
from scoring.slices import suppress_hidden_cells
from submissions.models import Submission

# Only these fields of stored slices and confusion matrices are ever shown: anything else a
# future scorer keeps beside them (per-row examples, say) stays on the server unless a view is
# written for it on purpose.
CELL_FIELDS = ("slice", "cell", "n", "metrics", "suppressed")
CONFUSION_FIELDS = ("labels", "matrix")


def visible_slices(evaluation: Evaluation) -> list[dict]:
    cells = [{k: cell.get(k) for k in CELL_FIELDS} for cell in evaluation.slices or []]
    if evaluation.split.role == Split.Role.HIDDEN:
        return suppress_hidden_cells(cells, settings.MIN_SLICE_SIZE)
    return [{**cell, "suppressed": False} for cell in cells]


def visible_confusion(evaluation: Evaluation) -> dict | None:
    """The confusion matrix, whitelisted. On a hidden split it is withheld (`matrix` null,
    `suppressed` true) when some predicted class holds fewer than MIN_SLICE_SIZE rows: a
    participant who predicts one class for a single row would read that row's gold label in
    its column."""
    if not evaluation.confusion:
        return None
    confusion = {k: evaluation.confusion.get(k) for k in CONFUSION_FIELDS}
    matrix = confusion.get("matrix") or []
    column_totals = [sum(column) for column in zip(*matrix, strict=True)] if matrix else []
    small = any(0 < total < settings.MIN_SLICE_SIZE for total in column_totals)
    suppressed = evaluation.split.role == Split.Role.HIDDEN and small
    return {**confusion, "matrix": None if suppressed else matrix, "suppressed": suppressed}


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
                "slices": None if withheld else visible_slices(evaluation),
                "confusion": None if withheld else visible_confusion(evaluation),
                "evaluation": evaluation,
            }
        )
    return results
