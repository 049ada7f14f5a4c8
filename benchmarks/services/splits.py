"""Split data changed in the admin, checked by the bundle's code (docs/authors.md): an uploaded
file is frozen as a bundle's split would be, and a task's stored splits are checked again when
its fields change, so that the admin never stores what an import would refuse."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.bundles import FrozenSplit, split_file_freeze, stored_splits_check
from benchmarks.models import Split, Task


def split_upload_freeze(
    *, task: Task, split: dict, upload, exclude: int | None = None
) -> FrozenSplit:
    """The uploaded file `upload` (a Django file with a name) checked and frozen as split
    `split` (name, role) of `task`, its ids checked against the task's other stored splits
    (all but the split `exclude`, the one it replaces). Raises BundleError."""
    if task.pk is None:  # a task added together with its splits
        others = []
    else:
        others = task.splits.exclude(pk=exclude) if exclude else task.splits.all()
    other_ids = {}
    for other in others:
        table = _table(other)
        if task.id_column in table.column_names:  # else the task check reports it
            other_ids[other.name] = table.column(task.id_column)
    # The reader picks the format by the file's suffix, so the copy keeps the uploaded name.
    name = Path(upload.name or "upload").name
    with tempfile.TemporaryDirectory(prefix="split-upload-") as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        return split_file_freeze(path, task=task.spec(), split=split, other_ids=other_ids)


def task_data_problems(
    *, task: Task, spec: dict, exclude: frozenset[int] | set[int] = frozenset()
) -> list[str]:
    """What an import would refuse in `task`'s stored splits under the task fields `spec` (a
    normalised task spec, as `Task.spec()` gives), leaving out the splits `exclude` (replaced
    or deleted in the same save): none when they all pass."""
    stored = task.splits.exclude(pk__in=exclude)
    splits = [({"name": s.name, "role": s.role}, _table(s)) for s in stored if s.data]
    return stored_splits_check(spec, splits) if splits else []


def _table(split: Split) -> pa.Table:
    with split.data.open("rb") as f:
        return pq.read_table(f)
