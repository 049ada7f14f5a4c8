"""Scoring one split: align checked predictions with the gold table, compute every metric, its
bootstrap interval, the slice breakdowns and (for classification) the confusion matrix.

Pure: no Django. The result is plain JSON-serialisable data (floats, None for undefined).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import platform
import weakref
from importlib import metadata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring import tasktypes
from scoring.autoslices import PREDICTED_LABEL, SKIPPED, automatic_partitions
from scoring.bootstrap import RESAMPLES
from scoring.intervals import cell_intervals, interval_bases
from scoring.joint import Crossing, crossings
from scoring.metrics.base import CombinedScorer, Scorer
from scoring.metrics.bleu import BleuScorer, ChrfScorer
from scoring.metrics.classification import ClassificationScorer
from scoring.metrics.regression import RegressionScorer
from scoring.metrics.rouge import RougeScorer
from scoring.metrics.squad import SquadScorer
from scoring.metrics.tagging import SeqevalScorer
from scoring.predictions import PredictionFileError, as_array, raise_row_errors, same_ids
from scoring.slices import slice_cells

LIBRARIES = ("numpy", "pyarrow", "scipy", "scikit-learn", "evaluate", "sacrebleu", "rouge-score")


def metric_specs(task_spec: dict) -> list[dict]:
    """The task's metric specs as dicts, or its type's defaults."""
    specs = task_spec.get("metrics") or tasktypes.TASK_TYPES[task_spec["type"]].default_metrics
    return [tasktypes.normalize_metric_spec(spec) for spec in specs]


def align_predictions(gold_ids: pa.Array, predictions: pa.Table) -> pa.Array:
    """The prediction column reordered to the gold ids' order (predictions may hold ids of other
    splits). Raises PredictionFileError if a gold id has no prediction."""
    pred_ids = as_array(predictions["id"])
    if same_ids(pred_ids, gold_ids):
        # check_predictions returns rows in gold order: the usual case costs no hash lookup.
        return as_array(predictions["prediction"])
    positions = pc.index_in(gold_ids, value_set=pred_ids)
    missing = positions.null_count
    if missing:
        examples = gold_ids.filter(pc.is_null(positions)).to_pylist()[:5]
        raise PredictionFileError(
            f"{missing} ids of the split have no prediction, e.g. {', '.join(examples)}."
        )
    return pc.take(as_array(predictions["prediction"]), positions)


def _string_ids(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    column = as_array(column)
    return column if pa.types.is_string(column.type) else pc.cast(column, pa.string())


def _label_codes(values: pa.Array, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer codes of label names (or pass-through indices); gold values outside the label list
    become extra classes rather than an error, so a stray gold value cannot crash scoring."""
    if pa.types.is_integer(values.type):
        return np.asarray(values, dtype=np.int64), labels
    if pa.types.is_dictionary(values.type):
        # Checked predictions come dictionary-encoded: each distinct value is looked up once.
        value_codes, labels = _label_codes(values.dictionary, labels)
        indices = values.indices
        if indices.null_count:
            indices = pc.fill_null(indices, -1)  # picks the -1 appended below
        return np.append(value_codes, -1)[np.asarray(indices)], labels
    values = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    codes = pc.index_in(values, value_set=pa.array(labels, pa.string()))
    if codes.null_count:
        extra = sorted(set(values.filter(pc.is_null(codes)).unique().to_pylist()) - {None})
        labels = labels + [str(e) for e in extra]
        codes = pc.index_in(values, value_set=pa.array(labels, pa.string()))
    if codes.null_count:
        codes = pc.fill_null(codes, -1)
    return np.asarray(codes).astype(np.int64), labels


def build_scorer(
    task_spec: dict, specs: list[dict], gold: pa.Table, prediction: pa.Array
) -> Scorer:
    """The task type's scorer for aligned gold rows and predictions."""
    task_type = task_spec["type"]
    columns = task_spec["columns"]
    label = as_array(gold[columns["label"]])
    if task_type in tasktypes.CLASSIFICATION_TYPES:
        labels = [str(name) for name in columns["labels"]]
        true_codes, labels = _label_codes(label, labels)
        pred_codes, _ = _label_codes(prediction, labels)
        if (true_codes < 0).any():
            raise ValueError("the gold table has rows without a label")
        if (pred_codes < 0).any() or (pred_codes >= len(labels)).any():
            raise PredictionFileError("Some predictions are not label names of the task.")
        return ClassificationScorer(specs, labels, true_codes, pred_codes)
    if task_type == tasktypes.TOKEN_CLASSIFICATION:
        check_tag_lengths(gold[columns["id"]], label, prediction)
        return SeqevalScorer(specs[0], prediction.to_pylist(), label.to_pylist())
    if task_type == tasktypes.QUESTION_ANSWERING:
        answers = [[a] if isinstance(a, str) else (a or []) for a in label.to_pylist()]
        return SquadScorer(specs[0], _texts(prediction), answers)
    if task_type == tasktypes.TEXT_GENERATION:
        refs = [r if r is not None else "" for r in label.to_pylist()]
        preds = _texts(prediction)
        makers = {"rouge": RougeScorer, "bleu": BleuScorer, "chrf": ChrfScorer}
        return CombinedScorer([makers[spec["name"]](spec, preds, refs) for spec in specs])
    if task_type == tasktypes.REGRESSION:
        pred = np.asarray(pc.cast(prediction, pa.float64()), dtype=np.float64)
        ref = np.asarray(pc.fill_null(pc.cast(label, pa.float64()), np.nan), dtype=np.float64)
        if np.isnan(ref).any():
            raise ValueError("the gold table has rows without a value")
        return RegressionScorer(specs, pred, ref)
    raise ValueError(f"unknown task type {task_type!r}")


def _texts(array: pa.Array) -> list[str]:
    return [t if t is not None else "" for t in array.to_pylist()]


def check_tag_lengths(ids: pa.ChunkedArray | pa.Array, gold_tags: pa.Array, tags: pa.Array) -> None:
    """Raise PredictionFileError for rows whose tag list is not as long as the gold token list.
    The message gives lengths only: they are lengths of the inputs, not labels."""
    want = np.asarray(pc.fill_null(pc.list_value_length(gold_tags), 0), dtype=np.int64)
    got = np.asarray(pc.fill_null(pc.list_value_length(tags), 0), dtype=np.int64)
    bad = np.flatnonzero(want != got)
    if len(bad):
        ids = _string_ids(ids)
        shown = [
            f"row id {ids[int(i)].as_py()}: {got[i]} tags for {want[i]} tokens" for i in bad[:5]
        ]
        raise_row_errors(shown, len(bad))


@functools.cache
def _installed_versions() -> dict[str, str]:
    # Reading package metadata costs tens of milliseconds, and it cannot change while we run.
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def library_versions() -> dict[str, str]:
    return dict(_installed_versions())  # a copy: callers may change theirs


def score_split(
    task_spec: dict,
    gold: pa.Table,
    predictions: pa.Table,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    automatic: bool = True,
    examples: bool = False,
) -> dict:
    """Score one split. `predictions` is the output of `check_predictions`; `gold` the split's
    frozen table. Returns {"metrics", "slices", "confusion", "provenance"} (see docs/formats.md),
    and with `examples` also "examples", a table of one row per gold row (`example_table`).

    Slices are the author's, then (with `automatic`) the automatic ones of
    `scoring.autoslices` (cells marked `auto`), the predicted label for classification
    (`by_prediction`) and the entity types for token classification (`unit: entities`).
    Automatic slices that cannot be computed on this table are skipped."""
    gold_ids = _string_ids(gold[task_spec["columns"]["id"]])
    prediction = align_predictions(gold_ids, predictions)
    specs = metric_specs(task_spec)
    scorer = build_scorer(task_spec, specs, gold, prediction)

    values = scorer.values()
    intervals = scorer.intervals(resamples, seed) if gold.num_rows else {}
    metrics = {
        key: {"value": value, "ci": intervals.get(key) if value is not None else None}
        for key, value in values.items()
    }

    partitions = gold_partitions(task_spec, gold, automatic=automatic)
    if isinstance(scorer, ClassificationScorer) and partitions:
        # Every slice's cells counted in one pass over the rows (`scoring.joint`).
        scorer.count_crossed(gold_crossings(task_spec, gold, automatic=automatic))
    if automatic:
        partitions = partitions + _by_prediction(task_spec, partitions, scorer)
    slices = []
    bases = interval_bases(scorer.row_means()) if partitions else {}
    for slice_spec, codes, names in partitions:
        flags = {k: slice_spec[k] for k in ("auto", "by_prediction") if slice_spec.get(k)}
        if slice_spec.get("unit") == "entities":
            if not isinstance(scorer, SeqevalScorer):
                continue
            for name, n, cell, cis in scorer.entity_type_cells():
                slices.append(
                    _cell(slice_spec["name"], name, n, cell, {**flags, "unit": "entities"}, cis)
                )
            continue
        sizes = scorer.cell_sizes(codes, len(names))
        cells = scorer.cell_values(codes, len(names))
        intervals = cell_intervals(bases, codes, sizes, cells)
        rest = sorted({key for cell in cells for key in cell} - set(intervals))
        intervals |= scorer.corpus_intervals(
            codes, len(names), cells, rest, resamples=resamples, seed=seed
        )
        for index, name in enumerate(names):
            if sizes[index] == 0:
                continue  # an empty bin says nothing; listing it would only trip suppression
            cis = {key: bounds[index] for key, bounds in intervals.items()}
            slices.append(
                _cell(slice_spec["name"], name, int(sizes[index]), cells[index], flags, cis)
            )

    result = {
        "metrics": metrics,
        "slices": slices,
        "confusion": scorer.confusion(),
        "provenance": {
            "metrics": {spec["name"]: scorer.versions.get(spec["name"], "") for spec in specs},
            "libraries": library_versions(),
            "resamples": resamples,
            "seed": seed,
        },
    }
    if examples:
        rows = [(s["name"], c, n) for s, c, n in partitions if s.get("unit") != "entities"]
        result["examples"] = example_table(task_spec, gold, gold_ids, prediction, scorer, rows)
    return result


def _cell(
    slice_name: str, name: str, n: int, values: dict, flags: dict, cis: dict | None = None
) -> dict:
    cis = cis or {}
    cell = {
        "slice": slice_name,
        "cell": name,
        "n": n,
        "metrics": {
            k: {"value": v, "ci": cis.get(k) if v is not None else None} for k, v in values.items()
        },
    }
    return {**cell, **flags}


Partition = tuple[dict, np.ndarray, list[str]]
# Per live gold table (by identity: the worker keeps each split's table while it is in use),
# its partitions per slice definition. A slice's cells depend on the gold rows alone, so every
# submission scored on a split after the first reads them instead of measuring the texts again.
# Beside each definition's partitions, under (key, "crossings"), they are crossed
# (`gold_crossings`).
_PARTITIONS: dict[int, dict] = {}


# The way cells are computed: raise it when a slice's cells change for the same rows and spec
# (e.g. new automatic bins), so that cells stored beside splits are measured again.
CELLS_VERSION = 1


def partitions_key(task_spec: dict, *, automatic: bool = True) -> str:
    """What a split's partitions depend on besides its rows: the task's type, columns and
    slices, whether the automatic ones are wanted, and CELLS_VERSION."""
    return json.dumps(
        [
            CELLS_VERSION,
            task_spec["type"],
            task_spec["columns"],
            task_spec.get("slices") or [],
            automatic,
        ],
        sort_keys=True,
        default=str,
    )


def _kept(gold: pa.Table) -> dict:
    table_id = id(gold)
    if table_id not in _PARTITIONS:
        _PARTITIONS[table_id] = {}
        weakref.finalize(gold, _PARTITIONS.pop, table_id, None)
    return _PARTITIONS[table_id]


def gold_partitions_known(task_spec: dict, gold: pa.Table, *, automatic: bool = True) -> bool:
    return partitions_key(task_spec, automatic=automatic) in _PARTITIONS.get(id(gold), {})


def gold_partitions_seed(
    task_spec: dict, gold: pa.Table, partitions: list[Partition], *, automatic: bool = True
) -> None:
    """Keep `partitions` (`partitions_load` of what `gold_partitions` gave for this split and
    definition earlier, e.g. in another process) as `gold`'s: scoring reads them."""
    for _, codes, _ in partitions:
        codes.flags.writeable = False
    key = partitions_key(task_spec, automatic=automatic)
    _kept(gold)[key] = list(partitions)
    _kept(gold).pop((key, "crossings"), None)


def partitions_dump(partitions: list[Partition]) -> bytes:
    """Partitions as one .npz: the cell codes as arrays, the specs and cell names as JSON (no
    pickle). Raises TypeError for a spec that is not JSON."""
    meta = json.dumps([[spec, names] for spec, _, names in partitions]).encode()
    out = io.BytesIO()
    arrays = {f"c{i}": _narrow(codes) for i, (_, codes, _) in enumerate(partitions)}
    np.savez(out, meta=np.frombuffer(meta, dtype=np.uint8), **arrays)
    return out.getvalue()


def _narrow(codes: np.ndarray) -> np.ndarray:
    """Codes in the smallest unsigned type that holds them (a few cells: one byte a row)."""
    codes = np.asarray(codes, dtype=np.int64)
    if len(codes) and codes.min() >= 0:
        return codes.astype(np.min_scalar_type(int(codes.max())))
    return codes


def partitions_load(data: bytes) -> list[Partition]:
    """`partitions_dump`'s partitions back, the codes in the narrow type they were stored in
    (one byte a row for a few cells: widening a million rows costs more than any use of them,
    and every use reads narrow codes alike)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        meta = json.loads(stored["meta"].tobytes())
        return [(spec, stored[f"c{i}"], names) for i, (spec, names) in enumerate(meta)]


def gold_partitions(task_spec: dict, gold: pa.Table, *, automatic: bool) -> list[Partition]:
    """(spec, cell codes, cell names) of the task's slices on `gold`, the author's then (with
    `automatic`) the automatic ones; none of the automatic ones may fail the scoring of a
    valid bundle. Kept while `gold` lives; the codes are read-only."""
    key = partitions_key(task_spec, automatic=automatic)
    known = _kept(gold)
    if key not in known:
        measures: dict = {}  # word counts etc., shared by slices that bin the same column
        found = [
            (slice_spec, *slice_cells(slice_spec, gold, measures=measures))
            for slice_spec in task_spec.get("slices") or []
        ]
        if automatic:
            with contextlib.suppress(*SKIPPED):
                found += automatic_partitions(task_spec, gold, measures=measures)
        for _, codes, _ in found:
            codes.flags.writeable = False
        known[key] = found
    return list(known[key])


def gold_crossings(task_spec: dict, gold: pa.Table, *, automatic: bool) -> list[Crossing]:
    """`gold_partitions`' row partitions crossed (`scoring.joint.crossings`), kept with them."""
    key = partitions_key(task_spec, automatic=automatic)
    known = _kept(gold)
    if (key, "crossings") not in known:
        partitions = gold_partitions(task_spec, gold, automatic=automatic)
        rows = [(c, len(n)) for s, c, n in partitions if s.get("unit") != "entities"]
        known[key, "crossings"] = crossings(rows)
    return known[key, "crossings"]


def _by_prediction(task_spec: dict, partitions: list[Partition], scorer: Scorer) -> list:
    """The predicted label's cells (classification), unless a slice already has its name."""
    taken = {spec.get("name") for spec, _, _ in partitions}
    if isinstance(scorer, ClassificationScorer) and PREDICTED_LABEL not in taken:
        spec = {"name": PREDICTED_LABEL, "auto": True, "by_prediction": True}
        return [(spec, scorer.pred_codes, list(scorer.labels))]
    return []


def example_table(
    task_spec: dict,
    gold: pa.Table,
    gold_ids: pa.Array,
    prediction: pa.Array,
    scorer: Scorer,
    partitions: list[tuple[str, np.ndarray, list[str]]],
) -> pa.Table:
    """One row per gold row, in gold order: `id`, `prediction` (native type, decoded; label
    names for classification), `score` (per-example, float64), `correct` (bool, null where it
    has no meaning) and `cell:<slice>` (the row's cell name) per row partition."""
    score, correct = _example_scores(task_spec, gold, prediction, scorer)
    n = len(gold_ids)
    columns = {
        "id": gold_ids,
        "prediction": _native_prediction(task_spec, prediction, scorer),
        "score": pa.array(np.asarray(score, dtype=np.float64), pa.float64()),
        "correct": pa.array(correct, pa.bool_())
        if correct is not None
        else pa.nulls(n, pa.bool_()),
    }
    for name, codes, names in partitions:
        columns[f"cell:{name}"] = pc.take(pa.array(names, pa.string()), pa.array(codes))
    return pa.table(columns)


def _native_prediction(task_spec: dict, prediction: pa.Array, scorer: Scorer) -> pa.Array:
    if isinstance(scorer, ClassificationScorer):
        return pc.take(pa.array(scorer.labels, pa.string()), pa.array(scorer.pred_codes))
    type_ = prediction.type
    if pa.types.is_dictionary(type_):
        prediction = pc.cast(prediction, type_.value_type)
    elif (pa.types.is_list(type_) or pa.types.is_large_list(type_)) and pa.types.is_dictionary(
        type_.value_type
    ):
        prediction = pc.cast(prediction, pa.list_(type_.value_type.value_type))
    if task_spec["type"] == tasktypes.REGRESSION:
        prediction = pc.cast(prediction, pa.float64())
    return prediction


def _example_scores(
    task_spec: dict, gold: pa.Table, prediction: pa.Array, scorer: Scorer
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-example scores from the scorer's per-row statistics. Generation: ROUGE-L F (0-1)
    when rouge is among the metrics, else sentence chrF (0-100), computed here if chrF is not
    among them either."""
    if not isinstance(scorer, CombinedScorer):
        return scorer.example_scores()
    for kind in (RougeScorer, ChrfScorer):
        for part in scorer.scorers:
            if isinstance(part, kind):
                return part.example_scores()
    refs = [
        r if r is not None else ""
        for r in as_array(gold[task_spec["columns"]["label"]]).to_pylist()
    ]
    return ChrfScorer({}, _texts(prediction), refs).example_scores()
