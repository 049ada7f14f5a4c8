"""One split's data checked outside a bundle, by the same code as a bundle's splits: a file an
author uploads in the admin, and the stored splits of a task whose fields an author changes.
Messages name the split (`split dev: ...`) instead of a key path."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from benchmarks.bundles.errors import BundleError
from benchmarks.bundles.files import TableLimitError, TableReadError, table_read
from benchmarks.bundles.limits import BundleLimits, DecodedBudget, bundle_limits
from benchmarks.bundles.loader import read_error_text, string_columns
from benchmarks.bundles.spec import DATA_SUFFIXES
from benchmarks.bundles.tables import FrozenSplit, SplitChecker, fingerprint, parquet_bytes


def split_file_freeze(
    path: Path,
    *,
    task: dict,
    split: dict,
    other_ids: dict[str, pa.ChunkedArray] | None = None,
    limits: BundleLimits | None = None,
) -> FrozenSplit:
    """The data file at `path` (CSV, JSONL or Parquet, optionally .gz; the suffix decides)
    checked and frozen as split `split` (name, role) of `task` (a normalised task spec: type,
    columns, slices). `other_ids` holds the ids of the task's other splits, since ids are unique
    across a task's splits. Raises BundleError listing every problem found."""
    name = path.name
    if not name.lower().removesuffix(".gz").endswith(DATA_SUFFIXES):
        raise BundleError(
            f"expected a .csv, .jsonl or .parquet file (optionally .gz), got '{name}'"
        )
    limits = limits or bundle_limits()
    budget = DecodedBudget(limits.max_decoded_bytes)
    hidden = split["role"] == "hidden"
    try:
        table = table_read(path, string_columns=string_columns(task), limits=limits, budget=budget)
    except TableLimitError as exc:
        raise BundleError(f"'{name}' {exc}") from None
    except TableReadError as exc:
        raise BundleError(
            f"cannot read '{name}': {read_error_text(str(exc), hidden=hidden)}"
        ) from None
    checker = SplitChecker(task, "", None, budget)
    checker.ids_by_split.update(other_ids or {})
    frozen = _freeze(checker, table, split)
    checker.duplicate_ids()
    if checker.errors or frozen is None:
        raise BundleError(checker.errors)
    data = parquet_bytes(frozen)
    return FrozenSplit(
        task=task["slug"],
        name=split["name"],
        parquet=data,
        fingerprint=fingerprint(data),
        num_rows=frozen.num_rows,
        source=name,
    )


def stored_splits_check(task: dict, splits: list[tuple[dict, pa.Table]]) -> list[str]:
    """What an import would refuse in a task's frozen splits (each a split spec with its table)
    under the task spec `task`, e.g. after an author renamed a label or added a metadata
    column: the messages, none when they all pass."""
    checker = SplitChecker(task, "", None)
    for split, table in splits:
        _freeze(checker, table, split)
    checker.duplicate_ids()
    return checker.errors


def _freeze(checker: SplitChecker, table: pa.Table, split: dict) -> pa.Table | None:
    try:
        return checker.freeze(table, split)
    except pa.ArrowException as exc:  # a type the checks do not expect (a cast that fails)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        detail = read_error_text(first, hidden=split["role"] == "hidden")
        checker.error(split["name"], f"cannot check the split's columns: {detail}")
        return None
