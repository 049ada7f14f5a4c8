"""Splits taken from a dataset on the Hugging Face Hub (`data.hub` in a bundle), frozen at import.

The requested revision is resolved to a commit and recorded, so that a score can always name the
exact data it was computed on. Online, the Hub says which commit a branch or tag points to and
`datasets` loads the data at that commit. Offline (HF_HUB_OFFLINE=1, or the Hub unreachable), the
commit comes from the local Hugging Face cache as `snapshot_download` or an earlier online import
left it (`refs/<revision>` → `snapshots/<commit>/`), and the snapshot folder is loaded like a local
dataset: `datasets` 5 itself refuses a repo id outright when offline, without looking at that
cache. A local folder as `repo_id` loads the same way (used by tests and for datasets kept next to
the platform); it has no commit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from benchmarks.bundles.files import TableReadError, table_check
from benchmarks.bundles.limits import BundleLimits, DecodedBudget

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


class HubError(TableReadError):
    """The dataset itself cannot be had (unknown repo, revision, not cached while offline), as
    opposed to one split of it. `key` is the `data.hub` key the message is about."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"data.hub.{key}: {message}")


def hub_table(
    *,
    repo_id: str,
    revision: str | None,
    config: str | None,
    split: str,
    cache_dir: str | None,
    limits: BundleLimits | None = None,
    budget: DecodedBudget | None = None,
) -> tuple[pa.Table, str]:
    """(table, resolved commit) of one split of a Hub dataset, within `limits` (its Arrow size
    taken from `budget`). Raises TableReadError."""
    limits = limits or BundleLimits()
    budget = budget or DecodedBudget(limits.max_decoded_bytes)
    if Path(repo_id).is_dir():
        commit, path, at = "", repo_id, None
    else:
        commit, snapshot = hub_resolve(repo_id=repo_id, revision=revision)
        path, at = (snapshot, None) if snapshot else (repo_id, commit)
    dataset = _load(path, config, at, split, cache_dir)
    # `datasets` keeps the split on disk, memory-mapped: checked before anything is copied.
    table = dataset.with_format("arrow")[:]
    table_check(table, limits, budget)
    return table, commit


def hub_resolve(*, repo_id: str, revision: str | None) -> tuple[str, str]:
    """(commit, snapshot folder) of a Hub dataset revision. Online the folder is "" (`datasets`
    downloads what it needs at the commit); offline both come from the local cache. Raises
    HubError at once for an unknown repo or revision, or a dataset missing from the cache while
    offline — never a slow retry loop."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    wanted = revision or "main"
    offline = constants.HF_HUB_OFFLINE
    reason = "HF_HUB_OFFLINE is set"
    if not offline:
        try:
            sha = HfApi().dataset_info(repo_id, revision=wanted).sha
        except RepositoryNotFoundError:  # also gated repos without access
            raise HubError(
                "repo_id",
                f"no dataset '{repo_id}' on the Hugging Face Hub, or it is private or gated "
                "(set HF_TOKEN to a token that may read it)",
            ) from None
        except RevisionNotFoundError:
            raise HubError(
                "revision", f"dataset '{repo_id}' has no revision '{wanted}' on the Hub"
            ) from None
        except Exception as exc:  # no network, Hub down, rate-limited: try the local cache
            reason = f"the Hub cannot be reached ({type(exc).__name__})"
        else:
            if sha:
                return sha, ""
            reason = "the Hub named no commit"
    return _cached_snapshot(repo_id, wanted, reason)


def _cached_snapshot(repo_id: str, revision: str, reason: str) -> tuple[str, str]:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
    )
    from huggingface_hub.file_download import repo_folder_name

    try:
        folder = snapshot_download(
            repo_id, repo_type="dataset", revision=revision, local_files_only=True
        )
    except HFValidationError as exc:
        raise HubError("repo_id", f"'{repo_id}' is not a valid repo id ({exc})") from None
    except LocalEntryNotFoundError as exc:
        what = "is incomplete in" if isinstance(exc, IncompleteSnapshotError) else "is not in"
        cached = Path(
            constants.HF_HUB_CACHE, repo_folder_name(repo_id=repo_id, repo_type="dataset")
        )
        raise HubError(
            # With the repo cached, it is the revision that is missing.
            "revision" if cached.is_dir() else "repo_id",
            f"dataset '{repo_id}' at revision '{revision}' {what} the local Hugging Face "
            f"cache ({constants.HF_HUB_CACHE}) and {reason}; download it there first "
            "(huggingface_hub.snapshot_download(repo_type='dataset')) or import online",
        ) from None
    return Path(folder).name, folder


def _load(path: str, config: str | None, revision: str | None, split: str, cache_dir: str | None):
    # Imported here: `datasets` is slow to import and only Hub bundles need it.
    import datasets

    try:
        dataset = datasets.load_dataset(
            path, config, revision=revision, split=split, cache_dir=cache_dir
        )
    except Exception as exc:  # datasets raises many types: missing split, config, bad file…
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TableReadError(f"cannot load split '{split}': {first_line}") from None
    return dataset


def hub_commit(*, repo_id: str, revision: str | None, cache_files: list[dict]) -> str:
    """The commit a revision resolves to ("" for a local folder, or when it cannot be told):
    asked of the Hub, else (offline) read from the local cache, else a pinned sha, else the
    commit a `datasets` cache path is keyed by."""
    if Path(repo_id).is_dir():
        return ""
    try:
        return hub_resolve(repo_id=repo_id, revision=revision)[0]
    except HubError:
        pass
    if revision and COMMIT_RE.match(revision):
        return revision
    for entry in cache_files:
        for part in reversed(Path(entry.get("filename", "")).parts):
            if COMMIT_RE.match(part):
                return part
    return ""
