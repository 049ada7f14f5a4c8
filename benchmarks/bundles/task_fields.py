"""Validation of a task's columns, metrics, slices and model-run limits."""

from __future__ import annotations

import re
from typing import Any

from benchmarks.bundles.checks import Checker, is_number, join, listing, repeated, show
from scoring.tasktypes import (
    AVERAGES,
    CLASSIFICATION_TYPES,
    METRICS,
    TASK_TYPES,
    TOKEN_CLASSIFICATION,
    metric_keys,
    normalize_metric_spec,
)

MEASURES = ("words", "chars", "value")
# Types whose labels are names from `columns.labels` (token classification: tag names).
LABELLED_TYPES = CLASSIFICATION_TYPES | {TOKEN_CLASSIFICATION}
COLUMN_KEYS = ("id", "inputs", "label", "labels", "metadata")
SLICE_KEYS = ("name", "column", "measure", "bins", "pattern")
MODEL_RUN_KEYS = ("timeout_s", "max_memory_gb", "batch_size", "max_new_tokens")
METRIC_ARG_TYPES: dict[str, tuple[type, ...]] = {
    "pos_label": (str, int),
    "scheme": (str,),
    "mode": (str,),
    "use_stemmer": (bool,),
    "tokenize": (str,),
    "lowercase": (bool,),
    "word_order": (int,),
}


class TaskFieldsChecker(Checker):
    def columns(self, raw: Any, path: str, type_name: Any) -> dict:
        task_type = TASK_TYPES.get(type_name) if isinstance(type_name, str) else None
        cols = self.mapping({} if raw is None else raw, path, COLUMN_KEYS) or {}
        result = {
            "id": self.string(cols.get("id", "id"), join(path, "id"), max_length=100),
            "inputs": self.names(
                cols.get("inputs", list(task_type.default_inputs) if task_type else []),
                join(path, "inputs"),
            ),
            "label": self.string(cols.get("label", "label"), join(path, "label"), max_length=100),
            "labels": self.label_names(cols.get("labels"), join(path, "labels"), type_name),
            "metadata": self.names(cols.get("metadata", []), join(path, "metadata")),
        }
        inputs = result["inputs"]
        if task_type and inputs is not None and len(inputs) < task_type.required_inputs:
            self.error(
                join(path, "inputs"),
                f"{type_name} needs at least "
                f"{task_type.required_inputs} input columns, got {len(inputs)}",
            )
        if inputs == []:
            self.error(join(path, "inputs"), "expected at least one input column")
        named = [result["id"], *(inputs or []), result["label"], *(result["metadata"] or [])]
        named = [n for n in named if n]
        twice = repeated(named)
        if twice:
            self.error(
                path,
                f"each column may have one role only (id, input, label or "
                f"metadata); used twice: {listing(twice)}",
            )
        return result

    def label_names(self, raw: Any, path: str, type_name: Any) -> list[str]:
        if raw is None:
            if type_name in CLASSIFICATION_TYPES:
                self.error(path, f"required for {type_name}: the list of label names")
            return []
        if type_name in TASK_TYPES and type_name not in LABELLED_TYPES:
            self.error(path, f"only classification tasks have label names; {type_name} does not")
            return []
        if not isinstance(raw, list) or len(raw) < 2:
            self.error(path, f"expected a list of at least 2 label names, got {show(raw)}")
            return []
        for i, name in enumerate(raw):
            if not isinstance(name, str) or not name:
                # YAML reads yes/no/true/1 as booleans or numbers: say how to keep them names.
                self.error(
                    join(path, i), f"expected a label name (string), got {show(name)}; quote it"
                )
        twice = repeated(raw)
        if twice:
            self.error(path, f"label names listed twice: {listing(twice)}")
        return [n for n in raw if isinstance(n, str)]

    def metrics(self, raw: Any, path: str, type_name: Any, columns: dict) -> list[dict]:
        task_type = TASK_TYPES.get(type_name) if isinstance(type_name, str) else None
        if raw is None:
            return [dict(m) for m in task_type.default_metrics] if task_type else []
        if not isinstance(raw, list) or not raw:
            self.error(path, f"expected a non-empty list of metrics, got {show(raw)}")
            return []
        specs = []
        label_set = frozenset(columns.get("labels") or ())
        for i, item in enumerate(raw):
            spec = self.metric(item, join(path, i), task_type, columns, label_set)
            if spec:
                specs.append(spec)
        keys = [key for spec in specs for key in metric_keys(spec)]
        twice = repeated(keys)
        if twice:
            self.error(path, f"metric keys reported twice: {listing(twice)}")
        return specs

    def metric(
        self, raw: Any, path: str, task_type: Any, columns: dict, label_set: frozenset
    ) -> dict | None:
        if not isinstance(raw, str | dict):
            self.error(path, f"expected a metric name or {{name: ..., <args>}}, got {show(raw)}")
            return None
        spec = normalize_metric_spec(raw)
        name = spec.get("name")
        info = METRICS.get(name) if isinstance(name, str) else None
        if info is None:
            where = join(path, "name") if isinstance(raw, dict) else path
            self.error(where, f"unknown metric {show(name)}; known metrics: {', '.join(METRICS)}")
            return None
        if task_type and name not in task_type.metrics:
            self.error(
                path,
                f"metric '{name}' is not available for {task_type.name}; use one "
                f"of {', '.join(task_type.metrics)}",
            )
            return None
        ok = True
        for arg, value in spec.items():
            if arg == "name":
                continue
            arg_path = join(path, arg)
            if arg not in info.args or (arg != "average" and arg not in METRIC_ARG_TYPES):
                supported = [a for a in info.args if a == "average" or a in METRIC_ARG_TYPES]
                allowed = ", ".join(sorted(supported)) or "none"
                self.error(arg_path, f"unknown argument for metric '{name}'; allowed: {allowed}")
                ok = False
            elif arg == "average":
                if value not in AVERAGES:
                    self.error(
                        arg_path, f"expected one of {', '.join(AVERAGES)}, got {show(value)}"
                    )
                    ok = False
                elif value == "binary" and len(columns.get("labels") or []) > 2:
                    self.error(
                        arg_path,
                        "binary averaging needs exactly 2 labels; use macro, micro or weighted",
                    )
                    ok = False
            elif not isinstance(value, METRIC_ARG_TYPES[arg]) or (
                isinstance(value, bool) and bool not in METRIC_ARG_TYPES[arg]
            ):
                expected = " or ".join(t.__name__ for t in METRIC_ARG_TYPES[arg])
                self.error(arg_path, f"expected {expected}, got {show(value)}")
                ok = False
            elif (
                arg == "pos_label"
                and isinstance(value, str)
                and label_set
                and value not in label_set
            ):
                self.error(arg_path, f"{show(value)} is not one of the label names")
                ok = False
        return spec if ok else None

    def primary_metric(self, raw: Any, task_path: str, metrics: list[dict]) -> str | None:
        keys = [key for spec in metrics for key in metric_keys(spec)]
        if raw is None:
            return keys[0] if keys else None
        if raw not in keys:
            self.error(
                join(task_path, "primary_metric"),
                f"expected one of the reported "
                f"metric keys ({listing(keys) or 'none'}), got {show(raw)}",
            )
            return None
        return raw

    def slices(self, raw: Any, path: str, columns: dict) -> list[dict]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.error(path, f"expected a list of slices, got {show(raw)}")
            return []
        usable = [*(columns.get("inputs") or []), *(columns.get("metadata") or [])]
        usable_set = set(usable)
        result, names = [], set()
        for i, item in enumerate(raw):
            item_path = join(path, i)
            spec = self.mapping(item, item_path, SLICE_KEYS, required=("name", "column"))
            if spec is None:
                continue
            name = self.string(spec.get("name"), join(item_path, "name"))
            if name in names:
                self.error(join(item_path, "name"), f"slice name '{name}' is used twice")
            names.add(name)
            column = spec.get("column")
            if "column" in spec and (not isinstance(column, str) or column not in usable_set):
                self.error(
                    join(item_path, "column"),
                    f"expected an input or metadata column "
                    f"({listing(usable) or 'none'}), got {show(column)}",
                )
            normal = {"name": name, "column": column}
            if "pattern" in spec:
                if "measure" in spec or "bins" in spec:
                    self.error(item_path, "a slice uses either pattern or measure + bins, not both")
                normal["pattern"] = self.pattern(spec["pattern"], join(item_path, "pattern"))
            elif "measure" in spec or "bins" in spec:
                normal["measure"] = self.choice(
                    spec.get("measure"), join(item_path, "measure"), MEASURES, "value"
                )
                if "measure" not in spec:
                    self.error(
                        join(item_path, "measure"),
                        f"required with bins: one of {', '.join(MEASURES)}",
                    )
                normal["bins"] = self.bins(spec.get("bins"), join(item_path, "bins"))
            result.append(normal)
        return result

    def pattern(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str) or not value:
            self.error(path, f"expected a regular expression, got {show(value)}")
            return None
        try:
            re.compile(value)
        except re.error as exc:
            self.error(path, f"invalid regular expression: {exc}")
            return None
        return value

    def bins(self, value: Any, path: str) -> list[float] | None:
        if not isinstance(value, list) or not value or not all(is_number(v) for v in value):
            self.error(path, f"expected a non-empty list of numbers, got {show(value)}")
            return None
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            self.error(path, "expected bin edges in strictly ascending order")
            return None
        return list(value)

    def model_run(self, raw: Any, path: str) -> dict:
        run = self.mapping({} if raw is None else raw, path, MODEL_RUN_KEYS) or {}
        result = {}
        for key in MODEL_RUN_KEYS:
            if key not in run:
                continue
            value = run[key]
            whole = key in ("batch_size", "max_new_tokens")
            if not is_number(value) or value <= 0 or (whole and not isinstance(value, int)):
                kind = "a whole number > 0" if whole else "a number > 0"
                self.error(join(path, key), f"expected {kind}, got {show(value)}")
                continue
            result[key] = value
        return result
