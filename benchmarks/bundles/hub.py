"""Splits taken from a dataset on the Hugging Face Hub (`data.hub` in a bundle), frozen at import.

The requested revision is resolved to a commit and recorded, so that a score can always name the
exact data it was computed on. A local folder as `repo_id` loads the same way (used by tests and
for datasets kept next to the platform); it has no commit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from benchmarks.bundles.tables import TableReadError

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


def hub_table(
    *, repo_id: str, revision: str | None, config: str | None, split: str, cache_dir: str | None
) -> tuple[pa.Table, str]:
    """(table, resolved commit) of one split of a Hub dataset. Raises TableReadError."""
    # Imported here: `datasets` is slow to import and only Hub bundles need it.
    import datasets

    try:
        dataset = datasets.load_dataset(
            repo_id, config, revision=revision, split=split, cache_dir=cache_dir
        )
    except Exception as exc:  # datasets raises many types: missing repo, split, network…
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TableReadError(f"cannot load split '{split}': {first_line}") from None
    table = dataset.with_format("arrow")[:]
    return table, hub_commit(repo_id=repo_id, revision=revision, cache_files=dataset.cache_files)


def hub_commit(*, repo_id: str, revision: str | None, cache_files: list[dict]) -> str:
    """The commit a revision resolves to: asked of the Hub, else (offline) a pinned sha, else
    the commit that the datasets cache path is keyed by. A local folder has none."""
    if Path(repo_id).is_dir():
        return ""
    try:
        from huggingface_hub import HfApi

        sha = HfApi().dataset_info(repo_id, revision=revision).sha
        if sha:
            return sha
    except Exception:  # offline, private without a token, rate-limited: fall back below
        pass
    if revision and COMMIT_RE.match(revision):
        return revision
    for entry in cache_files:
        for part in reversed(Path(entry.get("filename", "")).parts):
            if COMMIT_RE.match(part):
                return part
    return ""
