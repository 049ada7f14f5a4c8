"""`benchmark.yaml` (docs/formats.md): parsing, validation and normalisation into plain dicts.

Validation collects every problem instead of stopping at the first; each message starts with the
key path it is about (`tasks[0].columns.label: ...`). Nothing here reads data files beyond
checking that they exist inside the bundle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from benchmarks.bundles.checks import KINDS, SCORED_ROLES, SLUG_RE, is_number, join, show
from benchmarks.bundles.errors import BundleError
from benchmarks.bundles.phases import phases_check
from benchmarks.bundles.task_fields import TaskFieldsChecker
from scoring.tasktypes import METRICS, TASK_TYPES, metric_keys

SPLIT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
VISIBILITIES = ("public", "unlisted", "private")
ROLES = ("train", "public", "hidden")
REVEALS = ("always", "after_close")
DATA_SUFFIXES = (".csv", ".jsonl", ".parquet")

TOP_KEYS = (
    "slug",
    "title",
    "description",
    "license",
    "citation",
    "visibility",
    "submission_policy",
    "aggregate_weights",
    "tasks",
    "phases",
)
POLICY_KEYS = (
    "kinds",
    "max_per_day",
    "max_total",
    "opens_at",
    "closes_at",
    "allow_custom_code",
    "allow_pickle_weights",
    "final_selection",
)
TASK_KEYS = (
    "slug",
    "title",
    "type",
    "data",
    "columns",
    "metrics",
    "primary_metric",
    "slices",
    "model_run",
)
DATA_KEYS = ("splits", "hub")
HUB_KEYS = ("repo_id", "revision", "config")
SPLIT_KEYS = ("path", "hub_split", "role", "reveal", "inputs_downloadable", "provenance")
PROVENANCE_KEYS = ("source", "hub_repo_id", "hub_revision", "hub_commit")


# Task fields that the checks of a task's data do not depend on: a task whose only errors are
# in these still has its data read and checked, so that one pass reports those problems too.
FIELDS_BESIDE_DATA = ("title", "metrics", "primary_metric", "model_run")


def _spares_data(error: str, task_path: str) -> bool:
    for key in FIELDS_BESIDE_DATA:
        where = join(task_path, key)
        if error.startswith(where) and error[len(where) : len(where) + 1] in (":", ".", "["):
            return True
    return False


@dataclass
class CheckedSpec:
    """The outcome of `spec_check`: the normalised spec, every error found, and the key path of
    each task in `spec["tasks"]` (`tasks[2]`). The spec's `tasks` hold the tasks whose data can
    be checked: those without errors, or with errors only in FIELDS_BESIDE_DATA (the spec is
    only imported when there are no errors at all)."""

    spec: dict
    errors: list[str] = field(default_factory=list)
    task_paths: list[str] = field(default_factory=list)


def spec_validate(raw: Any, *, root: Path | None = None) -> dict:
    """Validated, normalised spec, or BundleError listing every problem. With `root`, data paths
    must exist inside that folder."""
    checked = spec_check(raw, root=root)
    if checked.errors:
        raise BundleError(checked.errors)
    return checked.spec


def spec_check(raw: Any, *, root: Path | None = None) -> CheckedSpec:
    checker = _SpecChecker(root)
    spec = checker.benchmark(raw)
    return CheckedSpec(spec=spec, errors=checker.errors, task_paths=checker.task_paths)


def task_fields_check(raw: dict) -> CheckedSpec:
    """A task's fields but its data (slug, title, type, columns, metrics, primary_metric,
    slices, model_run) checked and normalised as in a bundle, each error's key path relative to
    the task (`columns.inputs`, `metrics[1].average`). The admin validates a task with it, so
    that it never stores what an import would refuse."""
    checker = _SpecChecker(None)
    fields = checker.task_fields(raw, "")
    return CheckedSpec(spec=fields, errors=checker.errors)


def policy_check(policy: dict, weights: Any, tasks: list[dict]) -> CheckedSpec:
    """A benchmark's `submission_policy` and `aggregate_weights` checked as in a bundle;
    `tasks` (each with `slug` and `metrics`) are what the weights may name."""
    checker = _SpecChecker(None)
    spec = {
        "submission_policy": checker.policy(policy),
        "aggregate_weights": checker.weights(weights),
    }
    checker.weight_names(spec["aggregate_weights"], tasks)
    return CheckedSpec(spec=spec, errors=checker.errors)


class _SpecChecker(TaskFieldsChecker):
    def benchmark(self, raw: Any) -> dict:
        spec: dict = {}
        top = self.mapping(raw, "", TOP_KEYS, required=("slug", "title", "tasks"))
        if top is None:
            return {"tasks": []}
        slug = top.get("slug")
        if "slug" in top and not (
            isinstance(slug, str) and SLUG_RE.match(slug) and len(slug) <= 50
        ):
            self.error(
                "slug",
                f"expected lowercase letters, digits and hyphens ([a-z0-9-]+, at "
                f"most 50 characters), got {show(slug)}",
            )
        spec["slug"] = slug
        spec["title"] = (
            self.string(top.get("title"), "title", max_length=200) if "title" in top else None
        )
        spec["description"] = self.string(top.get("description"), "description", default="")
        spec["license"] = self.string(top.get("license"), "license", default="", max_length=100)
        spec["citation"] = self.string(top.get("citation"), "citation", default="")
        spec["visibility"] = self.choice(
            top.get("visibility"), "visibility", VISIBILITIES, "public"
        )
        spec["submission_policy"] = self.policy(top.get("submission_policy"))
        spec["aggregate_weights"] = self.weights(top.get("aggregate_weights"))
        spec["tasks"] = self.tasks(top.get("tasks"))
        self.weight_names(spec["aggregate_weights"], spec["tasks"])
        spec["phases"] = phases_check(self, top.get("phases"), spec["tasks"])
        return spec

    def weight_names(self, weights: dict, tasks: list[dict]) -> None:
        """Each weight names a task (its primary metric) or `task.metric`, one of its metrics."""
        names = {t["slug"] for t in tasks if isinstance(t.get("slug"), str)}
        for task in tasks:
            for metric in task.get("metrics") or []:
                if isinstance(metric, dict) and metric.get("name") in METRICS:
                    names.update(f"{task['slug']}.{key}" for key in metric_keys(metric))
        for name in weights:
            if name not in names:
                self.error(
                    join("aggregate_weights", name),
                    f"expected a task slug or <task>.<metric> of this bundle "
                    f"({', '.join(sorted(names)[:12]) or 'none'}), got {show(name)}",
                )

    def policy(self, raw: Any) -> dict:
        path = "submission_policy"
        policy = self.mapping({} if raw is None else raw, path, POLICY_KEYS) or {}
        kinds = policy.get("kinds", ["predictions"])
        if not isinstance(kinds, list) or not kinds:
            self.error(
                join(path, "kinds"),
                f"expected a non-empty list of {', '.join(KINDS)}, got {show(kinds)}",
            )
            kinds = ["predictions"]
        else:
            for i, kind in enumerate(kinds):
                if kind not in KINDS:
                    self.error(
                        join(join(path, "kinds"), i),
                        f"expected one of {', '.join(KINDS)}, got {show(kind)}",
                    )
            kinds = [k for k in KINDS if k in kinds]
        result = {
            "kinds": kinds,
            "max_per_day": self.count(policy.get("max_per_day"), join(path, "max_per_day")),
            "max_total": self.count(policy.get("max_total"), join(path, "max_total")),
            "opens_at": self.datetime(policy.get("opens_at"), join(path, "opens_at")),
            "closes_at": self.datetime(policy.get("closes_at"), join(path, "closes_at")),
            "allow_custom_code": self.boolean(
                policy.get("allow_custom_code"), join(path, "allow_custom_code"), False
            ),
            "allow_pickle_weights": self.boolean(
                policy.get("allow_pickle_weights"), join(path, "allow_pickle_weights"), False
            ),
            "final_selection": self.count(
                policy.get("final_selection"), join(path, "final_selection")
            ),
        }
        if result["final_selection"] == 0:
            self.error(join(path, "final_selection"), "expected a whole number ≥ 1 or null")
        opens, closes = result["opens_at"], result["closes_at"]
        if opens and closes and opens >= closes:
            self.error(join(path, "closes_at"), "expected a time after opens_at")
        return result

    def weights(self, raw: Any) -> dict:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error(
                "aggregate_weights", f"expected a mapping of names to numbers ≥ 0, got {show(raw)}"
            )
            return {}
        for key, value in raw.items():
            if not is_number(value) or value < 0:
                self.error(
                    join("aggregate_weights", str(key)),
                    f"expected a number ≥ 0, got {show(value)}",
                )
        return {str(k): v for k, v in raw.items()}

    # -- tasks --------------------------------------------------------------------------------

    def tasks(self, raw: Any) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list) or not raw:
            self.error("tasks", f"expected a non-empty list of tasks, got {show(raw)}")
            return []
        tasks = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            path = join("tasks", i)
            before = len(self.errors)
            task = self.task(item, path)
            slug = task.get("slug") if task else None
            if isinstance(slug, str):
                if slug in seen:
                    self.error(
                        join(path, "slug"),
                        f"task slug '{slug}' is used twice; task "
                        "slugs must be unique within the benchmark",
                    )
                seen.add(slug)
            if task is not None and all(_spares_data(e, path) for e in self.errors[before:]):
                tasks.append(task)
                self.task_paths.append(path)
        return tasks

    def task(self, raw: Any, path: str) -> dict | None:
        task = self.mapping(raw, path, TASK_KEYS, required=("slug", "type", "data"))
        if task is None:
            return None
        return self.task_fields(task, path, with_data=True)

    def task_fields(self, task: dict, path: str, *, with_data: bool = False) -> dict:
        """Every field of a task; its data only `with_data` (a bundle's task, not the admin's)."""
        slug = task.get("slug")
        if "slug" in task and not (
            isinstance(slug, str) and SLUG_RE.match(slug) and len(slug) <= 50
        ):
            self.error(
                join(path, "slug"),
                f"expected lowercase letters, digits and hyphens "
                f"([a-z0-9-]+, at most 50 characters), got {show(slug)}",
            )
        title = self.string(task.get("title"), join(path, "title"), default="", max_length=200)
        type_name = task.get("type")
        task_type = TASK_TYPES.get(type_name) if isinstance(type_name, str) else None
        if "type" in task and task_type is None:
            self.error(
                join(path, "type"),
                f"expected one of {', '.join(TASK_TYPES)}, got {show(type_name)}",
            )
        if task_type is None:
            type_name = None  # already reported; the checks below skip type-specific rules
        data = None
        if with_data and "data" in task:
            data = self.data(task.get("data"), join(path, "data"))
        columns = self.columns(task.get("columns"), join(path, "columns"), type_name)
        metrics = self.metrics(task.get("metrics"), join(path, "metrics"), type_name, columns)
        primary = self.primary_metric(task.get("primary_metric"), path, metrics)
        slices = self.slices(task.get("slices"), join(path, "slices"), columns)
        model_run = self.model_run(task.get("model_run"), join(path, "model_run"))
        fields = {"slug": slug, "title": title, "type": type_name}
        if with_data:
            fields["data"] = data
        return {
            **fields,
            "columns": columns,
            "metrics": metrics,
            "primary_metric": primary,
            "slices": slices,
            "model_run": model_run,
        }

    def data(self, raw: Any, path: str) -> dict | None:
        data = self.mapping(raw, path, DATA_KEYS, required=("splits",))
        if data is None:
            return None
        hub = None
        if data.get("hub") is not None:
            hub_path = join(path, "hub")
            raw_hub = self.mapping(data["hub"], hub_path, HUB_KEYS, required=("repo_id",))
            if raw_hub is not None:
                hub = {
                    "repo_id": self.string(
                        raw_hub.get("repo_id"), join(hub_path, "repo_id"), max_length=200
                    ),
                    "revision": self.optional_string(raw_hub, "revision", hub_path),
                    "config": self.optional_string(raw_hub, "config", hub_path),
                }
        splits_path = join(path, "splits")
        raw_splits = data.get("splits")
        if not isinstance(raw_splits, dict) or not raw_splits:
            if "splits" in data:
                self.error(
                    splits_path,
                    "expected a mapping of split names to {path, role, ...},"
                    f" got {show(raw_splits)}",
                )
            return {"hub": hub, "splits": []}
        splits = [
            self.split(name, value, join(splits_path, str(name)), hub)
            for name, value in raw_splits.items()
        ]
        if not any(s and s["role"] in SCORED_ROLES for s in splits):
            self.error(splits_path, "needs at least one scored split (role: public or hidden)")
        return {"hub": hub, "splits": [s for s in splits if s]}

    def optional_string(self, raw: dict, key: str, path: str) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # an unquoted numeric tag or config name
        return self.string(value, join(path, key), max_length=200)

    def split(self, name: Any, raw: Any, path: str, hub: dict | None) -> dict | None:
        if not isinstance(name, str) or not SPLIT_NAME_RE.match(name) or len(name) > 50:
            self.error(path, "split names use letters, digits, '-' and '_' (at most 50)")
        split = self.mapping(raw, path, SPLIT_KEYS, required=("role",))
        if split is None:
            return None
        result = {
            "name": name,
            "path": None,
            "hub_split": None,
            "role": self.choice(split.get("role"), join(path, "role"), ROLES, "train"),
            "reveal": self.choice(split.get("reveal"), join(path, "reveal"), REVEALS, "always"),
            "inputs_downloadable": self.boolean(
                split.get("inputs_downloadable"), join(path, "inputs_downloadable"), True
            ),
            "provenance": self.provenance(split.get("provenance"), join(path, "provenance")),
        }
        if "path" in split:
            if "hub_split" in split:
                self.error(path, "give either path (a file in the bundle) or hub_split, not both")
            result["path"] = self.data_path(split["path"], join(path, "path"))
        elif hub is not None:
            hub_split = split.get("hub_split", name)
            result["hub_split"] = self.string(
                str(hub_split) if is_number(hub_split) else hub_split, join(path, "hub_split")
            )
        elif "hub_split" in split:
            self.error(join(path, "hub_split"), "needs data.hub (repo_id, revision) for the task")
        else:
            self.error(
                join(path, "path"),
                "required key is missing (a data file in the bundle, or data.hub with hub_split)",
            )
        return result

    def provenance(self, raw: Any, path: str) -> dict | None:
        if raw is None:
            return None
        prov = self.mapping(raw, path, PROVENANCE_KEYS)
        if prov is None:
            return None
        result = {}
        for key in PROVENANCE_KEYS:
            value = prov.get(key, "")
            if not isinstance(value, str):
                self.error(join(path, key), f"expected a string, got {show(value)}")
                value = ""
            result[key] = value
        return result

    def data_path(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(path, f"expected a file path relative to the bundle, got {show(value)}")
            return None
        rel = PurePosixPath(value.replace("\\", "/"))
        if rel.is_absolute() or re.match(r"^[A-Za-z]:", value):
            self.error(path, f"expected a path relative to the bundle, got absolute '{value}'")
            return None
        if ".." in rel.parts:
            self.error(path, f"'{value}' leaves the bundle ('..' is not allowed)")
            return None
        name = rel.name.lower().removesuffix(".gz")
        if not name.endswith(DATA_SUFFIXES):
            self.error(
                path, f"expected a .csv, .jsonl or .parquet file (optionally .gz), got '{value}'"
            )
            return None
        if "\0" in value:
            self.error(path, f"expected a file path, got {show(value)} (it holds a NUL character)")
            return None
        if self.root is not None:
            try:
                full = (self.root / rel).resolve()
                leaves = not full.is_relative_to(self.root)
                found = not leaves and full.is_file()
            except OSError as exc:  # a name too long for the file system, a loop of links
                self.error(path, f"file {show(value)} cannot be opened ({exc.strerror})")
                return None
            if leaves:
                self.error(path, f"'{value}' leaves the bundle (it links outside)")
                return None
            if not found:
                self.error(path, f"file '{value}' not found in the bundle")
                return None
        return rel.as_posix()
