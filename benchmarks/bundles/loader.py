"""Opening a bundle (folder or zip) and loading it: the validated spec plus every split frozen to
Parquet bytes, all before anything touches the database."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import yaml

from benchmarks.bundles.errors import BundleError
from benchmarks.bundles.files import TableLimitError, TableReadError, table_read
from benchmarks.bundles.hub import hub_table
from benchmarks.bundles.limits import BundleLimits, DecodedBudget, bundle_limits
from benchmarks.bundles.spec import spec_check
from benchmarks.bundles.tables import (
    TEXT_INPUT_TYPES,
    FrozenSplit,
    SplitChecker,
    fingerprint,
    parquet_bytes,
)
from benchmarks.bundles.unzip import zip_unpack
from benchmarks.bundles.yamltext import SPEC_FILENAME, spec_read


@dataclass(frozen=True)
class Bundle:
    """A bundle ready to import: the normalised spec and each split's frozen data, in YAML
    order."""

    spec: dict
    splits: list[FrozenSplit]

    def frozen(self, task: str, split: str) -> FrozenSplit:
        return next(s for s in self.splits if s.task == task and s.name == split)


@contextmanager
def bundle_open(source: Path, *, limits: BundleLimits | None = None) -> Iterator[Path]:
    """The bundle's root folder: `source` itself, or a zip unpacked (within `limits`, default
    the settings') into a temporary folder for the duration of the block."""
    source = Path(source)
    if source.is_dir():
        spec = source / SPEC_FILENAME
        if not spec.is_file():
            raise BundleError(f"{source}: no {SPEC_FILENAME} at the root of the bundle folder")
        if not spec.resolve().is_relative_to(source.resolve()):
            raise BundleError(f"{source}: {SPEC_FILENAME} links outside the bundle folder")
        yield source
        return
    if not source.exists():
        raise BundleError(f"{source}: no such file or folder")
    if not zipfile.is_zipfile(source):
        # By name, as the zip's own messages: an uploaded file's folder is the server's.
        raise BundleError(f"{source.name}: expected a bundle folder or a .zip file")
    with tempfile.TemporaryDirectory(prefix="bundle-") as tmp:
        yield zip_unpack(source, Path(tmp), limits or bundle_limits())


@dataclass(frozen=True)
class _Reading:
    """What reading a bundle's splits shares: where Hub datasets are cached, the limits and
    what is left of the decoded-size budget."""

    hub_cache_dir: str | None
    limits: BundleLimits
    budget: DecodedBudget


def bundle_load(
    root: Path, *, hub_cache_dir: str | None = None, limits: BundleLimits | None = None
) -> Bundle:
    """Validate the bundle at `root` and freeze every split, within `limits` (default the
    settings'). Raises BundleError listing every problem found (spec and data)."""
    limits = limits or bundle_limits()
    reading = _Reading(hub_cache_dir, limits, DecodedBudget(limits.max_decoded_bytes))
    checked = spec_check(spec_read(root), root=root)
    errors = list(checked.errors)
    splits: list[FrozenSplit] = []
    for task, task_path in zip(checked.spec["tasks"], checked.task_paths, strict=True):
        task_errors, task_splits = _task_freeze(task, task_path, root, reading)
        errors += task_errors
        splits += task_splits
    if errors:
        raise BundleError(errors)
    return Bundle(spec=checked.spec, splits=splits)


def _task_freeze(
    task: dict, task_path: str, root: Path, reading: _Reading
) -> tuple[list[str], list[FrozenSplit]]:
    checker = SplitChecker(task, task_path, root, reading.budget)
    tables: dict[str, pa.Table] = {}
    origins: dict[str, dict] = {}
    for split in task["data"]["splits"]:
        name = split["name"]
        where = f"{task_path}.data.splits.{name}"
        try:
            table, origin = _split_read(task, split, root, reading)
        except TableLimitError as exc:
            if split["path"]:
                checker.errors.append(f"{where}.path: '{split['path']}' {exc}")
            else:
                checker.errors.append(f"{where}.hub_split: split '{split['hub_split']}' {exc}")
            continue
        except TableReadError as exc:
            if split["path"]:
                detail = read_error_text(str(exc), hidden=split["role"] == "hidden")
                checker.errors.append(f"{where}.path: cannot read '{split['path']}': {detail}")
            else:
                checker.errors.append(f"{where}.hub_split: {exc}")
            continue
        try:
            frozen = checker.freeze(table, split)
        except pa.ArrowException as exc:  # a type the checks do not expect (a cast that fails)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            detail = read_error_text(first, hidden=split["role"] == "hidden")
            checker.errors.append(f"{where}: cannot check the split's columns: {detail}")
            continue
        if frozen is not None:
            tables[name] = frozen
            origins[name] = split["provenance"] or origin
    checker.duplicate_ids()
    if checker.errors:
        return checker.errors, []
    result = []
    for name, table in tables.items():
        data = parquet_bytes(table)
        origin = origins[name]
        result.append(
            FrozenSplit(
                task=task["slug"],
                name=name,
                parquet=data,
                fingerprint=fingerprint(data),
                num_rows=table.num_rows,
                source=origin.get("source", ""),
                hub_repo_id=origin.get("hub_repo_id", ""),
                hub_revision=origin.get("hub_revision", ""),
                hub_commit=origin.get("hub_commit", ""),
            )
        )
    return [], result


def _split_read(task: dict, split: dict, root: Path, reading: _Reading) -> tuple[pa.Table, dict]:
    if split["path"]:
        table = table_read(
            root / split["path"],
            string_columns=string_columns(task),
            limits=reading.limits,
            budget=reading.budget,
        )
        return table, {"source": split["path"]}
    hub = task["data"]["hub"]
    table, commit = hub_table(
        repo_id=hub["repo_id"],
        revision=hub["revision"],
        config=hub["config"],
        split=split["hub_split"],
        cache_dir=reading.hub_cache_dir,
        limits=reading.limits,
        budget=reading.budget,
    )
    at = f"@{commit or hub['revision'] or 'main'}"
    config = f"/{hub['config']}" if hub["config"] else ""
    return table, {
        "source": f"hf://datasets/{hub['repo_id']}{at}{config}:{split['hub_split']}",
        "hub_repo_id": hub["repo_id"],
        "hub_revision": hub["revision"] or "",
        "hub_commit": commit,
    }


def string_columns(task: dict) -> tuple[str, ...]:
    """Columns read as text from CSV, where every type is a guess: the id (007 must not become
    7) and a text task's inputs."""
    columns = task["columns"]
    text_columns = tuple(columns["inputs"]) if task["type"] in TEXT_INPUT_TYPES else ()
    return (columns["id"], *text_columns)


def read_error_text(message: str, *, hidden: bool) -> str:
    # Reader messages may quote the offending row or value; of a hidden split that could be a
    # label, so only the part before the quoted content is kept.
    if hidden and ": " in message:
        return message.rsplit(": ", 1)[0] + " (row content withheld: the split is hidden)"
    return message


class _SpecDumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (descriptions, citations) as a literal block, readable as written.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_SpecDumper.add_representer(str, _str_representer)


def spec_yaml(spec: dict) -> str:
    """A spec (as written by an export) as benchmark.yaml text."""
    return yaml.dump(spec, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=100)
