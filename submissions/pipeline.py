"""A submission's life, from upload to scores: check an upload, publish the job, claim it,
compute the evaluations with the scoring library, record the outcome; baselines; rescoring; the
reaper that keeps anything from staying stuck. The submissions app's services alone change a
submission's status, and this module is where the worker's changes happen (see
docs/architecture.md)."""

from __future__ import annotations

import io
import logging
import threading
import time
import traceback
import uuid
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from benchmarks.models import Benchmark, Split, Task
from benchmarks.services import benchmark_import
from scoring.baselines import baselines_for
from scoring.evaluation import align_predictions, check_tag_lengths, score_split
from scoring.predictions import (
    DEFAULT_LIMITS,
    Limits,
    PredictionFileError,
    check_predictions,
    read_prediction_file,
)
from scoring.streams import ZIP_READ_ERRORS
from scoring.tasktypes import TOKEN_CLASSIFICATION
from submissions.models import Evaluation, Submission

logger = logging.getLogger(__name__)

Status = Submission.Status
SCORER_VERSION = "1"
PROGRESS_INTERVAL_S = 0.5
PREDICTION_SUFFIXES = (".csv", ".jsonl", ".json", ".parquet")


class PredictionsRejected(Exception):
    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("; ".join(messages))


# A zip holds one file per task (and perhaps a readme, or its folders): a few dozen entries.
# Opening a zip parses every entry of its directory into an object, so they are counted first.
MAX_ZIP_ENTRIES = 1000
ZIP_ENTRY_SIGNATURE = b"PK\x01\x02"
# Stored and deflate only: zipfile inflates bzip2 and LZMA members with no bound on the output
# of a single piece, so a member of a few hundred bytes can take gigabytes whatever it declares.
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass
class TaskFile:
    """One prediction file of an upload and the task it is for: the upload itself, or a member
    of a zip, unpacked (within the limits) only when it is read."""

    task: Task
    filename: str
    limits: Limits = DEFAULT_LIMITS
    source: object = None  # a path or binary file object
    archive: zipfile.ZipFile | None = None  # with `member`: a file in a zip
    member: zipfile.ZipInfo | None = None

    def open(self):
        if self.member is None:
            return self.source
        return _unzipped(self.archive, self.member, self.limits.max_bytes)


def _unzipped(archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_bytes: int) -> bytearray:
    # zipfile stops at the size the directory declares, which was checked; the count here
    # holds whatever the archive says.
    out = bytearray()
    try:
        with archive.open(member) as stream:
            while len(out) <= max_bytes and (piece := stream.read(1 << 20)):
                out += piece
    except ZIP_READ_ERRORS:
        raise PredictionFileError("it could not be unpacked: the zip is damaged.") from None
    if len(out) > max_bytes:
        raise PredictionFileError(
            f"it unpacks to more than {max_bytes >> 20} MB, the limit for a prediction file."
        )
    return out


def _is_prediction_name(name: str) -> bool:
    lower = name.lower().removesuffix(".gz")
    return lower.endswith(PREDICTION_SUFFIXES)


def _shown_name(name: str) -> str:
    return name if len(name) <= 100 else name[:99] + "…"


def prediction_limits(benchmark: Benchmark) -> Limits:
    """What one prediction file of the benchmark may hold (docs/formats.md, "Prediction
    files"): sizes from the settings, and rows for every id of the benchmark's scored splits
    plus room to report duplicated and unknown ids (a file with a `task` column may hold the
    rows of every task)."""
    splits = Split.objects.scored().filter(task__benchmark=benchmark)
    ids = sum(splits.values_list("num_rows", flat=True))
    return Limits(
        max_bytes=settings.MAX_PREDICTION_DECODED_MB << 20,
        max_rows=ids + ids // 10 + settings.MAX_PREDICTION_EXTRA_ROWS,
        max_columns=settings.MAX_PREDICTION_COLUMNS,
        max_text_chars=settings.MAX_PREDICTION_TEXT_CHARS,
        max_mean_text_chars=settings.MAX_PREDICTION_MEAN_TEXT_CHARS,
    )


def task_files(
    *, benchmark: Benchmark, task: Task | None, fileobj, filename: str
) -> list[TaskFile]:
    """Which task each prediction file is for: a zip holds `<task-slug>.<ext>` per task; a
    single file goes to the task named in the request, or to the benchmark's only task."""
    tasks = list(benchmark.tasks.all())
    limits = prediction_limits(benchmark)
    if filename.lower().endswith(".zip"):
        return _zip_task_files(fileobj, tasks=tasks, task=task, limits=limits)
    if not _is_prediction_name(filename):
        raise PredictionsRejected(
            [
                f"'{_shown_name(filename)}' is not a prediction file: use .csv, .jsonl or "
                ".parquet (optionally .gz), or a .zip with one file per task."
            ]
        )
    if task is None:
        if len(tasks) != 1:
            slugs = ", ".join(t.slug for t in tasks)
            raise PredictionsRejected(
                [f"This benchmark has several tasks ({slugs}): say which one with 'task'."]
            )
        task = tasks[0]
    return [TaskFile(task=task, filename=filename, limits=limits, source=fileobj)]


def _zip_entries(fileobj) -> int:
    """How many directory entries the zip can hold at most: each starts with a signature,
    which is counted whatever the archive's end record claims."""
    fileobj.seek(0)
    count, tail = 0, b""
    while chunk := fileobj.read(1 << 20):
        block = tail + chunk
        count += block.count(ZIP_ENTRY_SIGNATURE)
        tail = block[-3:]
    fileobj.seek(0)
    return count


def _zip_task_files(fileobj, *, tasks: list[Task], task: Task | None, limits: Limits):
    """The members of a zip, checked from its directory before any is unpacked: one file per
    task, each within the size limit, none encrypted or compressed in a way zipfile lacks."""
    if _zip_entries(fileobj) > MAX_ZIP_ENTRIES:
        raise PredictionsRejected(
            [
                f"The zip holds more than {MAX_ZIP_ENTRIES:,} entries; it should hold one "
                "prediction file per task."
            ]
        )
    try:
        archive = zipfile.ZipFile(fileobj)
    except ZIP_READ_ERRORS:
        raise PredictionsRejected(["The .zip file is not a valid zip archive."]) from None
    by_slug = {t.slug: t for t in tasks}
    members: dict[str, list[zipfile.ZipInfo]] = {}
    errors = []
    for info in archive.infolist():
        name = PurePosixPath(info.filename).name
        if info.is_dir() or name.startswith("."):
            continue
        shown = _shown_name(info.filename)
        stem = name.split(".", 1)[0]
        if not _is_prediction_name(name):
            errors.append(f"{shown}: expected <task>.csv, .jsonl or .parquet.")
        elif stem not in by_slug:
            errors.append(
                f"{shown}: no task '{_shown_name(stem)}' in this benchmark "
                f"(tasks: {', '.join(by_slug)})."
            )
        elif task is None or by_slug[stem] == task:
            members.setdefault(stem, []).append(info)
    for stem, infos in members.items():
        if len(infos) > 1:
            names = ", ".join(_shown_name(info.filename) for info in infos)
            errors.append(
                f"{names}: {len(infos)} files for task '{stem}'; a zip holds one file per task."
            )
        for info in infos:
            shown = _shown_name(info.filename)
            if info.flag_bits & 0x1:
                errors.append(f"{shown}: it is encrypted; zip the files without a password.")
            elif info.compress_type not in ZIP_METHODS:
                errors.append(
                    f"{shown}: it is compressed with a method other than deflate; zip the files "
                    "with deflate (the usual zip) or store them uncompressed."
                )
            elif info.file_size > limits.max_bytes:
                errors.append(
                    f"{shown}: it unpacks to {info.file_size / 2**20:,.0f} MB; the limit for a "
                    f"prediction file is {limits.max_bytes >> 20} MB."
                )
    if not members and not errors:
        errors.append("The zip holds no prediction file named after a task.")
    if errors:
        raise PredictionsRejected(errors)
    return [
        TaskFile(
            task=by_slug[stem],
            filename=PurePosixPath(infos[0].filename).name,
            limits=limits,
            archive=archive,
            member=infos[0],
        )
        for stem, infos in members.items()
    ]


# Frozen splits are immutable (a fingerprint names their content), so a process keeps the most
# recent few in memory instead of reading the Parquet file for every submission. Web processes
# only check uploads, which needs the id column alone: it is read and kept on its own.
_GOLD_CACHE: OrderedDict[tuple, pa.Table] = OrderedDict()
_GOLD_CACHE_SIZE = 8


def _cached(key: tuple, compute):
    table = _GOLD_CACHE.get(key)
    if table is None:
        table = _GOLD_CACHE[key] = compute()
        while len(_GOLD_CACHE) > _GOLD_CACHE_SIZE:
            _GOLD_CACHE.popitem(last=False)
    else:
        _GOLD_CACHE.move_to_end(key)
    return table


def split_table(split: Split, columns: tuple[str, ...] | None = None) -> pa.Table:
    def read() -> pa.Table:
        with split.data.open("rb") as f:
            return pq.read_table(f, columns=list(columns) if columns else None)

    return _cached((split.pk, split.fingerprint, columns), read)


def task_gold_ids(task: Task) -> pa.Array:
    """Ids of every scored split of the task: a prediction file covers exactly these. Kept
    once concatenated: every upload and every scoring job of the task checks against them."""
    splits = list(task.scored_splits)
    id_only = (task.id_column,)

    def concatenate() -> pa.Array:
        columns = [split_table(s, id_only).column(task.id_column) for s in splits]
        return pa.chunked_array(columns).combine_chunks().cast(pa.string())

    return _cached(("ids", task.id_column, *((s.pk, s.fingerprint) for s in splits)), concatenate)


def _read_and_check(task_file: TaskFile, *, at_upload: bool = False) -> pa.Table:
    task = task_file.task
    limits = task_file.limits
    try:
        table = read_prediction_file(task_file.open(), task_file.filename, limits)
        checked = check_predictions(task.spec(), task_gold_ids(task), table, limits)
        if at_upload and task.type == TOKEN_CLASSIFICATION:
            # One tag per input token: checked against the tokens (inputs, not labels), so the
            # participant hears of a wrong length at upload. (Scoring checks it again on the
            # gold tags it reads anyway.)
            for split in task.scored_splits:
                gold = split_table(split, (task.id_column, task.input_columns[0]))
                ids = gold.column(task.id_column)
                tags = align_predictions(ids.combine_chunks().cast(pa.string()), checked)
                check_tag_lengths(ids, gold.column(task.input_columns[0]).combine_chunks(), tags)
        return checked
    except PredictionFileError as exc:
        prefix = f"{task_file.filename}: " if task_file.member is not None else ""
        raise PredictionsRejected([prefix + m for m in exc.messages]) from None


def predictions_check(*, benchmark: Benchmark, task: Task | None, uploaded) -> None:
    """Validate an upload completely; raises PredictionsRejected with every problem found."""
    files = task_files(benchmark=benchmark, task=task, fileobj=uploaded, filename=uploaded.name)
    errors = []
    for task_file in files:
        try:
            _read_and_check(task_file, at_upload=True)
        except PredictionsRejected as exc:
            errors += exc.messages
    if errors:
        raise PredictionsRejected(errors)


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
    """Prediction files are scored on the CPU queue: a million rows take seconds, so the soft
    limit means something is wrong, and the hard limit leaves time to record the failure."""
    soft = settings.SCORING_TIME_LIMIT_SECONDS
    return JobOptions(queue="scoring", soft_time_limit=soft, time_limit=soft + 60)


def enqueue(submission: Submission) -> None:
    """Publish the scoring job. A broker that is down must not turn an accepted upload into an
    error page: the failure is logged and the reaper publishes the job again later."""
    from submissions.tasks import score_submission

    try:
        score_submission.apply_async(
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


def submission_claim(*, submission_id: int, now=None) -> int | None:
    """Atomically take a submission to run: a queued one, or a running one whose lease expired
    (its worker died: no heartbeat for LEASE). Returns this run's claim number, which the run's
    later writes are conditional on, or None when someone else has it, it was cancelled, or it
    is final: redelivered and duplicate messages do nothing."""
    now = now or timezone.now()
    dead = Q(status=Status.RUNNING, heartbeat_at__lt=now - settings.LEASE)
    claimable = Submission.objects.filter(Q(status=Status.QUEUED) | dead, pk=submission_id)
    if not claimable.update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        progress=0.0,
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
    return bool(
        rows.update(
            status=Status.FAILED,
            error=message,
            failed_by_platform=by_platform,
            finished_at=timezone.now(),
        )
    )


def submission_record(*, submission_id: int, claim: int, evaluations: list[Evaluation]) -> bool:
    """Store the scores and mark the submission scored, only over a row this run still holds:
    a cancelled or reaped submission stays so, a run that lost its lease (claimed again after
    its heartbeats stopped) records nothing, and its scores are dropped."""
    with transaction.atomic():
        finished = Submission.objects.filter(
            pk=submission_id, status=Status.RUNNING, claims=claim
        ).update(status=Status.SCORED, progress=1.0, finished_at=timezone.now())
        if finished:
            # A running row has no evaluations: they are only ever stored together with the
            # change to scored (rescoring replaces those of scored rows).
            Evaluation.objects.bulk_create(evaluations)
    return bool(finished)


# Scoring ---------------------------------------------------------------------------------


def provenance_for(split: Split, result_provenance: dict) -> dict:
    return {
        **result_provenance,
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


def evaluations_compute(*, submission: Submission, on_progress=None) -> list[Evaluation]:
    """Score every task file of a submission on every scored split (unsaved Evaluations)."""
    with submission.file.open("rb") as f:
        files = task_files(
            benchmark=submission.benchmark,
            task=submission.task,
            fileobj=io.BytesIO(f.read()),
            filename=submission.original_filename or submission.file.name,
        )
    splits = {tf.task.pk: list(tf.task.scored_splits) for tf in files}
    total = sum(len(task_splits) for task_splits in splits.values())
    evaluations = []
    for tf in files:
        predictions = _read_and_check(tf)
        spec = tf.task.spec()
        for split in splits[tf.task.pk]:
            try:
                result = score_split(
                    spec,
                    split_table(split),
                    predictions,
                    resamples=settings.BOOTSTRAP_RESAMPLES,
                    seed=0,
                )
            except PredictionFileError as exc:
                raise PredictionsRejected(exc.messages) from None
            evaluations.append(
                Evaluation(
                    submission=submission,
                    task=tf.task,
                    split=split,
                    metrics=result["metrics"],
                    slices=result["slices"],
                    confusion=result.get("confusion"),
                    provenance=provenance_for(split, result["provenance"]),
                )
            )
            if on_progress:
                on_progress(len(evaluations) / total)
    return evaluations


def submission_score(*, submission_id: int) -> None:
    """The scoring job: claim the submission, score it under a heartbeat, and record the
    outcome. A bad file is an outcome (failed + message), and so is a file that takes longer
    than the time limit to score (its content made it so; files that are too large are refused
    at upload). An unexpected error fails the submission as the platform's fault and is logged
    without its message, which could quote data."""
    claim = submission_claim(submission_id=submission_id)
    if claim is None:
        return
    submission = Submission.objects.select_related("benchmark", "task").get(pk=submission_id)
    last_write = time.monotonic()

    def progress(value: float) -> None:
        # Scoring is most of the work; leave the last step for the save. A fast job finishes
        # before a page could show its progress: write at most every half second.
        nonlocal last_write
        if time.monotonic() - last_write >= PROGRESS_INTERVAL_S:
            last_write = time.monotonic()
            submission_set_progress(submission_id=submission_id, claim=claim, progress=0.95 * value)

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
    except (OperationalError, InterfaceError) as exc:
        # The database went away (a restart, a dropped connection): not the file's fault and
        # not a failure to record, since recording needs the database too. The run ends; its
        # heartbeats have stopped, so the reaper publishes the job again once the lease expires.
        logger.warning(
            "Scoring submission %s lost the database: %s", submission_id, type(exc).__name__
        )
        raise
    except Exception as exc:
        logger.error(
            "Scoring submission %s failed with %s:\n%s",
            submission_id,
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        fail(
            "Scoring failed because of an internal error. It has been logged and does "
            "not count towards your quota.",
            by_platform=True,
        )
        return
    submission_record(submission_id=submission_id, claim=claim, evaluations=evaluations)


def submission_rescore(*, submission: Submission, save: bool = True) -> list[dict]:
    """Recompute a scored submission's evaluations from its stored file and the frozen splits,
    and report every metric value that changed (beyond float noise). With `save`, the new
    evaluations replace the old ones, so scores follow a metric fix."""
    old = {
        (e.split_id, key): entry.get("value")
        for e in submission.evaluations.all()
        for key, entry in e.metrics.items()
    }
    new_evaluations = evaluations_compute(submission=submission)
    changes = []
    for evaluation in new_evaluations:
        for key, entry in evaluation.metrics.items():
            before, after = old.get((evaluation.split_id, key)), entry.get("value")
            same = (before is None and after is None) or (
                before is not None and after is not None and abs(before - after) <= 1e-12
            )
            if not same:
                changes.append(
                    {
                        "submission": submission.pk,
                        "task": evaluation.task.slug,
                        "split": evaluation.split.name,
                        "metric": key,
                        "before": before,
                        "after": after,
                    }
                )
    if save:
        with transaction.atomic():
            Evaluation.objects.filter(submission=submission).delete()
            Evaluation.objects.bulk_create(new_evaluations)
    return changes


# Baselines -------------------------------------------------------------------------------

BASELINE_USERNAME = "baseline"


def baselines_create(*, task: Task) -> list[Submission]:
    """Compute the task's automatic baselines and submit them as baseline submissions (scored
    by the worker like any other). Baselines learn from the train split, else the public
    splits; hidden labels are never used."""
    splits = list(task.splits.all())
    train = [s for s in splits if s.role == Split.Role.TRAIN]
    learn_from = train or [s for s in splits if s.role == Split.Role.PUBLIC]
    learn = pa.concat_tables([split_table(s) for s in learn_from]) if learn_from else None
    input_columns = [task.id_column, *task.input_columns]
    inputs = pa.concat_tables([split_table(s).select(input_columns) for s in task.scored_splits])
    spec = task.spec()
    baselines = baselines_for(
        spec, has_train=bool(train), learn_rows=learn.num_rows if learn else 0
    )
    if not baselines:
        return []
    owner, created = get_user_model().objects.get_or_create(username=BASELINE_USERNAME)
    if created:
        owner.set_unusable_password()
        owner.save(update_fields=["password"])
    submissions = []
    with transaction.atomic():
        # A re-import recomputes the baselines: the earlier ones go.
        Submission.objects.filter(task=task, participant=owner, is_baseline=True).delete()
        for name, baseline in baselines.items():
            table = baseline(spec, learn, inputs)
            sink = io.BytesIO()
            pq.write_table(table, sink)
            submission = Submission(
                benchmark=task.benchmark,
                participant=owner,
                task=task,
                name=name,
                description="Computed by the platform when the benchmark was imported.",
                original_filename=f"{task.slug}.parquet",
                is_baseline=True,
                celery_task_id=str(uuid.uuid4()),
            )
            submission.file.save(
                f"{uuid.uuid4().hex}-{task.slug}.parquet", ContentFile(sink.getvalue()), save=False
            )
            submission.save()
            submissions.append(submission)
        for submission in submissions:
            transaction.on_commit(lambda s=submission: enqueue(s))
    return submissions


def benchmark_baselines_create(*, benchmark: Benchmark) -> None:
    """The automatic baselines of every task, after every successful import (an update
    replaces the earlier ones). A baseline that cannot be computed is logged and skipped: the
    import itself has succeeded."""
    for task in benchmark.tasks.all():
        try:
            baselines_create(task=task)
        except Exception as exc:  # the import stands; the log says which task and why
            logger.error("Baselines for %s failed: %s", task, type(exc).__name__)


def benchmark_import_with_baselines(**kwargs) -> Benchmark:
    """Import a bundle (benchmarks.services.benchmark_import, same arguments), then submit the
    automatic baselines of every task once the import has committed."""
    benchmark = benchmark_import(**kwargs)
    transaction.on_commit(lambda: benchmark_baselines_create(benchmark=benchmark))
    return benchmark


# The reaper ------------------------------------------------------------------------------


def republish_delay(attempts: int) -> timedelta:
    """How long a queued job waits before it is published again: REQUEUE_AFTER, doubling with
    every republish up to REQUEUE_MAX, so that a long backlog behind busy workers does not
    fill the queue with copies."""
    delay = settings.REQUEUE_AFTER * (2 ** min(attempts, 16))
    return min(delay, max(settings.REQUEUE_AFTER, settings.REQUEUE_MAX))


def submission_requeue_stale(*, now=None) -> list[int]:
    """Publish again the jobs that no live worker holds:
    - submissions still queued after their back-off (a publish that failed, a message lost
      with a broker);
    - runs whose lease expired (no heartbeat for LEASE: their worker died), at once after the
      death, then with the same back-off; a redelivered message would wait out the broker's
      visibility timeout, this does not.
    Claims are atomic, so a job that was only slow to start is still scored once. A queued
    submission is never failed for waiting: a backlog is not a fault, its page says it waits."""
    now = now or timezone.now()
    requeued = []
    waiting = Q(status=Status.QUEUED, created_at__lt=now - settings.REQUEUE_AFTER)
    dead = Q(status=Status.RUNNING, heartbeat_at__lt=now - settings.LEASE)
    candidates = Submission.objects.filter(waiting | dead).only(
        "pk",
        "status",
        "attempts",
        "created_at",
        "requeued_at",
        "heartbeat_at",
        "claims",
        "celery_task_id",
        "kind",
        "task_id",
    )
    for submission in candidates:
        if submission.status == Status.RUNNING:
            if submission.claims >= settings.MAX_CLAIMS:
                continue  # submission_reap_stuck fails it
            died_at = submission.heartbeat_at + settings.LEASE
            republished_since = submission.requeued_at and submission.requeued_at >= died_at
            due = not republished_since or (
                now - submission.requeued_at >= republish_delay(submission.attempts)
            )
        else:
            waiting_since = submission.requeued_at or submission.created_at
            due = now - waiting_since >= republish_delay(submission.attempts)
        # Conditional on what was read, so that two reapers never both republish.
        if due and Submission.objects.filter(
            pk=submission.pk, status=submission.status, attempts=submission.attempts
        ).update(attempts=submission.attempts + 1, requeued_at=now):
            enqueue(submission)
            requeued.append(submission.pk)
    if requeued:
        logger.warning("Published again the jobs no worker holds: %s", requeued)
    return requeued


def submission_reap_stuck(*, now=None) -> list[int]:
    """Fail the runs that will not finish: a run whose worker died MAX_CLAIMS times (its lease
    expired after its last claim), and a run past its job's hard time limit by REAPER_GRACE
    although its heartbeat goes on (a worker that does not enforce time limits). Both fail as
    the platform's fault: the quota is not charged."""
    now = now or timezone.now()
    reaped = []
    running = Submission.objects.filter(status=Status.RUNNING).select_related("task")
    for submission in running:
        limit = job_options(submission).time_limit + settings.REAPER_GRACE.total_seconds()
        lease_expired = submission.heartbeat_at and now - submission.heartbeat_at > settings.LEASE
        if lease_expired and submission.claims >= settings.MAX_CLAIMS:
            message = (
                f"The scorer stopped {submission.claims} times while scoring this submission, "
                "so it was given up. This was the platform's fault and does not count towards "
                "your quota; please tell the benchmark's authors if it happens again."
            )
        elif submission.started_at and now - submission.started_at > timedelta(seconds=limit):
            minutes = max(1, round(limit / 60))
            message = (
                f"Scoring did not finish within {minutes} minutes and was stopped. This was "
                "the platform's fault and does not count towards your quota; please submit "
                "again."
            )
        else:
            continue
        if submission_fail(submission_id=submission.pk, message=message, by_platform=True):
            reaped.append(submission.pk)
    if reaped:
        logger.warning("Reaped stuck submissions: %s", reaped)
    return reaped
