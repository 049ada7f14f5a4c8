"""The admin's dry run of a bundle import: every check the import makes, and what it would
change, found without changing anything (docs/authors.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from benchmarks.bundles import Bundle, BundleError, bundle_load, bundle_open, spec_read
from benchmarks.models import Benchmark, Split
from benchmarks.services.bundles import deleting_scores, import_conflicts, scores_on

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class SplitPlan:
    name: str
    role: str
    rows: int
    change: str  # "new", "replaced" (its data changes) or "unchanged"


@dataclass(frozen=True)
class TaskPlan:
    slug: str
    title: str
    type: str
    new: bool
    splits: list[SplitPlan]


@dataclass(frozen=True)
class ImportPlan:
    """What an import would do. `replaces` is the benchmark an update replaces in place;
    `removed` names the tasks and splits it deletes; `rescore` counts the submissions with
    scores on splits whose data changes (rescore them after the import)."""

    slug: str
    title: str
    replaces: Benchmark | None
    draft: bool
    tasks: list[TaskPlan]
    removed: list[str]
    rescore: int


def benchmark_import_check(
    *, source: Path, update: bool = False, draft: bool = False, editor: User | None = None
) -> ImportPlan:
    """What `benchmark_import` with the same arguments would do, found without changing
    anything: the bundle is read, validated and frozen, and its slug checked against the
    database. Raises BundleError listing every problem the import would meet."""
    with bundle_open(Path(source)) as root:
        try:
            bundle = bundle_load(root, hub_cache_dir=getattr(settings, "HF_DATASETS_CACHE", None))
        except BundleError as exc:
            conflicts = import_conflicts(_declared_slug(root), update=update, editor=editor)
            raise BundleError([*conflicts, *exc.messages]) from None
    slug = bundle.spec["slug"]
    problems = import_conflicts(slug, update=update, editor=editor)
    if problems:
        raise BundleError(problems)
    existing = Benchmark.objects.filter(slug=slug).first()
    plan = _plan(bundle, existing, draft=draft)
    problems = _scores_deleted(existing, plan) if existing else []
    if problems:
        raise BundleError(problems)
    return plan


def _declared_slug(root: Path) -> object:
    """The slug a bundle declares, as written (None when its spec cannot be read)."""
    try:
        spec = spec_read(root)
    except BundleError:
        return None
    return spec.get("slug") if isinstance(spec, dict) else None


def _plan(bundle: Bundle, existing: Benchmark | None, *, draft: bool) -> ImportPlan:
    stored: dict[str, dict[str, Split]] = {}
    if existing is not None:
        for split in Split.objects.filter(task__benchmark=existing).select_related("task"):
            stored.setdefault(split.task.slug, {})[split.name] = split
    tasks, changed = [], []
    for task in bundle.spec["tasks"]:
        old = stored.get(task["slug"], {})
        splits = []
        for split in task["data"]["splits"]:
            frozen = bundle.frozen(task["slug"], split["name"])
            before = old.get(split["name"])
            if before is None:
                change = "new"
            elif before.fingerprint == frozen.fingerprint:
                change = "unchanged"
            else:
                change = "replaced"
                changed.append(before.pk)
            splits.append(SplitPlan(split["name"], split["role"], frozen.num_rows, change))
        new = task["slug"] not in stored
        tasks.append(TaskPlan(task["slug"], task["title"], task["type"], new, splits))
    removed = []
    kept = {
        task["slug"]: {s["name"] for s in task["data"]["splits"]} for task in bundle.spec["tasks"]
    }
    for task_slug, splits in stored.items():
        if task_slug not in kept:
            removed.append(f"task '{task_slug}'")
            continue
        removed += [f"split '{task_slug}/{name}'" for name in splits if name not in kept[task_slug]]
    return ImportPlan(
        slug=bundle.spec["slug"],
        title=bundle.spec["title"],
        replaces=existing,
        draft=draft and (existing is None or existing.is_draft),
        tasks=tasks,
        removed=removed,
        rescore=scores_on(Split.objects.filter(pk__in=changed)) if changed else 0,
    )


def _scores_deleted(existing: Benchmark, plan: ImportPlan) -> list[str]:
    """The import's refusal to delete scores, for each task or split the update removes."""
    problems = []
    splits = Split.objects.filter(task__benchmark=existing)
    for what in plan.removed:
        name = what.split("'")[1]
        if what.startswith("task "):
            count = scores_on(splits.filter(task__slug=name))
        else:
            task_slug, split_name = name.split("/", 1)
            count = scores_on(splits.filter(task__slug=task_slug, name=split_name))
        if count:
            problems.append(deleting_scores(count, what))
    return problems
