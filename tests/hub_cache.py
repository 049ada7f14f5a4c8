"""A Hugging Face Hub cache built from files, for tests that run offline (HF_HUB_OFFLINE=1): laid
out as huggingface_hub's `snapshot_download` leaves it, so the real library reads it.

    cache/models--org--name/
        blobs/<sha256 of the content>              the files' bytes, each stored once
        snapshots/<commit>/<path>                  relative symlinks to the blobs
        refs/<branch or tag>                       the commit it points to (no newline)

    commit = hub_cache_add(cache, "org/name", folder, refs=("main",))
    older = hub_cache_add(cache, "org/name", other_folder, refs=("dev", "v1.0"))

A branch and a tag look the same in the cache (both are files under refs/, written when a
revision of that name was downloaded), so a tag is given like a branch.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path


def repo_folder(cache: Path, repo_id: str, repo_type: str = "model") -> Path:
    """The repo's folder in the cache: models--org--name (datasets--…, spaces--…)."""
    return Path(cache) / "--".join([f"{repo_type}s", *repo_id.split("/")])


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by its POSIX path relative to it."""
    folder = Path(folder)
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def hub_cache_add(
    cache: Path,
    repo_id: str,
    files: Path | Mapping[str, bytes],
    *,
    refs: Iterable[str] = ("main",),
    commit: str | None = None,
    repo_type: str = "model",
) -> str:
    """Add one commit of a repo to the cache: `files` (a folder, or contents by relative path)
    as its snapshot, and each of `refs` (branches, tags) pointing to it. The commit is derived
    from the content unless given. Returns the commit."""
    contents = folder_files(files) if isinstance(files, (str, Path)) else dict(files)
    if commit is None:
        digest = hashlib.sha1()
        for name in sorted(contents):
            digest.update(name.encode() + b"\0" + hashlib.sha256(contents[name]).digest())
        commit = digest.hexdigest()
    repo = repo_folder(cache, repo_id, repo_type)
    for name, content in contents.items():
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        if not blob.exists():
            blob.write_bytes(content)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
    for ref in refs:
        path = repo / "refs" / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commit)
    return commit
