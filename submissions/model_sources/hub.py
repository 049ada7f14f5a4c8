"""Hub models: `hub_resolve` (a revision → its commit sha), `hub_fetch` (the files inference
needs at that commit, fetched into the Hub cache and laid out as a per-policy folder) and
`hub_allow_patterns` (which files those are)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import ssl
import tempfile
from pathlib import Path

from django.conf import settings

from benchmarks.bundles.limits import MB, megabytes
from submissions.model_sources.errors import HubUnreachable, ModelSourceError, _shown
from submissions.model_sources.folders import (
    CONFIG,
    _is_weight,
    _no_weights,
    _pickle_refused,
    model_folder_check,
)

logger = logging.getLogger(__name__)

# What is fetched from the Hub: only what inference needs, at the repo's root (what
# from_pretrained loads). README, ONNX, GGUF, TF and Flax weights, training files stay there.
INFERENCE_PATTERNS = (
    CONFIG,
    "generation_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.*",
    "merges.txt",
    "*.model",  # sentencepiece
    "*.tiktoken",
    "chat_template.jinja",
    "chat_template.json",
    "preprocessor_config.json",
    "processor_config.json",
    "video_preprocessor_config.json",
)
# With custom code allowed: the code, and the small files a predict.py may read beside it.
CODE_PATTERNS = ("*.py", "*.json", "*.txt")
PICKLE_PATTERNS = ("*.bin", "*.bin.index.json", "*.pt", "*.pth", "*.ckpt", "*.pkl")
ROOT_ONLY = ("*/*",)

REPO_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?"
REPO_ID_RE = re.compile(rf"(?:{REPO_PART}/)?{REPO_PART}")
REVISION_RE = re.compile(r"[A-Za-z0-9_.+][A-Za-z0-9_.+/-]{0,199}")
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
OFFLINE_NOTE = (
    " This server works offline: it sees only the models already in its local copy of the Hub."
)


def hub_allow_patterns(*, allow_custom_code: bool, allow_pickle_weights: bool) -> list[str]:
    """The files fetched from a Hub model repo (at its root only) under a benchmark's policy."""
    patterns = list(INFERENCE_PATTERNS)
    if allow_custom_code:
        patterns += CODE_PATTERNS
    if allow_pickle_weights:
        patterns += PICKLE_PATTERNS
    return patterns


def _check_repo_id(repo_id: str) -> None:
    valid = (
        isinstance(repo_id, str)
        and len(repo_id) <= 96
        and REPO_ID_RE.fullmatch(repo_id)
        and "--" not in repo_id
        and ".." not in repo_id
        and not repo_id.endswith(".git")
    )
    if valid:
        from huggingface_hub.errors import HFValidationError
        from huggingface_hub.utils import validate_repo_id

        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            valid = False
    if not valid:
        raise ModelSourceError(
            [
                f"'{_shown(str(repo_id))}' is not a Hub model id: use 'org/name' or 'name' "
                "(letters, digits, '-', '_' and '.'; at most 96 characters; no '--' or '..')."
            ]
        )


def _check_revision(revision: str) -> None:
    # Offline, a branch or tag names a file under the cache's refs/: nothing may leave it.
    valid = (
        isinstance(revision, str)
        and REVISION_RE.fullmatch(revision)
        and ".." not in revision
        and "//" not in revision
        and not revision.endswith(("/", ".lock"))
    )
    if not valid:
        raise ModelSourceError(
            [
                f"'{_shown(str(revision))}' is not a revision: give a branch, a tag or a commit "
                "sha (letters, digits, '.', '_', '-', '+' and '/')."
            ]
        )


def _hub_cache() -> Path:
    return Path(settings.MODEL_HUB_CACHE)


def _repo_cache(repo_id: str) -> Path:
    from huggingface_hub.file_download import repo_folder_name

    return _hub_cache() / repo_folder_name(repo_id=repo_id, repo_type="model")


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.is_offline_mode()


def _unknown_repo(repo_id: str, offline: bool) -> ModelSourceError:
    return ModelSourceError(
        [
            f"No model '{repo_id}' on the Hub (or it is private and no token is configured)."
            + (OFFLINE_NOTE if offline else "")
        ]
    )


def _unknown_revision(repo_id: str, revision: str, offline: bool) -> ModelSourceError:
    return ModelSourceError(
        [
            f"Model '{repo_id}' has no revision '{_shown(revision)}' on the Hub: give a branch, "
            "a tag or a full commit sha." + (OFFLINE_NOTE if offline else "")
        ]
    )


def _is_network_error(exc: BaseException) -> bool:
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, (HfHubHTTPError, ConnectionError, TimeoutError, ssl.SSLError)):
        return True
    return type(exc).__module__.split(".")[0] in {"httpx", "httpx2", "httpcore", "h11", "h2"}


def _hub_error(exc: Exception, *, repo_id: str, revision: str, doing: str):
    """The ModelSourceError an exception of huggingface_hub stands for, or None if it is none
    of the Hub's answers nor a network failure (a bug, a full disk: the caller re-raises)."""
    from huggingface_hub.errors import (
        DisabledRepoError,
        GatedRepoError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return ModelSourceError(
            [
                f"Model '{repo_id}' is gated on the Hub, and this server's token has not been "
                "granted access to it."
            ]
        )
    if isinstance(exc, RepositoryNotFoundError):
        return _unknown_repo(repo_id, offline=False)
    if isinstance(exc, RevisionNotFoundError):
        return _unknown_revision(repo_id, revision, offline=False)
    if isinstance(exc, DisabledRepoError):
        return ModelSourceError([f"Model '{repo_id}' is disabled on the Hub."])
    if _is_network_error(exc):
        logger.warning(
            "Hub unreachable while %s %s@%s: %s", doing, repo_id, revision, type(exc).__name__
        )
        return HubUnreachable(
            [
                f"The Hugging Face Hub could not be reached to {doing} model '{repo_id}'; try "
                "again later."
            ]
        )
    return None


def hub_resolve(*, repo_id: str, revision: str = "main") -> str:
    """The commit sha a Hub model's revision (a branch, a tag or a sha) points to now. Online it
    is asked of the Hub (HF_ENDPOINT, HF_TOKEN); offline (HF_HUB_OFFLINE) it is read from the
    Hub cache: a full sha whose snapshot is there, else refs/<revision>. Raises
    ModelSourceError (HubUnreachable for network failures)."""
    revision = revision or "main"
    _check_repo_id(repo_id)
    _check_revision(revision)
    if _offline():
        return _cached_commit(repo_id, revision)
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(repo_id, revision=revision)
    except Exception as exc:
        error = _hub_error(exc, repo_id=repo_id, revision=revision, doing="look up")
        if error is None:
            raise
        raise error from None
    if not info.sha or not COMMIT_RE.fullmatch(info.sha):
        raise HubUnreachable(
            [f"The Hugging Face Hub named no commit for model '{repo_id}'; try again later."]
        )
    return info.sha


def _cached_commit(repo_id: str, revision: str) -> str:
    repo = _repo_cache(repo_id)
    if not repo.is_dir():
        raise _unknown_repo(repo_id, offline=True)
    commit = revision if COMMIT_RE.fullmatch(revision) else ""
    ref = repo / "refs" / revision
    if not commit and ref.is_file():
        commit = ref.read_text(errors="replace").strip()
    if not COMMIT_RE.fullmatch(commit) or not (repo / "snapshots" / commit).is_dir():
        raise _unknown_revision(repo_id, revision, offline=True)
    return commit


def _policy_name(*, allow_custom_code: bool, allow_pickle_weights: bool) -> str:
    kinds = [k for k, on in (("code", allow_custom_code), ("pickle", allow_pickle_weights)) if on]
    return "+".join(kinds) or "plain"


def hub_fetch(
    *, repo_id: str, sha: str, allow_custom_code: bool, allow_pickle_weights: bool
) -> Path:
    """Download what inference needs of a Hub model at commit `sha` (`hub_allow_patterns`) into
    the Hub cache, check it (`model_folder_check`) and return a folder holding exactly those
    files: MODEL_FILES_DIR/hub/models--org--name/<sha>/<policy>/, hard links to the cache's
    blobs (copies across file systems), made once per commit and policy. Online, the repo's
    listing is checked against the limits before anything is downloaded. Raises
    ModelSourceError (HubUnreachable for network failures)."""
    _check_repo_id(repo_id)
    if not isinstance(sha, str) or not COMMIT_RE.fullmatch(sha):
        raise ModelSourceError(
            [f"'{_shown(str(sha))}' is not a commit sha (40 hexadecimal digits)."]
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import IncompleteSnapshotError, LocalEntryNotFoundError

    policy = {"allow_custom_code": allow_custom_code, "allow_pickle_weights": allow_pickle_weights}
    patterns = hub_allow_patterns(**policy)
    view = Path(settings.MODEL_FILES_DIR) / "hub" / _repo_cache(repo_id).name / sha
    view = view / _policy_name(**policy)
    if view.is_dir():  # made and checked before; the limits may have changed since
        model_folder_check(folder=view, **policy)
        return view
    offline = _offline()
    if not offline:
        _hub_precheck(repo_id, sha, patterns, allow_pickle_weights=allow_pickle_weights)
    try:
        snapshot = snapshot_download(
            repo_id,
            revision=sha,
            cache_dir=_hub_cache(),
            allow_patterns=patterns,
            ignore_patterns=list(ROOT_ONLY),
        )
    except LocalEntryNotFoundError as exc:
        cause = exc.__cause__
        if not offline and cause is not None and _is_network_error(cause):
            raise _hub_error(cause, repo_id=repo_id, revision=sha, doing="download") from None
        partly = "only partly" if isinstance(exc, IncompleteSnapshotError) else "not"
        raise ModelSourceError(
            [
                f"Model '{repo_id}' at commit {sha[:12]} is {partly} in this server's local "
                "copy of the Hub, and this server works offline."
            ]
        ) from None
    except Exception as exc:
        error = _hub_error(exc, repo_id=repo_id, revision=sha, doing="download")
        if error is None:
            raise
        raise error from None
    return _publish_view(Path(snapshot), view, repo_id, sha, patterns, **policy)


def _hub_precheck(
    repo_id: str, sha: str, patterns: list[str], *, allow_pickle_weights: bool
) -> None:
    """Online, before downloading: the repo's listing has config.json and weights, and what
    would be fetched is within MAX_MODEL_FILES and MAX_MODEL_DECODED_MB."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import filter_repo_objects

    try:
        info = HfApi().model_info(repo_id, revision=sha, files_metadata=True)
    except Exception as exc:
        error = _hub_error(exc, repo_id=repo_id, revision=sha, doing="look up")
        if error is None:
            raise
        raise error from None
    root = [s for s in info.siblings or [] if "/" not in s.rfilename]
    planned = list(filter_repo_objects(root, allow_patterns=patterns, key=lambda s: s.rfilename))
    names = [s.rfilename for s in root]
    problems = []
    if CONFIG not in names:
        problems.append(
            f"Model '{repo_id}' has no {CONFIG} at the root of its repo: push the folder that "
            "save_pretrained() wrote."
        )
    problem = _hub_weights_problem(
        names, [s.rfilename for s in planned], allow_pickle_weights=allow_pickle_weights
    )
    if problem:
        problems.append(problem)
    cap_files = settings.MAX_MODEL_FILES
    if len(planned) > cap_files:
        problems.append(
            f"Model '{repo_id}' has {len(planned):,} files to fetch; a model may hold at most "
            f"{cap_files:,}."
        )
    total = sum(s.size or 0 for s in planned)
    cap = settings.MAX_MODEL_DECODED_MB * MB
    if total > cap:
        problems.append(
            f"The files of model '{repo_id}' that inference needs add up to {megabytes(total)}; "
            f"a model may hold at most {megabytes(cap)}."
        )
    if problems:
        raise ModelSourceError(problems)


def _hub_weights_problem(
    names: list[str], fetched: list[str], *, allow_pickle_weights: bool
) -> str | None:
    """Why the fetched files hold no weights: the repo's are pickle files this benchmark does
    not allow, or it has none."""
    if any(_is_weight(n, allow_pickle_weights) for n in fetched):
        return None
    pickles = [n for n in names if _is_weight(n, True) and not n.endswith(".safetensors")]
    if pickles and not allow_pickle_weights:
        return _pickle_refused(pickles)
    return _no_weights(allow_pickle_weights)


def _publish_view(
    snapshot: Path,
    view: Path,
    repo_id: str,
    sha: str,
    patterns: list[str],
    *,
    allow_custom_code: bool,
    allow_pickle_weights: bool,
) -> Path:
    """Lay out the snapshot's allowed root files as the view folder, checked before it appears
    under its name (a partial folder is renamed into place; a concurrent fetch that got there
    first wins)."""
    from huggingface_hub.utils import filter_repo_objects

    storage = snapshot.parent.parent.resolve()
    names = sorted(e.name for e in os.scandir(snapshot) if not e.is_dir())
    kept = list(filter_repo_objects(names, allow_patterns=patterns))
    problem = _hub_weights_problem(names, kept, allow_pickle_weights=allow_pickle_weights)
    if problem:
        raise ModelSourceError([problem])
    view.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=view.parent))
    try:
        partial.chmod(0o755)  # mkdtemp's folder is its owner's alone; the view is read by runs
        for name in kept:
            source = (snapshot / name).resolve()
            if not source.is_relative_to(storage) or not source.is_file():
                raise ModelSourceError(
                    [
                        f"Model '{repo_id}' at commit {sha[:12]} is only partly in this "
                        f"server's local copy of the Hub ({_shown(name)} is missing); try again."
                    ]
                )
            _link_or_copy(source, partial / name)
        model_folder_check(
            folder=partial,
            allow_custom_code=allow_custom_code,
            allow_pickle_weights=allow_pickle_weights,
        )
        try:
            partial.rename(view)
        except OSError:
            if not view.is_dir():
                raise
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return view


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed there
        shutil.copyfile(source, target)
