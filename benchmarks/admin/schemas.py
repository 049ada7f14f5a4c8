"""JSON schemas of the structured editors (django-jsonform) for a task's and a benchmark's JSON
fields, written from the bundle format (docs/formats.md, benchmarks/bundles). They shape the
editor only: what is saved is validated by the bundle's own checks (forms.py).

An editor sends every key of its schema, empty or not; `compact` turns the empty ones back into
absent keys, as a bundle would leave them out."""

from __future__ import annotations

from typing import Any

from benchmarks.bundles.spec import KINDS
from benchmarks.bundles.task_fields import MEASURES, METRIC_ARG_TYPES
from scoring.tasktypes import AVERAGES, METRICS

NONE_CHOSEN = {"title": "(none)", "value": ""}


def _strings(title: str, help_text: str) -> dict:
    return {
        "type": "array",
        "title": title,
        "help_text": help_text,
        "items": {"type": "string", "title": title.rstrip("s")},
    }


INPUT_COLUMNS = _strings("Input columns", "What a participant or a model sees, e.g. text.")
METADATA_COLUMNS = _strings(
    "Metadata columns", "Extra columns for slices; never shown per row, never downloadable."
)
LABEL_NAMES = _strings(
    "Label names",
    "Classification (and tag) names, in order: an integer label in the data is an index here.",
)


def _takes(arg: str) -> str:
    """Which metrics take an argument, for its help text."""
    names = [name for name, info in METRICS.items() if arg in info.args]
    return f"Only for {', '.join(names)}."


_ARG_TYPES = {str: "string", int: "integer", bool: "boolean"}
_ARG_HELP = {
    "average": "How per-label scores combine; the metric then reports as <name>_<average>.",
    "pos_label": "The positive label, with average 'binary'.",
    "scheme": "Tagging scheme, e.g. IOB2.",
    "mode": "'strict' for exact entity boundaries and types.",
    "use_stemmer": "Stem words before matching.",
    "tokenize": "sacreBLEU tokenizer, e.g. 13a.",
    "lowercase": "Compare in lower case.",
    "word_order": "chrF++ word n-gram order (2 for chrF++).",
}


def _metric_args() -> dict:
    args: dict[str, dict] = {
        "average": {
            "type": "string",
            "choices": [NONE_CHOSEN, *AVERAGES],
            "help_text": f"{_ARG_HELP['average']} {_takes('average')}",
        }
    }
    for arg, types in METRIC_ARG_TYPES.items():
        args[arg] = {
            "type": _ARG_TYPES[types[0]],
            "help_text": f"{_ARG_HELP.get(arg, '')} {_takes(arg)}".strip(),
        }
    return args


METRICS_SCHEMA = {
    "type": "array",
    "title": "Metrics",
    "help_text": "Each reports under its name (f1 with average macro: f1_macro).",
    "items": {
        "type": "object",
        "title": "Metric",
        "keys": {
            "name": {"type": "string", "choices": list(METRICS), "required": True},
            **_metric_args(),
        },
    },
}

SLICES_SCHEMA = {
    "type": "array",
    "title": "Slices",
    "help_text": "Failure-mode breakdowns: by a column's values; by bins of a measure "
    "(measure + bins); or by a regular expression (pattern).",
    "items": {
        "type": "object",
        "title": "Slice",
        "keys": {
            "name": {"type": "string", "required": True},
            "column": {
                "type": "string",
                "required": True,
                "help_text": "An input or metadata column.",
            },
            "measure": {
                "type": "string",
                "choices": [NONE_CHOSEN, *MEASURES],
                "help_text": "With bins: words or chars of a text, or a numeric column's value.",
            },
            "bins": {
                "type": "array",
                "items": {"type": "number"},
                "help_text": "Ascending edges: [0, 10, 30] gives [0,10), [10,30), [30,inf).",
            },
            "pattern": {"type": "string", "help_text": "Cells 'match' and 'no match'."},
        },
    },
}

MODEL_RUN_SCHEMA = {
    "type": "object",
    "title": "Model runs",
    "help_text": "Limits for model submissions; empty keeps the platform's defaults.",
    "keys": {
        "timeout_s": {"type": "number", "title": "Timeout (seconds)"},
        "max_memory_gb": {"type": "number", "title": "Memory (GB)"},
        "batch_size": {"type": "integer", "title": "Batch size"},
        "max_new_tokens": {"type": "integer", "title": "New tokens at most (generation)"},
    },
}

KINDS_SCHEMA = {
    "type": "array",
    "title": "Submission kinds",
    "help_text": "Prediction files, model repositories or both. None chosen: predictions only.",
    "items": {"type": "string", "choices": list(KINDS), "widget": "multiselect"},
}

WEIGHTS_SCHEMA = {
    "type": "object",
    "title": "Aggregate weights",
    "help_text": "A weight (≥ 0) per task (its primary metric) or <task>.<metric>.",
    "keys": {},
    "additionalProperties": {"type": "number"},
}


def compact(value: Any) -> Any:
    """The editor's value with its empty keys removed: "" and null everywhere, and empty lists
    inside objects (an unused `bins`). Lists keep their items, so an empty column name still
    reaches the checks and gets their sentence."""
    if isinstance(value, dict):
        return {
            key: compact(item)
            for key, item in value.items()
            if item not in ("", None) and item != []
        }
    if isinstance(value, list):
        return [compact(item) for item in value]
    return value


def compact_metric(spec: Any) -> Any:
    """A metric from the editor: empty keys removed, and an unticked checkbox of an argument
    the metric does not take (the editor shows every argument for every metric)."""
    spec = compact(spec)
    if not isinstance(spec, dict) or spec.get("name") not in METRICS:
        return spec
    takes = METRICS[spec["name"]].args
    return {key: v for key, v in spec.items() if not (v is False and key not in takes)}
