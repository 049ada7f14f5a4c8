"""Split data: checking tables (read by `files`) against the task's columns, and freezing them
into the canonical Parquet the platform scores from.

A frozen split has exactly the columns [id, *inputs, label, *metadata] under the bundle's names,
ids as strings and classification labels as names. Freezing a frozen file gives back the same
bytes, which is what lets an exported bundle import with the same fingerprints.

Messages about hidden splits never show a label value: only counts and column names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.bundles.checks import listing
from benchmarks.bundles.limits import DecodedBudget, megabytes
from scoring.tasktypes import (
    CLASSIFICATION_TYPES,
    IMAGE_CLASSIFICATION,
    QUESTION_ANSWERING,
    REGRESSION,
    TEXT_GENERATION,
    TOKEN_CLASSIFICATION,
)

TEXT_INPUT_TYPES = frozenset({"text-classification", QUESTION_ANSWERING, TEXT_GENERATION})
EXAMPLES = 5


@dataclass(frozen=True)
class FrozenSplit:
    """One split ready to store: its Parquet bytes and where they came from."""

    task: str
    name: str
    parquet: bytes
    fingerprint: str
    num_rows: int
    source: str
    hub_repo_id: str = ""
    hub_revision: str = ""
    hub_commit: str = ""


def parquet_bytes(table: pa.Table) -> bytes:
    """Canonical Parquet encoding: fixed writer options, no schema metadata, one chunk per
    column, so that equal tables give equal bytes."""
    table = pa.table({name: table.column(name).combine_chunks() for name in table.column_names})
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        version="2.6",
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        data_page_version="1.0",
        row_group_size=1 << 20,
    )
    return sink.getvalue().to_pybytes()


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plain_type(t: pa.DataType) -> pa.DataType:
    """The same type without large/dictionary/view variants, so that every source freezes to
    one schema."""
    if pa.types.is_dictionary(t):
        return _plain_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_type(t.value_type))
    return t


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    target = _plain_type(column.type)
    return column if target == column.type else column.cast(target)


def _examples(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:EXAMPLES])
    return f"{shown}{', ...' if len(values) > EXAMPLES else ''}"


class SplitChecker:
    """Checks and freezes the splits of one task. `errors` collects messages, each starting with
    the split's key path."""

    def __init__(
        self, task: dict, task_path: str, root: Path | None, budget: DecodedBudget | None = None
    ):
        self.task = task
        self.task_path = task_path
        self.root = root
        # Image files are read into the frozen split: they count against the decoded size.
        self.budget = budget or DecodedBudget(1 << 62)
        self.columns = task["columns"]
        self.errors: list[str] = []
        # Each split's ids, kept even when the split has other errors so that duplicates are
        # reported in the same pass.
        self.ids_by_split: dict[str, pa.ChunkedArray] = {}

    def error(self, split: str, message: str) -> None:
        # Without a task path: one split checked outside a bundle (the admin's upload).
        where = f"{self.task_path}.data.splits.{split}" if self.task_path else f"split {split}"
        self.errors.append(f"{where}: {message}")

    def freeze(self, table: pa.Table, split: dict) -> pa.Table | None:
        """The frozen table of one split, or None (with errors recorded)."""
        name, hidden = split["name"], split["role"] == "hidden"
        cols = self.columns
        before = len(self.errors)
        present = set(table.column_names)
        for role, column in [
            ("id", cols["id"]),
            *[("input", c) for c in cols["inputs"]],
            *[("metadata", c) for c in cols["metadata"]],
        ]:
            if column not in present:
                self.error(
                    name,
                    f"{role} column '{column}' missing in split {name} (columns: "
                    f"{', '.join(table.column_names)})",
                )
        if cols["label"] not in present:
            self.error(
                name,
                f"label column '{cols['label']}' missing in split {name} "
                f"(columns: {', '.join(table.column_names)})",
            )
        if table.num_rows == 0:
            self.error(name, f"split {name} has no rows")
        if len(self.errors) > before:
            if cols["id"] in present:
                self.ids(table.column(cols["id"]), name)  # for the duplicate check
            return None
        frozen = {cols["id"]: self.ids(table.column(cols["id"]), name)}
        for column in cols["inputs"]:
            frozen[column] = self.input(table.column(column), column, name)
        frozen[cols["label"]] = self.label(table.column(cols["label"]), name, hidden)
        for column in cols["metadata"]:
            frozen[column] = _plain(table.column(column))
        if len(self.errors) > before:
            return None
        result = pa.table(frozen)
        self.slice_columns(result, name)
        return result if len(self.errors) == before else None

    def ids(self, column: pa.ChunkedArray, split: str) -> pa.ChunkedArray | None:
        column = _plain(column)
        try:
            ids = column if pa.types.is_string(column.type) else column.cast(pa.string())
        except pa.ArrowException:
            self.error(
                split,
                f"id column '{self.columns['id']}' must hold strings or integers, "
                f"got {column.type}",
            )
            return None
        non_empty = pc.fill_null(pc.not_equal(ids, ""), False)
        self.ids_by_split[split] = ids.filter(non_empty)
        empty = len(ids) - (pc.sum(non_empty).as_py() or 0)
        if empty:
            self.error(split, f"{empty} rows have an empty id in column '{self.columns['id']}'")
            return None
        return ids

    def input(self, column: pa.ChunkedArray, name: str, split: str) -> pa.ChunkedArray | None:
        column = _plain(column)
        task_type = self.task["type"]
        if task_type in TEXT_INPUT_TYPES and not pa.types.is_string(column.type):
            if (
                pa.types.is_null(column.type)
                or pa.types.is_integer(column.type)
                or (pa.types.is_floating(column.type))
            ):
                return column.cast(pa.string())
            self.error(split, f"input column '{name}' must hold text, got {column.type}")
        if task_type == TOKEN_CLASSIFICATION and not _is_list_of(column.type, pa.types.is_string):
            self.error(
                split,
                f"input column '{name}' must hold lists of tokens (strings), got {column.type}",
            )
        if task_type == IMAGE_CLASSIFICATION:
            return self.images(column, name, split)
        return column

    def images(self, column: pa.ChunkedArray, name: str, split: str) -> pa.ChunkedArray | None:
        """Images are frozen as bytes: a path into the bundle is read, an {bytes, path} struct
        (the Hub's Image feature) keeps its bytes."""
        t = column.type
        if pa.types.is_binary(t):
            return column
        if pa.types.is_struct(t) and t.get_field_index("bytes") >= 0:
            return _plain(pc.struct_field(column, "bytes"))
        if not pa.types.is_string(t) or self.root is None:
            self.error(
                split, f"image column '{name}' must hold paths in the bundle or bytes, got {t}"
            )
            return None
        root = self.root.resolve()
        files, missing = [], []
        for rel in column.to_pylist():
            try:
                full = (root / (rel or "")).resolve()
                found = bool(rel) and full.is_relative_to(root) and full.is_file()
            except (OSError, ValueError):  # a name too long, a NUL character
                found = False
            if found:
                files.append(full)
            else:
                missing.append(rel)
        if missing:
            self.error(
                split,
                f"{len(missing)} image paths in column '{name}' are not files in "
                f"the bundle, e.g. {_examples(missing)}",
            )
            return None
        # Sizes first: a million rows may name one large file.
        size = sum(file.stat().st_size for file in files)
        if size > self.budget.left:
            self.error(
                split,
                f"image column '{name}' names {megabytes(size)} of files, more than "
                f"{self.budget.room()}",
            )
            return None
        self.budget.take(size)
        return pa.chunked_array([pa.array([file.read_bytes() for file in files], pa.binary())])

    def label(self, column: pa.ChunkedArray, split: str, hidden: bool) -> pa.ChunkedArray | None:
        column = _plain(column)
        task_type, label = self.task["type"], self.columns["label"]
        if column.null_count:
            self.error(split, f"{column.null_count} rows have an empty label in column '{label}'")
            return None
        if task_type in CLASSIFICATION_TYPES:
            return self.label_names(column, split, hidden)
        if task_type == TOKEN_CLASSIFICATION:
            if not pa.types.is_list(column.type):
                self.error(
                    split, f"label column '{label}' must hold lists of tags, got {column.type}"
                )
                return None
            if not self.columns["labels"]:
                return column
            flat = pc.list_flatten(column)
            names = self.label_names(pa.chunked_array([flat]), split, hidden)
            if names is None:
                return None
            offsets = pc.list_value_length(column)
            return pa.chunked_array([_relist(names.combine_chunks(), offsets)])
        if task_type == QUESTION_ANSWERING:
            if pa.types.is_struct(column.type) and column.type.get_field_index("text") >= 0:
                # SQuAD-style {text: [...], answer_start: [...]}: the texts are the answers.
                column = _plain(pc.struct_field(column, "text"))
            if not _is_list_of(column.type, pa.types.is_string):
                self.error(
                    split,
                    f"label column '{label}' must hold lists of answer strings, got {column.type}",
                )
                return None
            return column
        if task_type == REGRESSION:
            if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
                self.error(split, f"label column '{label}' must hold numbers, got {column.type}")
                return None
            return column.cast(pa.float64())
        if task_type == TEXT_GENERATION and not (
            pa.types.is_string(column.type) or _is_list_of(column.type, pa.types.is_string)
        ):
            self.error(
                split,
                f"label column '{label}' must hold reference texts (a string "
                f"or a list of strings), got {column.type}",
            )
            return None
        return column

    def label_names(
        self, column: pa.ChunkedArray, split: str, hidden: bool
    ) -> pa.ChunkedArray | None:
        """Labels as names. Integers index `labels` (unless the names themselves are integers,
        as in star ratings ["1", ..., "5"]: then they match by name)."""
        names = self.columns["labels"]
        label = self.columns["label"]
        t = column.type
        if pa.types.is_floating(t):
            integral = pc.all(pc.equal(pc.floor(column), column)).as_py()
            if integral is not False:
                column, t = column.cast(pa.int64()), pa.int64()
        names_are_ints = all(n.lstrip("-").isdigit() for n in names)
        if pa.types.is_integer(t) and not names_are_ints:
            in_range = pc.fill_null(
                pc.and_(pc.greater_equal(column, 0), pc.less(column, len(names))), False
            )
            taken = pc.take(pa.array(names, pa.string()), pc.if_else(in_range, column, 0))
            result = pc.if_else(in_range, taken, pa.scalar(None, pa.string()))
        elif pa.types.is_string(t) or pa.types.is_integer(t):
            text = column.cast(pa.string())
            known = pc.fill_null(pc.is_in(text, value_set=pa.array(names, pa.string())), False)
            result = pc.if_else(known, text, pa.scalar(None, pa.string()))
        else:
            self.error(
                split,
                f"label column '{label}' must hold label names or integer "
                f"indices into columns.labels, got {t}",
            )
            return None
        unknown = result.null_count
        if not unknown:
            return result
        if hidden:
            self.error(
                split,
                f"{unknown} rows have a label that is not one of columns.labels "
                f"(values not shown: the split is hidden)",
            )
        else:
            bad = pc.filter(column, pc.is_null(result))
            values = pc.unique(bad).to_pylist()
            self.error(
                split,
                f"unknown label values {_examples(values)} in {unknown} rows; "
                f"expected one of {listing(names)} or an index 0–{len(names) - 1}",
            )
        return None

    def slice_columns(self, table: pa.Table, split: str) -> None:
        for spec in self.task["slices"]:
            t = table.column(spec["column"]).type
            measure = spec.get("measure")
            if (spec.get("pattern") or measure in ("words", "chars")) and not (
                pa.types.is_string(t)
            ):
                self.error(
                    split,
                    f"slice '{spec['name']}' needs text in column '{spec['column']}', got {t}",
                )
            if measure == "value" and not (pa.types.is_integer(t) or pa.types.is_floating(t)):
                self.error(
                    split,
                    f"slice '{spec['name']}' needs numbers in column '{spec['column']}', got {t}",
                )

    def duplicate_ids(self) -> None:
        """Ids must be unique across all splits of the task. Ids are not labels, so a few are
        shown even for hidden splits."""
        seen: dict[str, str] = {}
        for name, ids in self.ids_by_split.items():
            counts = pc.value_counts(ids.combine_chunks())
            repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
            if len(repeated):
                self.error(
                    name,
                    f"{len(repeated)} ids occur more than once in split {name}, "
                    f"e.g. {_examples(repeated.to_pylist())}",
                )
            elsewhere: dict[str, list[str]] = {}
            for value in pc.unique(ids.combine_chunks()).to_pylist():
                if value in seen:
                    elsewhere.setdefault(seen[value], []).append(value)
                else:
                    seen[value] = name
            for other, values in elsewhere.items():
                self.error(
                    name,
                    f"{len(values)} ids of split {name} also occur in split "
                    f"{other} (ids must be unique across a task's splits), e.g. "
                    f"{_examples(values)}",
                )


def _is_list_of(t: pa.DataType, predicate) -> bool:
    return pa.types.is_list(t) and predicate(t.value_type)


def _relist(values: pa.Array, lengths: pa.ChunkedArray) -> pa.Array:
    lengths = pc.fill_null(lengths.combine_chunks(), 0).cast(pa.int32())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
    return pa.ListArray.from_arrays(offsets, values)
