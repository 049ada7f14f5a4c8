"""A submission's life, from upload to scores: publish the job, claim it, compute the
evaluations with the scoring library, record the outcome; rescoring. Reading and checking an
upload is in submissions/uploads.py, a model's run in submissions/model_runs.py, the reaper
that keeps anything from staying stuck in submissions/reaper.py. The submissions app's
services alone change a submission's status, and these modules are where the worker's changes
happen (docs/architecture.md)."""

from __future__ import annotations

import io
import logging
import threading
import time
import traceback
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from benchmarks.models import Split
from scoring.evaluation import score_split
from scoring.predictions import (
    PredictionFileError,
)
from submissions import charts, selectors
from submissions.board_entries import entries_refresh
from submissions.models import Evaluation, Submission
from submissions.notifications import result_email_send
from submissions.significance import significance_refresh_for
from submissions.split_cells import split_cells_ensure
from submissions.uploads import (
    PredictionsRejected,
    read_and_check,
    split_table,
    task_files,
)

logger = logging.getLogger(__name__)

Status = Submission.Status
SCORER_VERSION = "1"
PROGRESS_INTERVAL_S = 0.5
RUN_SHARE = 0.9  # of a model submission's progress bar: its run; the rest is scoring


# Publishing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobOptions:
    """Where a submission's job runs and for how long, decided when it is published."""

    queue: str
    soft_time_limit: int
    time_limit: int

    def as_celery(self) -> dict:
        return {
            "queue": self.queue,
            "soft_time_limit": self.soft_time_limit,
            "time_limit": self.time_limit,
        }


def job_options(submission: Submission) -> JobOptions:
    """Prediction files (and the predictions a model run wrote) are scored on the CPU queue: a
    million rows take seconds, so the soft limit means something is wrong, and the hard limit
    leaves time to record the failure. A model run goes to the `gpu` queue, with the time its
    tasks' `model_run` allow plus the time to fetch the model."""
    if submission.kind == Submission.Kind.MODEL and submission.stage == Submission.Stage.RUN:
        from submissions.model_runs import run_seconds  # model_runs imports this module

        soft = run_seconds(submission) + settings.MODEL_FETCH_TIME_LIMIT_SECONDS
        return JobOptions(queue="gpu", soft_time_limit=soft, time_limit=soft + 60)
    soft = settings.SCORING_TIME_LIMIT_SECONDS
    return JobOptions(queue="scoring", soft_time_limit=soft, time_limit=soft + 60)


def enqueue(submission: Submission) -> None:
    """Publish the submission's next job: the model run, or scoring. A broker that is down must
    not turn an accepted upload into an error page: the failure is logged and the reaper
    publishes the job again later."""
    from submissions.tasks import run_model, score_submission

    running_model = (
        submission.kind == Submission.Kind.MODEL and submission.stage == Submission.Stage.RUN
    )
    task = run_model if running_model else score_submission
    try:
        task.apply_async(
            args=[submission.pk],
            task_id=submission.celery_task_id,
            **job_options(submission).as_celery(),
        )
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.error("Could not enqueue submission %s: %s", submission.pk, type(exc).__name__)


def job_revoke(submission: Submission) -> None:
    """Best effort: a revoked job is dropped by the worker that receives it; a running job also
    stops at its final check, since it records only over a running row."""
    from submissions.tasks import score_submission

    if not submission.celery_task_id:
        return
    try:
        score_submission.app.control.revoke(submission.celery_task_id)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        logger.warning("Could not revoke %s: %s", submission.pk, type(exc).__name__)


# The worker's state changes --------------------------------------------------------------


def submission_claim(*, submission_id: int, stage: str | None = None, now=None) -> int | None:
    """Atomically take a submission to run: a queued one, or a running one whose lease expired
    (its worker died: no heartbeat for LEASE), in the given stage (a model run's message
    arriving after the run ended does nothing). Returns this run's claim number, which the
    run's later writes are conditional on, or None when someone else has it, it was cancelled,
    or it is final: redelivered and duplicate messages do nothing."""
    now = now or timezone.now()
    dead = Q(status=Status.RUNNING, heartbeat_at__lt=now - settings.LEASE)
    claimable = Submission.objects.filter(Q(status=Status.QUEUED) | dead, pk=submission_id)
    if stage is not None:
        claimable = claimable.filter(stage=stage)
    if not claimable.update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        # Scoring a model's predictions starts where its run ended on the progress bar.
        progress=Case(
            When(kind=Submission.Kind.MODEL, stage=Submission.Stage.SCORE, then=RUN_SHARE),
            default=0.0,
        ),
        claims=F("claims") + 1,
    ):
        return None
    return Submission.objects.values_list("claims", flat=True).get(pk=submission_id)


class Heartbeat:
    """While a run lasts, a thread renews its lease every HEARTBEAT; when the worker process
    dies, the heartbeats stop and the lease expires, so the job can be claimed again."""

    def __init__(self, *, submission_id: int, claim: int):
        self.submission_id, self.claim = submission_id, claim
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True, name="heartbeat")

    def beat(self) -> None:
        try:
            while not self.stopped.wait(settings.HEARTBEAT.total_seconds()):
                Submission.objects.filter(
                    pk=self.submission_id, status=Status.RUNNING, claims=self.claim
                ).update(heartbeat_at=timezone.now())
        except Exception as exc:  # the lease then expires: the job is run again, not lost
            logger.warning("Heartbeat of %s stopped: %s", self.submission_id, type(exc).__name__)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()


def submission_set_progress(*, submission_id: int, claim: int, progress: float) -> None:
    Submission.objects.filter(pk=submission_id, status=Status.RUNNING, claims=claim).update(
        progress=min(max(progress, 0.0), 1.0), heartbeat_at=timezone.now()
    )


def submission_fail(
    *, submission_id: int, message: str, by_platform: bool = False, claim: int | None = None
) -> bool:
    """Record a failure with a participant-safe message. Only unfinished submissions change;
    a run's own failure (`claim`) only while it still holds the submission."""
    rows = Submission.objects.filter(pk=submission_id).unfinished()
    if claim is not None:
        rows = rows.filter(status=Status.RUNNING, claims=claim)
    failed = bool(
        rows.update(
            status=Status.FAILED,
            error=message,
            failed_by_platform=by_platform,
            finished_at=timezone.now(),
        )
    )
    if failed:
        transaction.on_commit(lambda: result_email_send(submission_id=submission_id))
    return failed


def submission_fail_internal(*, submission_id: int, claim: int, exc: Exception, doing: str):
    """The end of a run that raised unexpectedly. A lost database (a restart, a dropped
    connection) is not a verdict, and recording needs the database too: re-raised, the run
    ends, its heartbeats have stopped, and the reaper publishes the job again once the lease
    expires. Anything else fails the submission as the platform's fault, logged with its
    traceback frames but not its message, which could quote data."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning(
            "%s submission %s lost the database: %s", doing, submission_id, type(exc).__name__
        )
        raise exc
    logger.error(
        "%s submission %s failed with %s:\n%s",
        doing,
        submission_id,
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    submission_fail(
        submission_id=submission_id,
        claim=claim,
        message=f"{doing} failed because of an internal error. It has been logged and does "
        "not count towards your quota.",
        by_platform=True,
    )


def submission_record(
    *, submission_id: int, claim: int, evaluations: list[Evaluation], stage_seconds=None
) -> bool:
    """Store the scores and mark the submission scored, only over a row this run still holds:
    a cancelled or reaped submission stays so, a run that lost its lease (claimed again after
    its heartbeats stopped) records nothing, and its scores are dropped."""
    with transaction.atomic():
        finished = Submission.objects.filter(
            pk=submission_id, status=Status.RUNNING, claims=claim
        ).update(
            status=Status.SCORED,
            progress=1.0,
            finished_at=timezone.now(),
            **({"stage_seconds": stage_seconds} if stage_seconds is not None else {}),
        )
        if finished:
            # A running row has no evaluations: they are only ever stored together with the
            # change to scored (rescoring replaces those of scored rows).
            Evaluation.objects.bulk_create(evaluations)
            entries_refresh([submission_id])
            transaction.on_commit(lambda: result_email_send(submission_id=submission_id))
    return bool(finished)


# Scoring ---------------------------------------------------------------------------------


def model_provenance(submission: Submission, task_slug: str) -> dict | None:
    """Which model made the predictions, and where it ran."""
    if submission.kind != Submission.Kind.MODEL:
        return None
    run = submission.run_info.get(task_slug, {})
    return {
        "repo_id": submission.model_repo_id or None,
        "revision": submission.model_revision or None,
        "sha": submission.model_sha,
        "archive": submission.original_filename or None,
        "device": run.get("device"),
        "dtype": run.get("dtype"),
        "torch": run.get("torch"),
        "transformers": run.get("transformers"),
    }


EFFICIENCY_KEYS = (
    "rows_per_second",
    "latency_ms_p50",
    "latency_ms_p95",
    "peak_rss_mb",
    "peak_gpu_mb",
    "parameters",
    "load_seconds",
    "device",
    "batch_size",
)


def efficiency_for(submission: Submission, task_slug: str) -> dict | None:
    """The speed and size figures a model run measured on this task (run.json)."""
    run = submission.run_info.get(task_slug)
    return {key: run.get(key) for key in EFFICIENCY_KEYS} if run else None


def provenance_for(split: Split, result_provenance: dict, model: dict | None = None) -> dict:
    return {
        **result_provenance,
        **({"model": model} if model else {}),
        "split": {
            "name": split.name,
            "fingerprint": split.fingerprint,
            "rows": split.num_rows,
            "hub_repo_id": split.hub_repo_id or None,
            "hub_commit": split.hub_commit or None,
        },
        "scorer_version": SCORER_VERSION,
        "scored_at": timezone.now().isoformat(),
    }


def evaluations_compute(
    *, submission: Submission, on_progress=None, examples: bool = True
) -> list[Evaluation]:
    """Score every task file of a submission on every scored split (unsaved Evaluations): the
    uploaded prediction file, or the predictions a model run wrote (a zip of one Parquet file
    per task, checked exactly like an upload). With `examples`, each evaluation's per-example
    results are written to storage (`Evaluation.examples`); `examples_discard` removes them
    again if the evaluations are not kept."""
    model = submission.kind == Submission.Kind.MODEL
    stored = submission.run_output if model else submission.file
    with stored.open("rb") as f:
        files = task_files(
            benchmark=submission.benchmark,
            task=submission.task,
            fileobj=io.BytesIO(f.read()),
            filename=stored.name if model else submission.original_filename or stored.name,
            phase=submission.phase,
        )
    splits = {tf.task.pk: list(tf.splits) for tf in files}
    total = sum(len(task_splits) for task_splits in splits.values())
    evaluations = []
    try:
        for tf in files:
            predictions = read_and_check(tf)
            spec = tf.task.spec()
            made_by = model_provenance(submission, tf.task.slug)
            for split in splits[tf.task.pk]:
                gold = split_table(split)
                split_cells_ensure(split, spec, gold)
                try:
                    result = score_split(
                        spec,
                        gold,
                        predictions,
                        resamples=settings.BOOTSTRAP_RESAMPLES,
                        seed=0,
                        examples=examples,
                    )
                except PredictionFileError as exc:
                    raise PredictionsRejected(exc.messages) from None
                evaluation = Evaluation(
                    submission=submission,
                    task=tf.task,
                    split=split,
                    metrics=result["metrics"],
                    slices=result["slices"],
                    confusion=result.get("confusion"),
                    efficiency=efficiency_for(submission, tf.task.slug) if model else None,
                    provenance=provenance_for(split, result["provenance"], model=made_by),
                )
                evaluation.cell_values = evaluation.cell_values_compute()
                if result.get("examples") is not None:
                    examples_store(evaluation, result["examples"])
                evaluations.append(evaluation)
                if on_progress:
                    on_progress(len(evaluations) / total)
    except BaseException:
        examples_discard(evaluations)  # a failed run keeps none of its per-example files
        raise
    return evaluations


def examples_store(evaluation: Evaluation, table: pa.Table) -> None:
    """Write an evaluation's per-example results (Parquet) to storage, unsaved."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    name = f"{evaluation.submission_id}-{evaluation.split_id}.parquet"
    evaluation.examples.save(name, ContentFile(sink.getvalue()), save=False)


def examples_discard(evaluations: list[Evaluation]) -> None:
    """Remove the stored per-example results of evaluations that were not kept."""
    for evaluation in evaluations:
        if evaluation.examples:
            evaluation.examples.delete(save=False)


def submission_score(*, submission_id: int) -> None:
    """The scoring job: claim the submission, score it under a heartbeat, and record the
    outcome. A bad file is an outcome (failed + message), and so is a file that takes longer
    than the time limit to score (its content made it so; files that are too large are refused
    at upload). An unexpected error fails the submission as the platform's fault and is logged
    without its message, which could quote data."""
    claim = submission_claim(submission_id=submission_id, stage=Submission.Stage.SCORE)
    if claim is None:
        return
    submission = Submission.objects.select_related("benchmark", "task").get(pk=submission_id)
    last_write = started = time.monotonic()
    base = RUN_SHARE if submission.kind == Submission.Kind.MODEL else 0.0

    def progress(value: float) -> None:
        # Scoring is most of the work; leave the last step for the save. A fast job finishes
        # before a page could show its progress: write at most every half second.
        nonlocal last_write
        if time.monotonic() - last_write >= PROGRESS_INTERVAL_S:
            last_write = time.monotonic()
            submission_set_progress(
                submission_id=submission_id, claim=claim, progress=base + (0.95 - base) * value
            )

    def fail(message: str, *, by_platform: bool = False) -> None:
        submission_fail(
            submission_id=submission_id, claim=claim, message=message, by_platform=by_platform
        )

    try:
        with Heartbeat(submission_id=submission_id, claim=claim):
            evaluations = evaluations_compute(submission=submission, on_progress=progress)
    except PredictionsRejected as exc:
        fail("\n".join(exc.messages))
        return
    except SoftTimeLimitExceeded:
        seconds = job_options(submission).soft_time_limit
        limit = f"{round(seconds / 60)}-minute" if seconds >= 120 else f"{seconds}-second"
        fail(
            f"Scoring this file took longer than the {limit} limit and was stopped. "
            "Files within the upload limits score in seconds, so this one's content made it "
            "slow (very long predictions, for example); it counts towards your quota."
        )
        return
    except Exception as exc:
        submission_fail_internal(submission_id=submission_id, claim=claim, exc=exc, doing="Scoring")
        return
    recorded = submission_record(
        submission_id=submission_id,
        claim=claim,
        evaluations=evaluations,
        stage_seconds={**submission.stage_seconds, "score": time.monotonic() - started},
    )
    if not recorded:
        examples_discard(evaluations)  # cancelled or taken over: its results are not kept
        return
    publications_warm(evaluations)
    charts_warm(submission_id=submission_id)
    significance_refresh_for(evaluations)


def publications_warm(evaluations: list[Evaluation]) -> None:
    """Work out, once per split, which slice cells its pages may show (seconds on a large
    hidden split), while the worker is here anyway, so that no page request waits for it. The
    submission is already scored: a failure here costs a page a wait, nothing more."""
    for evaluation in {e.split_id: e for e in evaluations}.values():
        try:
            selectors.publication_warm(evaluation.split, evaluation.task)
        except Exception as exc:  # its message may quote data: the type only
            logger.warning(
                "Could not work out the publication of split %s (%s).",
                evaluation.split_id,
                type(exc).__name__,
            )


def charts_warm(*, submission_id: int) -> None:
    """Draw the charts of a scored submission's result page into the shared cache (SVGs of a
    large breakdown take a second or more), while the worker is here anyway, so that no web
    process draws them for its first page. Every evaluation is drawn as a viewer who may see
    its scores sees it: from what the page shows only (on hidden splits, the published cells,
    after `publications_warm`). The submission is already scored: a failure here costs a page
    a wait, nothing more."""
    evaluations = Evaluation.objects.filter(submission_id=submission_id).select_related(
        "task", "split", "task__benchmark"
    )
    try:
        evaluations = list(evaluations.order_by("task__position", "split__position"))
    except Exception as exc:  # its message may quote data: the type only
        logger.warning("Could not read the evaluations to draw (%s).", type(exc).__name__)
        return
    for evaluation in evaluations:
        try:
            charts.charts_for(shown_result(evaluation))
        except Exception as exc:  # its message may quote data: the type only
            logger.warning(
                "Could not draw the charts of evaluation %s (%s).",
                evaluation.pk,
                type(exc).__name__,
            )


def shown_result(evaluation: Evaluation) -> dict:
    """The result dict of `evaluation` that the submission page draws its charts from, for a
    viewer who may see its scores (`selectors.shown_evaluation`, then `result_details`)."""
    return selectors.result_details(selectors.shown_evaluation(evaluation))
