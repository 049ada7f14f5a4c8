"""The task types (docs/formats.md) and the metrics each may use: names, arguments, reported
keys and direction. Pure data, shared by bundle validation, scoring and the leaderboard."""

from __future__ import annotations

from dataclasses import dataclass, field

TEXT_CLASSIFICATION = "text-classification"
TOKEN_CLASSIFICATION = "token-classification"
QUESTION_ANSWERING = "question-answering"
TEXT_GENERATION = "text-generation"
REGRESSION = "regression"
IMAGE_CLASSIFICATION = "image-classification"

CLASSIFICATION_TYPES = frozenset({TEXT_CLASSIFICATION, IMAGE_CLASSIFICATION})

AVERAGES = ("micro", "macro", "weighted", "binary")


@dataclass(frozen=True)
class MetricInfo:
    """A metric a bundle may name. `keys` are the values it reports (before any `_<average>`
    suffix); `lower_is_better` lists those of them where smaller wins; `scale` is the value range
    shown to people (1 for 0–1 values, 100 for 0–100, None for unbounded)."""

    name: str
    keys: tuple[str, ...]
    args: frozenset[str] = frozenset()
    lower_is_better: frozenset[str] = frozenset()
    scale: float | None = 1.0
    takes_average: bool = False


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo("accuracy", ("accuracy",)),
        MetricInfo("f1", ("f1",), frozenset({"average", "pos_label"}), takes_average=True),
        MetricInfo(
            "precision", ("precision",), frozenset({"average", "pos_label"}), takes_average=True
        ),
        MetricInfo("recall", ("recall",), frozenset({"average", "pos_label"}), takes_average=True),
        MetricInfo("matthews_correlation", ("matthews_correlation",)),
        MetricInfo(
            "seqeval",
            ("overall_precision", "overall_recall", "overall_f1", "overall_accuracy"),
            frozenset({"scheme", "mode"}),
        ),
        MetricInfo(
            "squad",
            (
                "exact_match",
                "f1",
                "HasAns_exact_match",
                "HasAns_f1",
                "NoAns_exact_match",
                "NoAns_f1",
            ),
            scale=100.0,
        ),
        MetricInfo(
            "rouge",
            ("rouge1", "rouge2", "rougeL", "rougeLsum"),
            frozenset({"use_stemmer", "rouge_types"}),
        ),
        MetricInfo("bleu", ("bleu",), frozenset({"tokenize", "lowercase"}), scale=100.0),
        MetricInfo("chrf", ("chrf",), frozenset({"word_order", "lowercase"}), scale=100.0),
        MetricInfo("mse", ("mse",), lower_is_better=frozenset({"mse"}), scale=None),
        MetricInfo("mae", ("mae",), lower_is_better=frozenset({"mae"}), scale=None),
        MetricInfo("pearson", ("pearson",)),
        MetricInfo("spearman", ("spearman",)),
    ]
}

CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall", "matthews_correlation")


@dataclass(frozen=True)
class TaskType:
    name: str
    metrics: tuple[str, ...]
    default_metrics: tuple[dict, ...]
    required_inputs: int = 1  # how many input columns at least
    needs_label_names: bool = False
    default_inputs: tuple[str, ...] = field(default=())


TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in [
        TaskType(
            TEXT_CLASSIFICATION,
            CLASSIFICATION_METRICS,
            (
                {"name": "accuracy"},
                {"name": "f1", "average": "macro"},
                {"name": "precision", "average": "macro"},
                {"name": "recall", "average": "macro"},
                {"name": "matthews_correlation"},
            ),
            needs_label_names=True,
            default_inputs=("text",),
        ),
        TaskType(
            TOKEN_CLASSIFICATION,
            ("seqeval",),
            ({"name": "seqeval"},),
            default_inputs=("tokens",),
        ),
        TaskType(
            QUESTION_ANSWERING,
            ("squad",),
            ({"name": "squad"},),
            required_inputs=2,
            default_inputs=("question", "context"),
        ),
        TaskType(
            TEXT_GENERATION,
            ("rouge", "bleu", "chrf"),
            ({"name": "rouge"}, {"name": "bleu"}, {"name": "chrf"}),
            default_inputs=("source",),
        ),
        TaskType(
            REGRESSION,
            ("mse", "mae", "pearson", "spearman"),
            ({"name": "mse"}, {"name": "mae"}, {"name": "pearson"}, {"name": "spearman"}),
            default_inputs=("text",),
        ),
        TaskType(
            IMAGE_CLASSIFICATION,
            CLASSIFICATION_METRICS,
            ({"name": "accuracy"}, {"name": "f1", "average": "macro"}),
            needs_label_names=True,
            default_inputs=("image",),
        ),
    ]
}


def normalize_metric_spec(spec: str | dict) -> dict:
    """`"accuracy"` → `{"name": "accuracy"}`; dicts are copied."""
    return {"name": spec} if isinstance(spec, str) else dict(spec)


def metric_keys(spec: dict) -> list[str]:
    """The keys a metric spec reports under (docs/formats.md): `{name: f1, average: macro}` →
    `["f1_macro"]`. For squad, the HasAns/NoAns keys exist only on v2 data; they are listed here
    so that a primary metric may name them."""
    info = METRICS[spec["name"]]
    if info.takes_average and spec.get("average"):
        return [f"{key}_{spec['average']}" for key in info.keys]
    return list(info.keys)


def lower_is_better(key: str) -> bool:
    """Direction of a reported metric key, for sorting leaderboards."""
    for info in METRICS.values():
        for base in info.keys:
            if key == base or (info.takes_average and key.startswith(base + "_")):
                return base in info.lower_is_better
    return False


def metric_scale(key: str) -> float | None:
    for info in METRICS.values():
        for base in info.keys:
            if key == base or (info.takes_average and key.startswith(base + "_")):
                return info.scale
    return 1.0


def key_scales(specs: list[dict]) -> dict[str, float | None]:
    """The display scale of every key a task's metric specs report. Keys are not unique across
    metrics (SQuAD's `f1` is 0–100, a classification `f1` 0–1), so this is per task."""
    return {
        key: METRICS[spec["name"]].scale
        for spec in specs
        if spec.get("name") in METRICS
        for key in metric_keys(spec)
    }


def with_scales(metrics: dict | None, scales: dict[str, float | None]) -> dict:
    """A copy of stored metric entries with each one's display `scale` added."""
    return {
        key: {**(entry or {}), "scale": scales.get(key, metric_scale(key))}
        for key, entry in (metrics or {}).items()
    }


# What people read in headers instead of a raw key (the API and sort links keep the keys).
# Keys are not unique across metrics (SQuAD's `f1` and a classification `f1`), but their names
# are the same, so one mapping serves every task.
DISPLAY_NAMES: dict[str, str] = {
    "accuracy": "Accuracy",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "matthews_correlation": "MCC",
    "overall_precision": "Precision (entities)",
    "overall_recall": "Recall (entities)",
    "overall_f1": "F1 (entities)",
    "overall_accuracy": "Accuracy (tokens)",
    "exact_match": "Exact match",
    "HasAns_exact_match": "Exact match (answerable)",
    "HasAns_f1": "F1 (answerable)",
    "NoAns_exact_match": "Exact match (unanswerable)",
    "NoAns_f1": "F1 (unanswerable)",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "rougeLsum": "ROUGE-Lsum",
    "bleu": "BLEU",
    "chrf": "chrF",
    "mse": "MSE",
    "mae": "MAE",
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
}


def metric_display_name(key: str) -> str:
    """A reported key as people read it: `f1_macro` → "F1 (macro)", `rougeL` → "ROUGE-L". A key
    this module does not know is shown as it is."""
    if key in DISPLAY_NAMES:
        return DISPLAY_NAMES[key]
    for info in METRICS.values():
        if not info.takes_average:
            continue
        for base in info.keys:
            average = key.removeprefix(base + "_")
            if average != key and average in AVERAGES:
                return f"{DISPLAY_NAMES.get(base, base)} ({average})"
    return key
