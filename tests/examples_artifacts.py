"""Per-example artifacts (`Evaluation.examples`) built by tests, in the pipeline's format: one
row per gold row in gold order, `id`, `prediction`, `score`, `correct`, `cell:<slice>`."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.base import ContentFile

from submissions.models import Evaluation
from tests.base import parquet_bytes


def examples_table(
    ids: list[str],
    predictions: list,
    scores: list[float | None],
    correct: list[bool | None] | None = None,
    cells: dict[str, list[str]] | None = None,
    prediction_type: pa.DataType | None = None,
) -> pa.Table:
    n = len(ids)
    columns = {
        "id": pa.array(ids, pa.string()),
        "prediction": pa.array(predictions, prediction_type),
        "score": pa.array(scores, pa.float64()),
        "correct": pa.array(correct if correct is not None else [None] * n, pa.bool_()),
    }
    for name, values in (cells or {}).items():
        columns[f"cell:{name}"] = pa.array(values, pa.string())
    return pa.table(columns)


def attach_examples(evaluation: Evaluation, table: pa.Table, name: str = "examples") -> None:
    evaluation.examples.save(f"{name}-{evaluation.pk}.parquet", ContentFile(parquet_bytes(table)))


def classification_examples(
    gold: list[dict], wrong: set[str], labels: list[str], *, slices: tuple[str, ...] = ("topic",)
) -> pa.Table:
    """Predictions equal to each row's gold label except the ids in `wrong` (the next label),
    with the cells the pipeline writes: author slices, gold label, predicted label."""
    predictions = [
        labels[(labels.index(r["label"]) + 1) % len(labels)] if r["id"] in wrong else r["label"]
        for r in gold
    ]
    correct = [r["id"] not in wrong for r in gold]
    cells = {name: [str(r[name]) for r in gold] for name in slices}
    cells["gold label"] = [r["label"] for r in gold]
    cells["predicted label"] = predictions
    return examples_table(
        [r["id"] for r in gold],
        predictions,
        [1.0 if c else 0.0 for c in correct],
        correct,
        cells,
        pa.string(),
    )


def attach_gold_examples(evaluation: Evaluation, *, slices: tuple[str, ...] = ("topic",)) -> None:
    """Examples predicting every row of a classification split right (the split's own rows)."""
    with evaluation.split.data.open("rb") as f:
        rows = pq.read_table(f).to_pylist()
    labels = [str(n) for n in evaluation.task.label_names]
    attach_examples(evaluation, classification_examples(rows, set(), labels, slices=slices))
