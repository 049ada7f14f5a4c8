"""The run stage of a model submission (queue `gpu`): fetch the model, run it in the sandbox over
an inputs-only file of every scored split of each task, store the predictions it wrote, and
queue the submission again for its second stage, scoring (docs/sandbox.md).

This stage never reads a split's labels. The inputs files are written by the trusted side when a
model submission is accepted (`model_inputs_ensure`) and hold ids and input columns only, in
storage of their own (`model-inputs/`), so a `gpu` worker on another machine needs those, the
model files and its queue, never the split files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from benchmarks.models import Split, Task
from scoring import sandbox
from submissions import model_sources
from submissions.models import Submission
from submissions.pipeline import (
    PROGRESS_INTERVAL_S,
    RUN_SHARE,
    Heartbeat,
    enqueue,
    submission_claim,
    submission_fail,
    submission_fail_internal,
)
from submissions.uploads import split_table

logger = logging.getLogger(__name__)

Status = Submission.Status


# What a run may use ----------------------------------------------------------------------


def run_settings(task: Task) -> dict:
    """The task's `model_run` limits, with the platform's defaults for what it leaves out."""
    run = task.model_run or {}
    return {
        "timeout_s": run.get("timeout_s", settings.MODEL_RUN_TIMEOUT_SECONDS),
        "max_memory_gb": run.get("max_memory_gb", settings.MODEL_RUN_MAX_MEMORY_GB),
        "batch_size": run.get("batch_size", settings.MODEL_RUN_BATCH_SIZE),
        "max_new_tokens": run.get("max_new_tokens", settings.MODEL_RUN_MAX_NEW_TOKENS),
    }


def run_tasks(submission: Submission) -> list[Task]:
    """The tasks a model runs on: the one named at submission, else every task (of its phase:
    those with a split the phase scores)."""
    if submission.task_id:
        return [submission.task]
    tasks = submission.benchmark.tasks.prefetch_related("splits")
    return [task for task in tasks if submission.scored_splits(task)]


def run_seconds(submission: Submission) -> int:
    """The wall time the runs of a submission may take together."""
    return int(sum(run_settings(task)["timeout_s"] for task in run_tasks(submission)))


def sandbox_limits(task: Task) -> sandbox.Limits:
    run = run_settings(task)
    return sandbox.Limits(
        wall_seconds=float(run["timeout_s"]),
        memory_bytes=int(run["max_memory_gb"] * 2**30),
        processes=settings.MODEL_RUN_MAX_PROCESSES,
        file_bytes=settings.MODEL_RUN_MAX_OUTPUT_MB << 20,
    )


# Inputs (written by the trusted side) -----------------------------------------------------


def model_inputs_name(task: Task, splits: list[Split] | None = None) -> str:
    """Where a task's inputs-only file lives in storage: keyed by the task's columns and the
    fingerprints of the splits the run predicts (`splits`: a phase's; default every scored
    split), so a re-imported split gets a new file."""
    splits = task.scored_splits if splits is None else splits
    key = json.dumps(
        [task.id_column, list(task.input_columns), [[s.name, s.fingerprint] for s in splits]]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"model-inputs/{task.benchmark.slug}/{task.slug}-{digest}.parquet"


def model_inputs_ensure(task: Task, splits: list[Split] | None = None) -> str:
    """Write the task's inputs-only file unless it exists: the id and input columns of every
    scored split, in split order. Only those columns are read from the split files."""
    splits = task.scored_splits if splits is None else splits
    name = model_inputs_name(task, splits)
    if default_storage.exists(name):
        return name
    columns = (task.id_column, *task.input_columns)
    tables = [split_table(split, columns) for split in splits]
    table = pa.concat_tables(tables).combine_chunks()
    ids = table.column(task.id_column).cast(pa.string())
    table = table.set_column(0, task.id_column, ids)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    saved = default_storage.save(name, ContentFile(buffer.getvalue()))
    if saved != name:  # written meanwhile by another process: keep one copy
        default_storage.delete(saved)
    return name


# Models ----------------------------------------------------------------------------------


def archive_digest(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    while chunk := fileobj.read(1 << 20):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def model_folder(submission: Submission) -> Path:
    """The submission's model on this machine: a Hub snapshot fetched by commit (the Hub cache
    is keyed by it), or the uploaded archive unpacked once into a folder keyed by its sha256."""
    benchmark = submission.benchmark
    policy = {
        "allow_custom_code": benchmark.allow_custom_code,
        "allow_pickle_weights": benchmark.allow_pickle_weights,
    }
    if submission.model_repo_id:
        return model_sources.hub_fetch(
            repo_id=submission.model_repo_id, sha=submission.model_sha, **policy
        )
    with submission.file.open("rb") as archive:
        return archive_unpacked(
            archive=archive,
            filename=submission.original_filename,
            digest=submission.model_sha.removeprefix("sha256:"),
            **policy,
        )


def archive_unpacked(
    *, archive, filename: str, digest: str, allow_custom_code: bool, allow_pickle_weights: bool
) -> Path:
    """An uploaded model archive unpacked once per machine, into a folder keyed by its sha256
    (the web process unpacks it to check it at upload; a worker on the same machine finds it
    there), and checked against this benchmark's policy. Returns the folder that holds the
    model's files: the archive's root or its one top folder."""
    policy = {
        "allow_custom_code": allow_custom_code,
        "allow_pickle_weights": allow_pickle_weights,
    }
    root = Path(settings.MODEL_FILES_DIR) / "archives"
    folder = root / digest
    if not folder.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".unpacking-"))
        try:
            archive.seek(0)
            model_sources.archive_extract(
                fileobj=archive, filename=filename, dest=staging, **policy
            )
            with contextlib.suppress(OSError):  # another process unpacked it meanwhile
                staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    tops = [p for p in folder.iterdir() if p.is_dir()]
    found = folder if (folder / "config.json").is_file() or len(tops) != 1 else tops[0]
    model_sources.model_folder_check(folder=found, **policy)
    return found


# The run ---------------------------------------------------------------------------------


def job_spec(task: Task) -> dict:
    run = run_settings(task)
    return {
        "task_type": task.type,
        "id_column": task.id_column,
        "input_columns": list(task.input_columns),
        "labels": list(task.label_names),
        "batch_size": run["batch_size"],
        "max_new_tokens": run["max_new_tokens"],
        "allow_custom_code": task.benchmark.allow_custom_code,
        "device": "cuda" if settings.MODEL_RUN_GPUS else "cpu",
    }


def submission_run(*, submission_id: int) -> None:
    """The run job: claim the submission in its run stage, fetch the model, run it on each task
    in the sandbox under a heartbeat, store its predictions, and queue it for scoring. What
    the model does wrong (a crash, a limit, bad output, a refused file) fails the submission
    with a label-free message and counts towards the quota; only the platform's own errors
    are free."""
    claim = submission_claim(submission_id=submission_id, stage=Submission.Stage.RUN)
    if claim is None:
        return
    submission = Submission.objects.select_related("benchmark", "task").get(pk=submission_id)
    timings = dict(submission.stage_seconds)
    timings.setdefault("queued", (timezone.now() - submission.created_at).total_seconds())

    def fail(message: str, *, by_platform: bool = False) -> None:
        submission_fail(
            submission_id=submission_id, claim=claim, message=message, by_platform=by_platform
        )

    jobs_root = Path(settings.DATA_DIR) / "jobs"
    jobs_root.mkdir(parents=True, exist_ok=True)
    job_dirs: list[Path] = []
    try:
        if not sandbox.available() and not settings.MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE:
            fail(
                "This scoring machine cannot run models: its sandbox (bubblewrap) is missing. "
                "This is the platform's fault and does not count towards your quota.",
                by_platform=True,
            )
            return
        with Heartbeat(submission_id=submission_id, claim=claim):
            started = time.monotonic()
            try:
                folder = model_folder(submission)
            except model_sources.HubUnreachable as exc:  # the Hub's fault, not the model's
                fail("\n".join(exc.messages), by_platform=True)
                return
            except model_sources.ModelSourceError as exc:
                fail("\n".join(exc.messages))
                return
            timings["fetch"] = time.monotonic() - started
            tasks = run_tasks(submission)
            inputs = {
                task.slug: default_storage.open(
                    model_inputs_name(task, submission.scored_splits(task))
                )
                for task in tasks
            }
            try:
                rows = {slug: pq.ParquetFile(f).metadata.num_rows for slug, f in inputs.items()}
                total = sum(rows.values())
                Submission.objects.filter(pk=submission_id, claims=claim).update(
                    rows_total=total, rows_done=0
                )
                started = time.monotonic()
                outputs, run_info, done_before = {}, {}, 0
                for task in tasks:
                    job_dir = Path(tempfile.mkdtemp(dir=jobs_root, prefix=f"{submission_id}-"))
                    job_dirs.append(job_dir)
                    inputs[task.slug].seek(0)
                    with open(job_dir / "inputs.parquet", "wb") as out:
                        shutil.copyfileobj(inputs[task.slug], out)
                    (job_dir / "job.json").write_text(json.dumps(job_spec(task)))
                    outcome = sandbox.run_model(
                        job_dir=job_dir,
                        model_dir=folder,
                        limits=sandbox_limits(task),
                        gpus=tuple(int(gpu) for gpu in settings.MODEL_RUN_GPUS),
                        unsafe_without_sandbox=settings.MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE,
                        on_progress=RunProgress(submission_id, claim, done_before, total),
                        keep_going=lambda: still_held(submission_id, claim),
                    )
                    if outcome.reason == "cancelled":
                        return  # cancelled or taken over meanwhile: nothing to record
                    if not outcome.ok:
                        prefix = f"Task {task.slug}: " if len(tasks) > 1 else ""
                        if outcome.platform_fault:
                            logger.error(
                                "Model run %s: %s (%s)",
                                submission_id,
                                outcome.reason,
                                outcome.details.get("why", ""),
                            )
                            fail(
                                prefix + outcome.message + ". This is the platform's fault and "
                                "does not count towards your quota.",
                                by_platform=True,
                            )
                        else:
                            fail(prefix + outcome.message)
                        return
                    outputs[task.slug] = outcome.predictions_path or job_dir / "predictions.parquet"
                    run_info[task.slug] = outcome.run or {}
                    done_before += rows[task.slug]
            finally:
                for f in inputs.values():
                    f.close()
            timings["run"] = time.monotonic() - started
        submission_queue_for_scoring(
            submission=submission,
            claim=claim,
            outputs=outputs,
            run_info=run_info,
            timings=timings,
        )
    except SoftTimeLimitExceeded:
        minutes = max(1, round(run_seconds(submission) / 60))
        fail(
            "Fetching and running the model took longer than its time limit "
            f"({minutes} minutes in all) and was stopped; it counts towards your quota."
        )
    except Exception as exc:
        submission_fail_internal(
            submission_id=submission_id, claim=claim, exc=exc, doing="Running the model"
        )
    finally:
        for job_dir in job_dirs:
            shutil.rmtree(job_dir, ignore_errors=True)


def still_held(submission_id: int, claim: int) -> bool:
    """Whether this run still holds the submission (not cancelled, not claimed again): polled
    by the sandbox every few seconds, so a cancel stops the model at once."""
    return Submission.objects.filter(pk=submission_id, status=Status.RUNNING, claims=claim).exists()


class RunProgress:
    """The sandbox's progress callback: rows done over every task, written at most every
    PROGRESS_INTERVAL_S, as the run's share of the progress bar."""

    def __init__(self, submission_id: int, claim: int, done_before: int, total: int):
        self.submission_id, self.claim = submission_id, claim
        self.done_before, self.total = done_before, max(total, 1)
        self.last_write = 0.0

    def __call__(self, rows_done: int, rows_total: int) -> None:
        if time.monotonic() - self.last_write < PROGRESS_INTERVAL_S:
            return
        self.last_write = time.monotonic()
        done = self.done_before + rows_done
        Submission.objects.filter(
            pk=self.submission_id, status=Status.RUNNING, claims=self.claim
        ).update(
            rows_done=done,
            progress=RUN_SHARE * min(done / self.total, 1.0),
            heartbeat_at=timezone.now(),
        )


def submission_queue_for_scoring(
    *, submission: Submission, claim: int, outputs: dict, run_info: dict, timings: dict
) -> bool:
    """Store the run's predictions (a zip of `<task>.parquet`, what a participant could have
    uploaded) and queue the submission for scoring, only while this run still holds it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for slug, path in outputs.items():
            archive.write(path, f"{slug}.parquet")
    name = default_storage.save(
        f"runs/{submission.benchmark.slug}/{submission.pk}-{claim}-predictions.zip",
        ContentFile(buffer.getvalue()),
    )
    with transaction.atomic():
        queued = Submission.objects.filter(
            pk=submission.pk, status=Status.RUNNING, claims=claim
        ).update(
            status=Status.QUEUED,
            stage=Submission.Stage.SCORE,
            run_output=name,
            run_info=run_info,
            stage_seconds=timings,
            rows_done=sum(run.get("rows", 0) for run in run_info.values()),
            progress=RUN_SHARE,
            # The reaper's wait for a queued job starts now, not at the upload.
            requeued_at=timezone.now(),
            attempts=0,
        )
        if queued:
            submission.stage = Submission.Stage.SCORE
            transaction.on_commit(lambda: enqueue(submission))
    if not queued:
        default_storage.delete(name)
    return bool(queued)
