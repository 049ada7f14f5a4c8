from __future__ import annotations

from django.db import models
from django.utils.functional import cached_property

from scoring.tasktypes import key_scales, with_scales


class Evaluation(models.Model):
    """Scores of one submission on one split of one task, with everything needed to reproduce
    them (provenance)."""

    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="evaluations"
    )
    task = models.ForeignKey("benchmarks.Task", on_delete=models.CASCADE, related_name="+")
    split = models.ForeignKey(
        "benchmarks.Split", on_delete=models.CASCADE, related_name="evaluations"
    )
    # {"accuracy": {"value": 0.71, "ci": [0.66, 0.75]}, ...}; a value may be null (undefined).
    metrics = models.JSONField(default=dict)
    # [{"slice": "topic", "cell": "billing", "n": 42, "metrics": {...}}, ...], unsuppressed:
    # suppression for hidden splits is applied when shown, so a rule change needs no rescoring.
    slices = models.JSONField(default=list, blank=True)
    confusion = models.JSONField(null=True, blank=True)
    efficiency = models.JSONField(null=True, blank=True)
    provenance = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["task", "split"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "split"], name="evaluation_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.submission_id} on {self.split}"

    @cached_property
    def display_metrics(self) -> dict:
        """The metric entries with the display scale of each (from the task's metric specs)."""
        return with_scales(self.metrics, key_scales(self.task.metrics))

    def value(self, key: str) -> float | None:
        entry = self.metrics.get(key)
        return None if entry is None else entry.get("value")
