"""Custom-code models: a `predict.py` at the root of the model folder whose
`predict(rows: list[dict], model_dir: str) -> list` the runner calls in chunks, in the rows'
order, instead of the built-in loaders (only where the job allows custom code)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from scoring.runner.job import Job, ModelError

PREDICT_FILE = "predict.py"


def has_predict_py(model_dir: str | Path) -> bool:
    return (Path(model_dir) / PREDICT_FILE).is_file()


def refuse_unless_allowed(job: Job, model_dir: str | Path) -> None:
    if has_predict_py(model_dir) and not job.allow_custom_code:
        raise ModelError(
            f"the model folder holds {PREDICT_FILE}, but this benchmark does not allow custom "
            "code: remove it to use the built-in loaders"
        )


def load_predict(model_dir: str | Path):
    """Imports `predict.py` (with the model folder on sys.path, so it may import its own
    modules) and returns its `predict` function."""
    folder = str(Path(model_dir).resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("predict", Path(folder) / PREDICT_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["predict"] = module
    spec.loader.exec_module(module)
    predict = getattr(module, "predict", None)
    if not callable(predict):
        raise ModelError(f"{PREDICT_FILE} defines no function predict(rows, model_dir)")
    return predict


class CustomPredictor:
    """The `Predictor` interface over `predict.py`: no sorting (rows keep their order), each
    chunk passed as a list of dicts holding `id` and the input columns."""

    model = None

    def __init__(self, job: Job, model_dir: str | Path):
        self.job = job
        self.model_dir = str(model_dir)
        self.function = load_predict(model_dir)

    def lengths(self, columns: dict[str, list]) -> list[int]:
        return [0] * len(columns["id"])

    def predict(self, columns: dict[str, list]) -> list:
        names = ["id", *self.job.input_columns]
        rows = [{name: columns[name][i] for name in names} for i in range(len(columns["id"]))]
        result = self.function(rows, self.model_dir)
        try:
            return list(result)
        except TypeError:
            raise ModelError(
                f"predict() returned {type(result).__name__}, not a list of predictions"
            ) from None
