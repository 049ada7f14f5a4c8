"""The platform's metrics, each an `evaluate.Metric` module backed by a vectorised core.

`MODULES` maps a metric name of `scoring.tasktypes.METRICS` to its `evaluate` class, for people
who want the familiar `Metric.compute(predictions=..., references=...)` call.
"""

from __future__ import annotations

import sys

if "evaluate" not in sys.modules and "transformers" not in sys.modules:
    # `import evaluate` also loads its Evaluator classes, which import transformers, and with it
    # torch, whenever transformers is installed: about 3 s and 350 MB in every web and scoring
    # process, for classes the platform never uses. Only the sandboxed model runner needs
    # transformers, and it imports it itself.
    sys.modules["transformers"] = None  # type: ignore[assignment]
    try:
        import evaluate  # noqa: F401
    finally:
        del sys.modules["transformers"]

from scoring.metrics import bleu, classification, regression, rouge, squad, tagging

MODULES: dict[str, type] = {
    "accuracy": classification.Accuracy,
    "precision": classification.Precision,
    "recall": classification.Recall,
    "f1": classification.F1,
    "matthews_correlation": classification.MatthewsCorrelation,
    "seqeval": tagging.Seqeval,
    "squad": squad.Squad,
    "rouge": rouge.Rouge,
    "bleu": bleu.SacreBleu,
    "chrf": bleu.Chrf,
    "mse": regression.MSE,
    "mae": regression.MAE,
    "pearson": regression.Pearson,
    "spearman": regression.Spearman,
}

VERSIONS: dict[str, str] = {name: module.VERSION for name, module in MODULES.items()}


def load(name: str, **kwargs):
    """An in-memory instance of a metric module (no Hub, no cache files)."""
    return MODULES[name](keep_in_memory=True, **kwargs)
