"""Per-example comparison of submissions on a public split: wins, ties, losses, disagreements.

`PerExample` holds the compared submissions' per-example results aligned to the split's rows.
It counts, for each pair of submissions, the rows one scores better than the other, the same
or worse (`scoring.compare.win_tie_loss`; lower is better for regression's errors), and finds
the rows where some submission's prediction or correctness differs from the first's, paged
like the error browser. Only ever built for public splits (`Comparison.per_example`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring.tasktypes import REGRESSION
from submissions.analysis.bootstrap import compare_module
from submissions.analysis.browser import PAGE_SIZE
from submissions.analysis.examples import Examples, SplitRows, _is_list, example_rows
from submissions.selectors import SelectionError

if TYPE_CHECKING:
    from submissions.analysis.comparisons import Comparison


def _comparable(array: pa.Array | None, n: int) -> pa.Array:
    """A prediction column as values that compare with `!=` (lists joined), nulls marked."""
    if array is None:
        return pa.nulls(n, pa.string())
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if _is_list(array.type):
        array = pc.binary_join(pc.cast(array, pa.list_(pa.string())), "\x1f")
    return array


def _differs(a: pa.Array, b: pa.Array) -> np.ndarray:
    unequal = pc.fill_null(pc.not_equal(a, b), False)
    one_null = pc.xor(pc.is_null(a), pc.is_null(b))
    return np.asarray(pc.or_(unequal, one_null).to_numpy(zero_copy_only=False))


@dataclass
class PerExample:
    comparison: Comparison
    rows: SplitRows
    examples: list[Examples]
    reason: str

    @cached_property
    def win_tie_loss(self) -> list[dict]:
        if not self.examples:
            return []
        compare = compare_module()
        lower = self.comparison.task.type == REGRESSION
        subs = self.comparison.submissions
        out = []
        for i in range(len(subs)):
            for j in range(i + 1, len(subs)):
                counts = compare.win_tie_loss(
                    self.examples[i].score, self.examples[j].score, lower_is_better=lower
                )
                out.append(
                    {
                        "a": subs[i].pk,
                        "b": subs[j].pk,
                        "a_name": subs[i].display_name,
                        "b_name": subs[j].display_name,
                        **{k: int(v) for k, v in counts.items()},
                    }
                )
        return out

    @cached_property
    def disagreeing(self) -> np.ndarray:
        """Positions (gold order) where some submission's prediction or correctness differs
        from the first's."""
        if not self.examples:
            return np.zeros(0, dtype=np.int64)
        n = len(self.rows.ids)
        first = self.examples[0]
        base_prediction = _comparable(first.prediction, n)
        mask = np.zeros(n, dtype=bool)
        for other in self.examples[1:]:
            mask |= _differs(base_prediction, _comparable(other.prediction, n))
            both = pc.and_(pc.is_valid(first.correct), pc.is_valid(other.correct))
            flipped = pc.and_kleene(both, pc.not_equal(first.correct, other.correct))
            mask |= np.asarray(pc.fill_null(flipped, False).to_numpy(zero_copy_only=False))
        return np.flatnonzero(mask)

    def page(self, number: int, *, image_url=None) -> dict:
        selected = self.disagreeing
        count = len(selected)
        pages = max(1, math.ceil(count / PAGE_SIZE))
        if number > pages:
            raise SelectionError(f"Page {number} is past the last page ({pages}).", status_code=404)
        positions = selected[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        per_submission = example_rows(self.rows, self.examples, positions, image_url=image_url)
        rows = []
        for i, base in enumerate(per_submission[0]):
            rows.append(
                {
                    "id": base["id"],
                    "inputs": base["inputs"],
                    "gold": base["gold"],
                    "predictions": [
                        {
                            "submission": s.pk,
                            "prediction": per_submission[k][i]["prediction"],
                            "score": per_submission[k][i]["score"],
                            "correct": per_submission[k][i]["correct"],
                        }
                        for k, s in enumerate(self.comparison.submissions)
                    ],
                }
            )
        return {
            "count": count,
            "page": number,
            "pages": pages,
            "has_next": number < pages,
            "rows": rows,
        }
