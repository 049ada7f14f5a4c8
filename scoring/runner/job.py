"""The job folder (docs/sandbox.md): reading `job.json` and `inputs.parquet`, writing
`predictions.parquet`, `progress.json` and `run.json`. Plain Python and pyarrow, no torch."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scoring import tasktypes

JOB_FILE = "job.json"
INPUTS_FILE = "inputs.parquet"
PREDICTIONS_FILE = "predictions.parquet"
PROGRESS_FILE = "progress.json"
RUN_FILE = "run.json"

# Exit statuses of `python -m scoring.runner`, read by scoring.sandbox.
EXIT_OK = 0
EXIT_CRASH = 1  # an unexpected exception (a traceback on stderr)
EXIT_JOB = 2  # the job folder is invalid: the platform's fault
EXIT_MEMORY = 3  # out of memory (MemoryError, a failed torch allocation)
EXIT_MODEL = 4  # the model cannot be used (refused custom code, wrong head, no tokenizer...)
EXIT_OUTPUT = 5  # the model's predictions do not fit the task (count, type)
EXIT_FILE_SIZE = 6  # a write passed the file-size limit (EFBIG)
EXIT_PROCESSES = 7  # a process or thread could not be started (the process limit)

# The sandbox passes the runner a pipe in this variable; the runner writes `{"ready": true}`
# to it once the job is read and checked, just before any of the model's code or weights are
# loaded, and closes it. What fails before that is the platform's (or a refusal); what fails
# after it is the model's, whatever the model prints or exits with.
STATUS_FD_VARIABLE = "SCORING_RUNNER_STATUS_FD"


class RunnerError(Exception):
    """An error the runner reports in one clear line (`error: …` on stderr) with an exit
    status of its own."""

    exit_code = EXIT_CRASH


class JobError(RunnerError):
    exit_code = EXIT_JOB


class ModelError(RunnerError):
    exit_code = EXIT_MODEL


class OutputError(RunnerError):
    exit_code = EXIT_OUTPUT


@dataclass(frozen=True)
class Job:
    task_type: str
    input_columns: tuple[str, ...]
    id_column: str = "id"
    labels: tuple[str, ...] = ()
    batch_size: int = 32
    max_new_tokens: int = 64
    allow_custom_code: bool = False
    device: str = "cpu"
    extra: dict = field(default_factory=dict)


def load_job(job_dir: str | Path) -> Job:
    """Reads and checks `job.json`; a bad one is a `JobError` (the platform wrote it)."""
    path = Path(job_dir) / JOB_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise JobError(f"cannot read {JOB_FILE}: {error}") from None
    if not isinstance(data, dict):
        raise JobError(f"{JOB_FILE} must hold an object")
    task_type = data.get("task_type")
    if task_type not in tasktypes.TASK_TYPES:
        raise JobError(f"{JOB_FILE}: unknown task_type {task_type!r}")
    columns = data.get("input_columns")
    if (
        not isinstance(columns, list)
        or not columns
        or not all(isinstance(c, str) and c for c in columns)
    ):
        raise JobError(f"{JOB_FILE}: input_columns must be a nonempty list of column names")
    if task_type == tasktypes.QUESTION_ANSWERING and len(columns) != 2:
        raise JobError(f"{JOB_FILE}: question answering takes [question, context] columns")
    labels = data.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise JobError(f"{JOB_FILE}: labels must be a list of strings")
    device = data.get("device", "cpu")
    if device not in ("cpu", "cuda"):
        raise JobError(f"{JOB_FILE}: device must be cpu or cuda, not {device!r}")
    numbers = {}
    for key, default in (("batch_size", 32), ("max_new_tokens", 64)):
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65536:
            raise JobError(f"{JOB_FILE}: {key} must be a whole number from 1 to 65536")
        numbers[key] = value
    id_column = data.get("id_column", "id")
    if not isinstance(id_column, str) or not id_column:
        raise JobError(f"{JOB_FILE}: id_column must be a column name")
    known = {
        "task_type",
        "id_column",
        "input_columns",
        "labels",
        "batch_size",
        "max_new_tokens",
        "allow_custom_code",
        "device",
    }
    return Job(
        task_type=task_type,
        input_columns=tuple(columns),
        id_column=id_column,
        labels=tuple(labels),
        allow_custom_code=data.get("allow_custom_code") is True,
        device=device,
        extra={k: v for k, v in data.items() if k not in known},
        **numbers,
    )


def read_inputs(job_dir: str | Path, job: Job) -> tuple[list[str], dict[str, list]]:
    """The ids (as strings) and each input column (as Python values) of `inputs.parquet`."""
    path = Path(job_dir) / INPUTS_FILE
    try:
        table = pq.read_table(path, columns=[job.id_column, *job.input_columns])
    except (OSError, pa.ArrowException, KeyError) as error:
        raise JobError(f"cannot read {INPUTS_FILE}: {error}") from None
    ids = [str(value) for value in table.column(job.id_column).to_pylist()]
    columns = {name: table.column(name).to_pylist() for name in job.input_columns}
    return ids, columns


def write_json_atomic(path: str | Path, data: dict) -> None:
    """Writes JSON to a temporary file beside `path` and renames it over `path`, so a reader
    never sees half a file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, sort_keys=True))
    os.replace(temporary, path)


def report_ready() -> None:
    """Tells the sandbox (through its pipe, then closed) that the model is about to load."""
    value = os.environ.pop(STATUS_FD_VARIABLE, None)
    if not value:
        return
    try:
        fd = int(value)
        os.write(fd, b'{"ready": true}')
        os.close(fd)
    except (ValueError, OSError):
        pass


def write_progress(job_dir: str | Path, rows_done: int, rows_total: int) -> None:
    write_json_atomic(
        Path(job_dir) / PROGRESS_FILE, {"rows_done": rows_done, "rows_total": rows_total}
    )


def _plain(value):
    """numpy and torch scalars and arrays as Python values."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _describe(value) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def prediction_array(task_type: str, ids: list[str], predictions: list) -> pa.Array:
    """The `prediction` column for the task type (docs/formats.md, "Prediction files"): label
    names (strings) or class indices (integers) for classification, lists of tags for token
    classification, text for question answering and generation, floats for regression. A value
    of the wrong kind is an `OutputError` naming the row's id."""
    values = [_plain(value) for value in predictions]

    def refuse(i: int, wanted: str):
        raise OutputError(
            f"the prediction for id {ids[i][:40]!r} is {_describe(values[i])}; "
            f"a {task_type} prediction is {wanted}"
        )

    if task_type in tasktypes.CLASSIFICATION_TYPES:
        kinds = set()
        for i, value in enumerate(values):
            if isinstance(value, str):
                kinds.add(str)
            elif isinstance(value, int) and not isinstance(value, bool):
                kinds.add(int)
            else:
                refuse(i, "a label name or a class index")
        if len(kinds) > 1:
            raise OutputError("the predictions mix label names and class indices")
        return pa.array(values, type=pa.int64() if kinds == {int} else pa.string())
    if task_type == tasktypes.TOKEN_CLASSIFICATION:
        for i, value in enumerate(values):
            if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
                refuse(i, "a list of tags (strings)")
        return pa.array(values, type=pa.list_(pa.string()))
    if task_type == tasktypes.REGRESSION:
        for i, value in enumerate(values):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                refuse(i, "a number")
            if not math.isfinite(value):
                refuse(i, "a finite number")
        return pa.array([float(v) for v in values], type=pa.float64())
    for i, value in enumerate(values):  # question answering, text generation
        if not isinstance(value, str):
            refuse(i, "a text")
    return pa.array(values, type=pa.string())


def write_predictions(job_dir: str | Path, task_type: str, ids: list[str], predictions: list):
    """Writes `predictions.parquet` (`id`, `prediction`), through a temporary file."""
    if len(predictions) != len(ids):
        raise OutputError(f"The model returned {len(predictions)} predictions for {len(ids)} rows")
    table = pa.table(
        {
            "id": pa.array(ids, type=pa.string()),
            "prediction": prediction_array(task_type, ids, predictions),
        }
    )
    path = Path(job_dir) / PREDICTIONS_FILE
    temporary = path.with_name(f".{PREDICTIONS_FILE}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)
