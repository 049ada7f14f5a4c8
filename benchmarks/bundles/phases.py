"""`phases` of `benchmark.yaml` (docs/formats.md): a benchmark's stages, each with its own
window, quotas, accepted kinds and scored splits, named `<task>/<split>`. A scored split
belongs to one phase at most, so that each board is one phase's; with two or more phases each
names its splits. Checked like the rest of a spec: every problem with its key path."""

from __future__ import annotations

from typing import Any

from benchmarks.bundles.checks import KINDS, SCORED_ROLES, SLUG_RE, Checker, join, listing, show

PHASE_KEYS = (
    "slug",
    "title",
    "opens_at",
    "closes_at",
    "kinds",
    "max_per_day",
    "max_total",
    "splits",
)


def _scored(tasks: list[dict]) -> list[str]:
    names = []
    for task in tasks:
        for split in (task.get("data") or {}).get("splits") or []:
            if split.get("role") in SCORED_ROLES:
                names.append(f"{task.get('slug')}/{split.get('name')}")
    return names


def phases_check(checker: Checker, raw: Any, tasks: list[dict]) -> list[dict]:
    """The normalised phases ([] when the bundle has none)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        checker.error("phases", f"expected a non-empty list of phases, got {show(raw)}")
        return []
    scored = _scored(tasks)
    phases, seen, owner = [], set(), {}
    for i, item in enumerate(raw):
        path = join("phases", i)
        phase = checker.mapping(item, path, PHASE_KEYS, required=("slug",))
        if phase is None:
            continue
        slug = phase.get("slug")
        if not (isinstance(slug, str) and SLUG_RE.match(slug) and len(slug) <= 50):
            checker.error(
                join(path, "slug"),
                f"expected lowercase letters, digits and hyphens (at most 50), got {show(slug)}",
            )
        elif slug in seen:
            checker.error(join(path, "slug"), f"phase slug '{slug}' is used twice")
        seen.add(slug)
        kinds = phase.get("kinds", [])
        if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
            checker.error(
                join(path, "kinds"), f"expected a list of {', '.join(KINDS)}, got {show(kinds)}"
            )
            kinds = []
        splits = phase.get("splits", [])
        if not isinstance(splits, list):
            checker.error(
                join(path, "splits"), f"expected a list of <task>/<split>, got {show(splits)}"
            )
            splits = []
        for j, name in enumerate(splits):
            where = join(join(path, "splits"), j)
            if name not in scored:
                checker.error(
                    where,
                    f"expected a scored split of this bundle as <task>/<split> "
                    f"({listing(scored) or 'none'}), got {show(name)}",
                )
            elif name in owner:
                checker.error(
                    where,
                    f"'{name}' is scored in the phase '{owner[name]}' already; a split belongs "
                    "to one phase",
                )
            else:
                owner[name] = slug
        if len(raw) > 1 and not splits:
            checker.error(
                join(path, "splits"),
                "with several phases, each names the splits it scores (<task>/<split>)",
            )
        opens = checker.datetime(phase.get("opens_at"), join(path, "opens_at"))
        closes = checker.datetime(phase.get("closes_at"), join(path, "closes_at"))
        if opens and closes and opens >= closes:
            checker.error(join(path, "closes_at"), "expected a time after opens_at")
        phases.append(
            {
                "slug": slug,
                "title": checker.string(
                    phase.get("title"), join(path, "title"), default="", max_length=200
                ),
                "opens_at": opens,
                "closes_at": closes,
                "kinds": [k for k in KINDS if k in kinds],
                "max_per_day": checker.count(phase.get("max_per_day"), join(path, "max_per_day")),
                "max_total": checker.count(phase.get("max_total"), join(path, "max_total")),
                "splits": [s for s in splits if isinstance(s, str)],
            }
        )
    return phases
