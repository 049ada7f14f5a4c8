"""Importing and exporting bundles (docs/formats.md)."""

from __future__ import annotations

import datetime as dt
import logging
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from benchmarks.authors import author_grant
from benchmarks.bundles import (
    SPEC_FILENAME,
    Bundle,
    BundleError,
    bundle_load,
    bundle_open,
    spec_yaml,
)
from benchmarks.models import Benchmark, Phase, Split, Task

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# Fixed timestamp for zip entries, so that exporting the same benchmark twice gives the same zip.
ZIP_DATE = (2000, 1, 1, 0, 0, 0)


def benchmark_import(
    *,
    source: Path,
    maintainer: User | None = None,
    update: bool = False,
    draft: bool = False,
    editor: User | None = None,
) -> Benchmark:
    """Create (or with `update`, replace in place) the benchmark described by the bundle at
    `source`, a folder or a zip. Everything is validated and frozen before the database is
    touched; a failed import leaves no rows and no stored files. Raises BundleError.

    With `draft` (the admin) a new benchmark is a draft, private and closed until published
    (`benchmark_publish`), and a draft stays one; otherwise the benchmark is published. An
    `editor` who is not a superuser may replace only a benchmark they maintain."""
    with bundle_open(Path(source)) as root:
        bundle = bundle_load(root, hub_cache_dir=getattr(settings, "HF_DATASETS_CACHE", None))
    slug = bundle.spec["slug"]
    conflicts = import_conflicts(slug, update=update, editor=editor)
    if conflicts:
        raise BundleError(conflicts)
    saved: list[str] = []  # files stored by this import: deleted again if it fails
    replaced: list[str] = []  # files of the previous version: deleted once it has committed
    try:
        with transaction.atomic():
            benchmark = _benchmark_write(bundle, draft=draft, saved=saved, replaced=replaced)
            if maintainer is not None:
                benchmark.maintainers.add(maintainer)
                author_grant(maintainer)  # so that the admin lets them edit it
            transaction.on_commit(lambda: _files_delete(replaced))
    except BaseException as exc:
        _files_delete(saved)
        if isinstance(exc, IntegrityError) and not update:
            # Another import of the same slug committed while this one ran.
            raise BundleError(
                f"slug: a benchmark '{slug}' was created while this import ran; import again "
                "with --update to replace it"
            ) from None
        raise
    return benchmark


def import_conflicts(slug: object, *, update: bool, editor: User | None) -> list[str]:
    """Why the bundle's slug cannot be imported here: it is taken (and this is no update), or
    it is another author's benchmark."""
    existing = Benchmark.objects.filter(slug=slug).first() if isinstance(slug, str) else None
    if existing is None:
        return []
    if (
        editor is not None
        and not Benchmark.objects.maintained_by(editor).filter(pk=existing.pk).exists()
    ):
        return [f"slug: '{slug}' belongs to a benchmark you do not maintain; choose another slug"]
    if not update:
        return [
            f"slug: a benchmark '{slug}' already exists; import with --update (update=True) "
            "to replace it in place, or choose another slug"
        ]
    return []


def _benchmark_write(
    bundle: Bundle, *, draft: bool, saved: list[str], replaced: list[str]
) -> Benchmark:
    spec = bundle.spec
    policy = spec["submission_policy"]
    fields = {
        "title": spec["title"],
        "description": spec["description"],
        "license": spec["license"],
        "citation": spec["citation"],
        "visibility": spec["visibility"],
        "accepted_kinds": policy["kinds"],
        "max_per_day": policy["max_per_day"],
        "max_total": policy["max_total"],
        "opens_at": policy["opens_at"],
        "closes_at": policy["closes_at"],
        "allow_custom_code": policy["allow_custom_code"],
        "allow_pickle_weights": policy["allow_pickle_weights"],
        "max_final": policy["final_selection"],
        "aggregate_weights": spec["aggregate_weights"],
    }
    benchmark = Benchmark.objects.select_for_update().filter(slug=spec["slug"]).first()
    if draft and (benchmark is None or benchmark.is_draft):
        fields.update(visibility=Benchmark.Visibility.PRIVATE, published_at=None)
    else:
        fields["published_at"] = (benchmark and benchmark.published_at) or timezone.now()
    if benchmark is None:
        benchmark = Benchmark.objects.create(slug=spec["slug"], **fields)
    else:
        for name, value in fields.items():
            setattr(benchmark, name, value)
        benchmark.save()
    tasks = {task.slug: task for task in benchmark.tasks.all()}
    for position, task_spec in enumerate(spec["tasks"]):
        task = tasks.pop(task_spec["slug"], None) or Task(benchmark=benchmark)
        _task_write(task, task_spec, position, bundle, saved=saved, replaced=replaced)
    for task in tasks.values():
        _refuse_to_delete_scores(task.splits.all(), f"task '{task.slug}'")
        replaced += [split.data.name for split in task.splits.all() if split.data]
        task.delete()
    _phases_write(benchmark, spec.get("phases") or [])
    return benchmark


def _phases_write(benchmark: Benchmark, phases: list[dict]) -> None:
    """The bundle's phases, in place: a phase missing from the bundle is deleted unless
    submissions were made in it (an update cannot delete them)."""
    existing = {phase.slug: phase for phase in benchmark.phases.all()}
    splits = {
        f"{split.task.slug}/{split.name}": split
        for split in Split.objects.filter(task__benchmark=benchmark).select_related("task")
    }
    for position, spec in enumerate(phases):
        phase = existing.pop(spec["slug"], None) or Phase(benchmark=benchmark, slug=spec["slug"])
        phase.title = spec["title"]
        phase.position = position
        phase.opens_at, phase.closes_at = spec["opens_at"], spec["closes_at"]
        phase.accepted_kinds = spec["kinds"]
        phase.max_per_day, phase.max_total = spec["max_per_day"], spec["max_total"]
        phase.save()
        phase.splits.set([splits[name] for name in spec["splits"]])
    for phase in existing.values():
        count = phase.submissions.count()
        if count:
            raise BundleError(
                f"phases: the phase '{phase.slug}' is missing from the bundle but {count} "
                f"submission{'s were' if count != 1 else ' was'} made in it; an update cannot "
                "delete them. Keep the phase in the bundle."
            )
        phase.delete()


def scores_on(splits) -> int:
    """Submissions with scores on any of `splits`. (Scores are read through the splits' reverse
    relation: the submissions app sits above this one.)"""
    return (
        splits.filter(evaluations__isnull=False)
        .values("evaluations__submission")
        .distinct()
        .count()
    )


def deleting_scores(count: int, what: str) -> str:
    return (
        f"tasks: {what} is missing from the bundle but {count} submission"
        f"{'s have' if count != 1 else ' has'} scores on it; an update cannot delete "
        "scores. Keep it in the bundle (its data may change), or delete it in the admin."
    )


def _refuse_to_delete_scores(splits, what: str) -> None:
    """An update may not delete scores: removing a scored task or split from the bundle would
    cascade to participants' evaluations. The import then fails and changes nothing."""
    count = scores_on(splits)
    if count:
        raise BundleError(deleting_scores(count, what))


def _task_write(
    task: Task, spec: dict, position: int, bundle: Bundle, *, saved: list[str], replaced: list[str]
) -> None:
    columns = spec["columns"]
    task.slug = spec["slug"]
    task.title = spec["title"]
    task.position = position
    task.type = spec["type"]
    task.id_column = columns["id"]
    task.input_columns = columns["inputs"]
    task.label_column = columns["label"]
    task.label_names = columns["labels"]
    task.metadata_columns = columns["metadata"]
    task.metrics = spec["metrics"]
    task.primary_metric = spec["primary_metric"]
    task.slices = spec["slices"]
    task.model_run = spec["model_run"]
    task.save()
    splits = {split.name: split for split in task.splits.all()}
    for position, split_spec in enumerate(spec["data"]["splits"]):
        split = splits.pop(split_spec["name"], None) or Split(task=task, name=split_spec["name"])
        frozen = bundle.frozen(task.slug, split.name)
        split.position = position
        split.role = split_spec["role"]
        split.reveal = split_spec["reveal"]
        split.inputs_downloadable = split_spec["inputs_downloadable"]
        split.num_rows = frozen.num_rows
        split.source = frozen.source[: Split._meta.get_field("source").max_length]
        split.hub_repo_id = frozen.hub_repo_id
        split.hub_revision = frozen.hub_revision
        split.hub_commit = frozen.hub_commit
        unchanged = split.fingerprint == frozen.fingerprint and split.data
        if not unchanged:
            if split.data:
                replaced.append(split.data.name)
            split.fingerprint = frozen.fingerprint
            # Named by content, so a replaced file never shares a name with its successor.
            split.data.save(
                f"{frozen.fingerprint[:16]}.parquet", ContentFile(frozen.parquet), save=False
            )
            saved.append(split.data.name)
        split.save()
    for split in splits.values():
        _refuse_to_delete_scores(
            task.splits.filter(pk=split.pk), f"split '{task.slug}/{split.name}'"
        )
        if split.data:
            replaced.append(split.data.name)
        split.delete()


def _files_delete(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("Could not delete stored file %s", name, exc_info=True)


def benchmark_export(*, benchmark: Benchmark, out: Path) -> Path:
    """Write `benchmark` as a bundle zip (benchmark.yaml + frozen Parquet per split under
    data/<task>/<split>.parquet) that imports back to an equal benchmark."""
    out = Path(out)
    tasks = list(benchmark.tasks.prefetch_related("splits"))
    spec = benchmark_spec(benchmark, tasks)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _zip_write(archive, SPEC_FILENAME, spec_yaml(spec).encode())
        for task in tasks:
            for split in task.splits.all():
                with split.data.open("rb") as f:
                    _zip_write(archive, _export_path(task, split), f.read())
    return out


def benchmark_spec(benchmark: Benchmark, tasks: list[Task]) -> dict:
    """The benchmark.yaml content describing `benchmark` as stored, with split data at the
    paths an export writes (publishing checks it as an import would)."""
    spec: dict = {
        "slug": benchmark.slug,
        "title": benchmark.title,
        "description": benchmark.description,
        "license": benchmark.license,
        "citation": benchmark.citation,
        "visibility": benchmark.visibility,
        "submission_policy": {
            "kinds": benchmark.kinds,
            "max_per_day": benchmark.max_per_day,
            "max_total": benchmark.max_total,
            "opens_at": _iso(benchmark.opens_at),
            "closes_at": _iso(benchmark.closes_at),
            "allow_custom_code": benchmark.allow_custom_code,
            "allow_pickle_weights": benchmark.allow_pickle_weights,
            "final_selection": benchmark.max_final,
        },
    }
    if benchmark.aggregate_weights:
        spec["aggregate_weights"] = dict(benchmark.aggregate_weights)
    phases = list(benchmark.phases.prefetch_related("splits__task"))
    if phases:
        spec["phases"] = [
            {
                "slug": phase.slug,
                "title": phase.title,
                "opens_at": _iso(phase.opens_at),
                "closes_at": _iso(phase.closes_at),
                "kinds": list(phase.accepted_kinds),
                "max_per_day": phase.max_per_day,
                "max_total": phase.max_total,
                "splits": [f"{s.task.slug}/{s.name}" for s in phase.splits.all()],
            }
            for phase in phases
        ]
    spec["tasks"] = [
        {
            "slug": task.slug,
            "title": task.title,
            "type": task.type,
            "data": {
                "splits": {
                    split.name: {
                        "path": _export_path(task, split),
                        "role": split.role,
                        "reveal": split.reveal,
                        "inputs_downloadable": split.inputs_downloadable,
                        "provenance": _provenance(split),
                    }
                    for split in task.splits.all()
                }
            },
            "columns": {
                "id": task.id_column,
                "inputs": list(task.input_columns),
                "label": task.label_column,
                **({"labels": list(task.label_names)} if task.label_names else {}),
                "metadata": list(task.metadata_columns),
            },
            "metrics": list(task.metrics),
            "primary_metric": task.primary_metric,
            "slices": list(task.slices),
            "model_run": dict(task.model_run),
        }
        for task in tasks
    ]
    return spec


def _provenance(split: Split) -> dict:
    """Where the data came from originally, so that a re-import records the same origin rather
    than the export's file."""
    fields = {
        "source": split.source,
        "hub_repo_id": split.hub_repo_id,
        "hub_revision": split.hub_revision,
        "hub_commit": split.hub_commit,
    }
    return {key: value for key, value in fields.items() if value}


def _export_path(task: Task, split: Split) -> str:
    return f"data/{task.slug}/{split.name}.parquet"


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _zip_write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)
