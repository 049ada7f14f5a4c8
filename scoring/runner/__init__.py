"""The model runner: inference of a submitted model over a job folder (docs/sandbox.md).

    python -m scoring.runner JOB_DIR MODEL_DIR

reads `JOB_DIR/job.json` and `JOB_DIR/inputs.parquet`, runs the model of `MODEL_DIR` (a Hugging
Face model folder, or a custom-code `predict.py` where the job allows custom code) and writes
`predictions.parquet`, `progress.json` (after every batch) and `run.json` (timings, memory,
versions) into JOB_DIR. Errors go to stderr as one `error: …` line with an exit status that
says whose fault it is (`scoring.runner.job.EXIT_*`). It trusts nothing it runs: the trusted
worker starts it inside the sandbox (scoring.sandbox).

Inference: rows sorted by input length into batches of `batch_size` (the original order is
restored when writing), padding per batch, `model.eval()` under `torch.inference_mode()`,
bf16 (or fp16) on a GPU. The first batch is a warm-up: its predictions are kept, its time is
not in the latency figures.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from pathlib import Path

from scoring.runner.job import (
    EXIT_CRASH,
    EXIT_FILE_SIZE,
    EXIT_JOB,
    EXIT_MEMORY,
    EXIT_OK,
    EXIT_PROCESSES,
    RUN_FILE,
    Job,
    JobError,
    ModelError,
    OutputError,
    RunnerError,
    load_job,
    read_inputs,
    report_ready,
    write_json_atomic,
    write_predictions,
    write_progress,
)

__all__ = [
    "EXIT_CRASH",
    "EXIT_FILE_SIZE",
    "EXIT_JOB",
    "EXIT_MEMORY",
    "EXIT_OK",
    "EXIT_PROCESSES",
    "Job",
    "JobError",
    "ModelError",
    "OutputError",
    "RunnerError",
    "load_job",
    "main",
    "run_job",
]

# Offline, quiet, single-process tokenizers: set before transformers is imported.
QUIET_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Meter:
    """Batch timings: each row's latency is its batch's wall time; the first batch is the
    warm-up and stays out of the figures (unless it is the only one)."""

    def __init__(self):
        self.batches: list[tuple[int, float]] = []

    def add(self, rows: int, seconds: float) -> None:
        self.batches.append((rows, seconds))

    def summary(self) -> dict:
        timed = self.batches[1:] or self.batches
        rows = sum(n for n, _ in timed)
        seconds = sum(s for _, s in timed)
        latencies = [s * 1000 for n, s in timed for _ in range(n)]
        p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)
        return {
            "rows_per_second": round(rows / seconds, 3) if seconds > 0 else None,
            "latency_ms_p50": round(p50, 3) if p50 is not None else None,
            "latency_ms_p95": round(p95, 3) if p95 is not None else None,
            "warmup_rows": self.batches[0][0] if len(self.batches) > 1 else 0,
            "inference_seconds": round(sum(s for _, s in self.batches), 4),
        }


def _version(package: str) -> str | None:
    from importlib import metadata

    module = sys.modules.get(package)
    if module is not None and isinstance(getattr(module, "__version__", None), str):
        return module.__version__
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _device_and_dtype(job: Job):
    import torch

    if job.device == "cuda":
        if not torch.cuda.is_available():
            raise JobError("the job asks for a GPU, but CUDA is not available")
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype, torch.cuda.get_device_name()
    return torch.device("cpu"), torch.float32, "cpu"


def run_job(job_dir: str | Path, model_dir: str | Path) -> dict:
    """Runs the job and writes its files; returns what it wrote to run.json. Raises a
    `RunnerError` for a job or model it cannot run, MemoryError when out of memory."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    job_dir, model_dir = Path(job_dir), Path(model_dir)
    job = load_job(job_dir)
    if not model_dir.is_dir():
        raise JobError(f"no model folder at {model_dir}")
    from scoring.runner.custom import CustomPredictor, has_predict_py, refuse_unless_allowed

    refuse_unless_allowed(job, model_dir)
    ids, columns = read_inputs(job_dir, job)
    total = len(ids)
    write_progress(job_dir, 0, total)

    custom = has_predict_py(model_dir)
    if custom and job.device == "cpu":
        torch = None  # custom code imports what it needs; the runner does not need torch
        device_type, dtype, device_name = "cpu", None, "cpu"
    else:
        import torch
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        device, dtype, device_name = _device_and_dtype(job)
        device_type = device.type

    report_ready()
    started = time.perf_counter()
    if custom:
        predictor = CustomPredictor(job, model_dir)
    else:
        from scoring.runner.models import load_predictor

        predictor = load_predictor(job, model_dir, device, dtype)
    load_seconds = time.perf_counter() - started

    columns = {"id": ids, **columns}
    lengths = predictor.lengths(columns)
    order = sorted(range(total), key=lambda i: -lengths[i])  # stable: ties keep their order
    predictions: list = [None] * total
    meter = Meter()
    done = 0
    synchronize = torch.cuda.synchronize if device_type == "cuda" else (lambda: None)
    with torch.inference_mode() if torch is not None else contextlib.nullcontext():
        for begin in range(0, total, job.batch_size):
            rows = order[begin : begin + job.batch_size]
            batch = {name: [values[i] for i in rows] for name, values in columns.items()}
            tick = time.perf_counter()
            result = predictor.predict(batch)
            synchronize()
            meter.add(len(rows), time.perf_counter() - tick)
            if len(result) != len(rows):
                raise OutputError(
                    f"The model returned {len(result)} predictions for {len(rows)} rows"
                )
            for i, value in zip(rows, result, strict=True):
                predictions[i] = value
            done += len(rows)
            write_progress(job_dir, done, total)

    write_predictions(job_dir, job.task_type, ids, predictions)
    model = predictor.model
    parameters = sum(p.numel() for p in model.parameters()) if model is not None else None
    report = {
        "task_type": job.task_type,
        "custom_code": custom,
        "load_seconds": round(load_seconds, 4),
        "rows": total,
        **meter.summary(),
        "peak_rss_mb": _peak_rss_mb(),
        "peak_gpu_mb": (
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if device_type == "cuda" else None
        ),
        "parameters": parameters,
        "device": device_name,
        "dtype": str(dtype).removeprefix("torch.") if dtype is not None and not custom else None,
        "batch_size": job.batch_size,
        "torch": _version("torch"),
        "transformers": _version("transformers"),
        "python": sys.version.split()[0],
    }
    write_json_atomic(job_dir / RUN_FILE, report)
    return report


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    name = type(error).__name__
    text = str(error)[:500]
    if isinstance(error, OSError) and error.errno == errno.ENOMEM:
        return True
    if isinstance(error, ImportError) and "failed to map segment" in text:
        return True  # a library that no longer fits the address-space limit
    return name == "OutOfMemoryError" or (
        isinstance(error, RuntimeError)
        and ("can't allocate memory" in text or "out of memory" in text)
    )


def main(argv: list[str] | None = None) -> int:
    """The command line: exit status 0 when the files are written, else one of the
    `EXIT_*` statuses with an `error: …` line (after any traceback) on stderr."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m scoring.runner JOB_DIR MODEL_DIR", file=sys.stderr)
        return EXIT_JOB
    try:
        run_job(argv[0], argv[1])
    except RunnerError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except BaseException as error:  # noqa: BLE001 - the status tells the sandbox what happened
        if isinstance(error, KeyboardInterrupt):
            raise
        if _is_out_of_memory(error):
            print("error: out of memory", file=sys.stderr)
            return EXIT_MEMORY
        if isinstance(error, SystemExit):
            raise
        if isinstance(error, OSError) and error.errno == errno.EFBIG:
            print("error: a file passed the file-size limit", file=sys.stderr)
            return EXIT_FILE_SIZE
        if isinstance(error, BlockingIOError) or "can't start new thread" in str(error)[:200]:
            print("error: a process or thread could not be started", file=sys.stderr)
            return EXIT_PROCESSES
        import traceback

        traceback.print_exc(limit=-8, file=sys.stderr)
        return EXIT_CRASH
    return EXIT_OK
