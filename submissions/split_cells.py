"""A split's slice cells, kept beside it: which cell of every slice each gold row is in depends
on the frozen rows and the task's slice definition only, so they are measured once per split
and definition (by the first scoring, which at publication is the baselines') and stored in the
split's private storage; a worker that has not measured them yet reads them there
(`scoring.evaluation.gold_partitions_seed`). The file holds what the gold rows are (a row's gold
label cell names its label): it sits with the gold data and is never served."""

from __future__ import annotations

import hashlib
import logging
import zipfile

import pyarrow as pa
from django.core.files.base import ContentFile

from benchmarks.models import Split
from scoring.evaluation import (
    gold_partitions,
    gold_partitions_known,
    gold_partitions_seed,
    partitions_dump,
    partitions_key,
    partitions_load,
)
from submissions.uploads import split_table

logger = logging.getLogger(__name__)


def cells_name(split: Split, task_spec: dict) -> str:
    digest = hashlib.sha256(partitions_key(task_spec).encode()).hexdigest()[:16]
    return f"cells/{split.fingerprint[:16]}-{digest}.npz"


def split_cells_ensure(
    split: Split, task_spec: dict, gold: pa.Table, *, stored: bool = False
) -> None:
    """Make the slice cells of `gold` (the split's table) known to scoring: already measured in
    this process, else read from the split's storage, else measured now and stored. A file that
    cannot be read or written is logged by its type and the cells are measured. With `stored`,
    cells this process knows are stored too if the split's storage lacks them."""
    known = gold_partitions_known(task_spec, gold)
    if known and not stored:
        return
    storage, name = split.data.storage, cells_name(split, task_spec)
    try:
        if not known and storage.exists(name):
            with storage.open(name, "rb") as f:
                gold_partitions_seed(task_spec, gold, partitions_load(f.read()))
            return
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        logger.warning("Could not read the cells of split %s (%s).", split.pk, type(exc).__name__)
        storage.delete(name)  # measured again below, and stored afresh
    partitions = gold_partitions(task_spec, gold, automatic=True)
    try:
        if not storage.exists(name):
            storage.save(name, ContentFile(partitions_dump(partitions)))
    except (OSError, TypeError, ValueError) as exc:
        logger.warning("Could not store the cells of split %s (%s).", split.pk, type(exc).__name__)


def benchmark_cells_store(*, benchmark) -> None:
    """At publication (a `BENCHMARK_PUBLISHED_HOOKS` entry): the cells of every scored split
    measured and stored before any scoring, so that no submission pays for them. A split whose
    cells cannot be measured is logged by type; scoring measures them then."""
    for task in benchmark.tasks.all():
        spec = task.spec()
        for split in task.scored_splits:
            try:
                split_cells_ensure(split, spec, split_table(split), stored=True)
            except Exception as exc:  # noqa: BLE001 - publication has succeeded regardless
                logger.warning(
                    "Could not measure the cells of split %s (%s).", split.pk, type(exc).__name__
                )
