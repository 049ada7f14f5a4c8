"""Prediction uploads as the platform reads them: which task each file of an upload is for
(a zip holds one file per task), the limits it is read within, the frozen splits' gold ids it
is checked against (kept in memory per fingerprint), and the complete check a participant hears
about at upload. The pipeline (submissions/pipeline.py) uses the same reading when it scores."""

from __future__ import annotations

import logging
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from benchmarks.models import Benchmark, Phase, Split, Task
from scoring.evaluation import align_predictions, check_tag_lengths
from scoring.predictions import (
    DEFAULT_LIMITS,
    Limits,
    PredictionFileError,
    check_predictions,
    read_prediction_file,
)
from scoring.streams import ZIP_READ_ERRORS
from scoring.tasktypes import TOKEN_CLASSIFICATION
from submissions.models import Submission

logger = logging.getLogger(__name__)

Status = Submission.Status

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
    # The task's splits the file is checked against and scored on (its phase's, or all).
    splits: list[Split] = field(default_factory=list)

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


def prediction_limits(splits: dict[int, list[Split]]) -> Limits:
    """What one prediction file of the benchmark may hold (docs/formats.md, "Prediction
    files"): sizes from the settings, and rows for every id of the scored splits (`splits`: per
    task pk) plus room to report duplicated and unknown ids (a file with a `task` column may
    hold the rows of every task)."""
    ids = sum(split.num_rows for task_splits in splits.values() for split in task_splits)
    return Limits(
        max_bytes=settings.MAX_PREDICTION_DECODED_MB << 20,
        max_rows=ids + ids // 10 + settings.MAX_PREDICTION_EXTRA_ROWS,
        max_columns=settings.MAX_PREDICTION_COLUMNS,
        max_text_chars=settings.MAX_PREDICTION_TEXT_CHARS,
        max_mean_text_chars=settings.MAX_PREDICTION_MEAN_TEXT_CHARS,
    )


def task_files(
    *, benchmark: Benchmark, task: Task | None, fileobj, filename: str, phase: Phase | None = None
) -> list[TaskFile]:
    """Which task each prediction file is for: a zip holds `<task-slug>.<ext>` per task; a
    single file goes to the task named in the request, or to the benchmark's only task. With a
    `phase`, the tasks and splits are that phase's."""
    tasks = list(benchmark.tasks.prefetch_related("splits"))
    splits = {t.pk: phase.task_splits(t) if phase else t.scored_splits for t in tasks}
    tasks = [t for t in tasks if splits[t.pk]]
    if task is not None:  # the same task, with its splits fetched
        found = next((t for t in tasks if t.pk == task.pk), None)
        if found is None:
            raise PredictionsRejected(
                [f"Task '{task.slug}' is not scored in the phase '{phase.slug}'."]
            )
        task = found
    limits = prediction_limits(splits)
    if filename.lower().endswith(".zip"):
        return _zip_task_files(fileobj, tasks=tasks, task=task, limits=limits, splits=splits)
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
    return [
        TaskFile(
            task=task, filename=filename, splits=splits[task.pk], limits=limits, source=fileobj
        )
    ]


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


def _zip_task_files(
    fileobj,
    *,
    tasks: list[Task],
    task: Task | None,
    limits: Limits,
    splits: dict[int, list[Split]],
):
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
        if not info.filename:  # a name cut to nothing at a NUL byte
            errors.append("A file in the zip has no name: name it <task>.csv, .jsonl or .parquet.")
            continue
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
            splits=splits[by_slug[stem].pk],
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


def task_gold_ids(task: Task, splits: list[Split] | None = None) -> pa.Array:
    """Ids of the task's scored splits (`splits`: a phase's; default every scored split): a
    prediction file covers exactly these. Kept once concatenated: every upload and every
    scoring job of the task checks against them."""
    splits = list(task.scored_splits if splits is None else splits)
    id_only = (task.id_column,)

    def concatenate() -> pa.Array:
        columns = [split_table(s, id_only).column(task.id_column) for s in splits]
        return pa.chunked_array(columns).combine_chunks().cast(pa.string())

    return _cached(("ids", task.id_column, *((s.pk, s.fingerprint) for s in splits)), concatenate)


def read_and_check(task_file: TaskFile, *, at_upload: bool = False) -> pa.Table:
    task = task_file.task
    limits = task_file.limits
    try:
        table = read_prediction_file(task_file.open(), task_file.filename, limits)
        gold_ids = task_gold_ids(task, task_file.splits)
        checked = check_predictions(task.spec(), gold_ids, table, limits)
        if at_upload and task.type == TOKEN_CLASSIFICATION:
            # One tag per input token: checked against the tokens (inputs, not labels), so the
            # participant hears of a wrong length at upload. (Scoring checks it again on the
            # gold tags it reads anyway.)
            for split in task_file.splits:
                gold = split_table(split, (task.id_column, task.input_columns[0]))
                ids = gold.column(task.id_column)
                tags = align_predictions(ids.combine_chunks().cast(pa.string()), checked)
                check_tag_lengths(ids, gold.column(task.input_columns[0]).combine_chunks(), tags)
        return checked
    except PredictionFileError as exc:
        prefix = f"{task_file.filename}: " if task_file.member is not None else ""
        raise PredictionsRejected([prefix + m for m in exc.messages]) from None


def predictions_check(
    *, benchmark: Benchmark, task: Task | None, uploaded, phase: Phase | None = None
) -> None:
    """Validate an upload completely; raises PredictionsRejected with every problem found."""
    files = task_files(
        benchmark=benchmark, task=task, fileobj=uploaded, filename=uploaded.name, phase=phase
    )
    errors = []
    for task_file in files:
        try:
            read_and_check(task_file, at_upload=True)
        except PredictionsRejected as exc:
            errors += exc.messages
    if errors:
        raise PredictionsRejected(errors)
