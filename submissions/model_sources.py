"""Model submissions as the platform takes them in (docs/formats.md, "Model submissions: what is
accepted"): a Hub reference resolved to a commit and fetched into the Hub cache, or an uploaded
archive unpacked within limits; either way the result is a folder checked by its names and its
JSON configs alone.

The trusted side never loads a participant's files: nothing here unpickles, imports or runs
anything (the sandboxed run does that later). Messages quote the participant's own names (repo
id, revision, names inside the model) and never a path of the server.

- `hub_resolve`: a branch, tag or sha of a Hub model → its commit sha (asked of the Hub; offline,
  read from the cache's refs/).
- `hub_fetch`: the files inference needs at that commit, downloaded into the Hub cache
  (MODEL_HUB_CACHE, keyed by commit), then laid out as a per-policy folder of hard links (or
  copies) under MODEL_FILES_DIR: the cache is shared by every benchmark, so its snapshot folder
  may hold files that another policy fetched (code, pickle weights) which this one must not see.
- `archive_extract`: a .zip or .tar.gz, checked entry by entry (names, kinds, counts, sizes)
  before or while it is written, with bounded memory; a refused archive leaves nothing behind.
- `model_folder_check`: config.json, weights, the benchmark's code and pickle policy.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import ssl
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from django.conf import settings

from benchmarks.bundles.limits import MB, megabytes
from benchmarks.bundles.unzip import (
    DIRECTORY_BYTES_PER_ENTRY,
    METHOD_NAMES,
    METHODS,
    _directory_shape,
)
from scoring.streams import ZIP_READ_ERRORS

logger = logging.getLogger(__name__)

# Messages -------------------------------------------------------------------------------------

MAX_MESSAGES = 20
SHOWN_NAME_CHARS = 100
SHOWN_NAMES = 5


class ModelSourceError(Exception):
    """A model submission that cannot be taken in. `messages` says every problem found (the
    first MAX_MESSAGES), each one something a person can act on, quoting no server path."""

    def __init__(self, messages: list[str]):
        messages = list(messages)
        if len(messages) > MAX_MESSAGES:
            more = len(messages) - MAX_MESSAGES
            messages = [*messages[:MAX_MESSAGES], f"... and {more:,} more problems."]
        self.messages = messages
        super().__init__("; ".join(messages))


class HubUnreachable(ModelSourceError):
    """The Hub could not be reached (no network, the Hub down or rate-limiting): nothing is
    known to be wrong with the submission, and trying again later may work."""


def _shown(name: str) -> str:
    name = "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in name)
    return name if len(name) <= SHOWN_NAME_CHARS else name[: SHOWN_NAME_CHARS - 1] + "…"


def _listed(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(_shown(n) for n in names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES:,} more" if len(names) > SHOWN_NAMES else "")


# What a model folder holds ----------------------------------------------------------------------

CONFIG = "config.json"
# Configs that may ask transformers for the repo's own code (trust_remote_code) with `auto_map`.
CONFIGS_WITH_CODE = (
    CONFIG,
    "tokenizer_config.json",
    "preprocessor_config.json",
    "processor_config.json",
)
CODE_SUFFIXES = (".py", ".pyc")
# Files in pickle format, which can run code when loaded: refused unless the benchmark allows
# pickle weights (training_args.bin included: it is a pickle, whatever it holds).
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# The pickle files that count as weights (when allowed).
PICKLE_WEIGHT_NAMES = ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
WEIGHT_INDEX_SUFFIXES = (".safetensors.index.json", ".bin.index.json")
MAX_JSON_BYTES = 16 * MB

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


@dataclass(frozen=True)
class ModelFolder:
    """A checked model folder. `files` are the paths of its files relative to it (POSIX, sorted),
    `total_bytes` their sizes added up, `weight_files` those holding weights, `model_type`
    config.json's (None if it names none), `has_predict_py` whether predict.py is at its root,
    `needs_remote_code` whether a config asks for the model's own code (`auto_map`)."""

    path: Path
    files: tuple[str, ...]
    total_bytes: int
    weight_files: tuple[str, ...]
    model_type: str | None
    has_predict_py: bool
    needs_remote_code: bool


def model_folder_check(
    *, folder: Path, allow_custom_code: bool, allow_pickle_weights: bool
) -> ModelFolder:
    """Check a model folder by its names and JSON configs (nothing is imported or unpickled):
    plain files only, within MAX_MODEL_FILES and MAX_MODEL_DECODED_MB; config.json at the root,
    a JSON object; weights at the root (*.safetensors, or pickle weights where allowed), every
    file a weight index names present; code (*.py, `auto_map`) only where custom code is
    allowed, and then self-contained; pickle files only where allowed. Raises ModelSourceError
    with every problem found."""
    folder = Path(folder)
    files, total, problems = _walk(folder)
    cap = settings.MAX_MODEL_DECODED_MB * MB
    if total > cap:
        problems.append(
            f"The model's files add up to {megabytes(total)}; a model may hold at most "
            f"{megabytes(cap)}."
        )
    present = set(files)
    problems += _name_problems(
        files, allow_custom_code=allow_custom_code, allow_pickle_weights=allow_pickle_weights
    )
    config: object = None
    if CONFIG in present:
        config, problem = _read_json(folder / CONFIG, CONFIG)
        if problem:
            problems.append(problem)
        elif not isinstance(config, dict):
            problems.append(
                f"{CONFIG} is not a JSON object: save the model with save_pretrained()."
            )
    else:
        problems.append(
            f"No {CONFIG} at the root of the model folder: submit the folder that "
            "save_pretrained() wrote."
        )
    auto_maps: dict[str, list[str]] = {}
    for name in CONFIGS_WITH_CODE:
        if name not in present:
            continue
        value = config if name == CONFIG else None
        if name != CONFIG:
            value, problem = _read_json(folder / name, name)
            if problem:
                problems.append(problem)
                continue
        if isinstance(value, dict) and "auto_map" in value:
            refs, problem = _auto_map_refs(value["auto_map"], name)
            if problem:
                problems.append(problem)
            auto_maps[name] = refs
    problems += _auto_map_problems(auto_maps, present, allow_custom_code=allow_custom_code)
    problems += _index_problems(folder, files, present)
    if problems:
        raise ModelSourceError(problems)
    model_type = config.get("model_type") if isinstance(config, dict) else None
    return ModelFolder(
        path=folder,
        files=tuple(files),
        total_bytes=total,
        weight_files=tuple(f for f in files if _is_weight(f, allow_pickle_weights)),
        model_type=model_type if isinstance(model_type, str) else None,
        has_predict_py="predict.py" in present,
        needs_remote_code=bool(auto_maps),
    )


def _walk(folder: Path) -> tuple[list[str], int, list[str]]:
    """(relative paths of the plain files, their total size, problems). Links and special
    files are problems, never followed; the walk stops past MAX_MODEL_FILES files."""
    cap = settings.MAX_MODEL_FILES
    files: list[str] = []
    problems: list[str] = []
    total = 0
    pending = [(folder, "")]
    while pending:
        path, prefix = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                name = prefix + entry.name
                if entry.is_symlink():
                    problems.append(f"'{_shown(name)}' is a link; a model holds plain files.")
                elif entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.append(name)
                    total += entry.stat(follow_symlinks=False).st_size
                    if len(files) > cap:
                        raise ModelSourceError(
                            [
                                f"The model holds more than {cap:,} files; a model may hold at "
                                f"most {cap:,}."
                            ]
                        )
                else:
                    problems.append(f"'{_shown(name)}' is not a plain file.")
    return sorted(files), total, problems


def _is_code(name: str) -> bool:
    return name.lower().endswith(CODE_SUFFIXES)


def _is_pickle(name: str) -> bool:
    return name.lower().endswith(PICKLE_SUFFIXES)


def _is_weight(name: str, allow_pickle_weights: bool) -> bool:
    base = PurePosixPath(name).name
    if base.endswith(".safetensors"):
        return True
    return allow_pickle_weights and any(fnmatchcase(base, p) for p in PICKLE_WEIGHT_NAMES)


def _name_problems(
    files: list[str], *, allow_custom_code: bool, allow_pickle_weights: bool
) -> list[str]:
    """What the names alone say against the policy: code, pickle files, no weights at the
    root."""
    problems = []
    code = [f for f in files if _is_code(f)]
    if code and not allow_custom_code:
        problems.append(
            "This benchmark does not allow custom code (predict.py); the model holds code: "
            f"{_listed(code)}. Leave these files out: the model must load with transformers' "
            "own classes."
        )
    pickles = [f for f in files if _is_pickle(f)]
    if pickles and not allow_pickle_weights:
        problems.append(_pickle_refused(pickles))
    elif not any(_is_weight(f, allow_pickle_weights) for f in files if "/" not in f):
        problems.append(_no_weights(allow_pickle_weights))
    return problems


def _pickle_refused(names: list[str]) -> str:
    return (
        f"This benchmark does not allow pickle weights ({_listed(names)}): pickle files can run "
        "code when they are loaded. Save the weights as safetensors (save_pretrained does by "
        "default) and leave these files out."
    )


def _no_weights(allow_pickle_weights: bool) -> str:
    also = ", or pytorch_model.bin, *.pt, *.pth, *.ckpt or *.pkl" if allow_pickle_weights else ""
    return (
        "No model weights at the root of the model folder: expected model.safetensors (or its "
        f"shards and their index){also}."
    )


def _read_json(path: Path, name: str) -> tuple[object, str | None]:
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        return None, (
            f"{name} is {megabytes(size)}; a model's JSON files may be at most "
            f"{megabytes(MAX_JSON_BYTES)}."
        )
    try:
        return json.loads(path.read_bytes()), None
    except RecursionError:
        return None, f"{name} is not valid JSON (it is nested too deeply)."
    except ValueError as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return None, f"{name} is not valid JSON ({reason})."


def _auto_map_refs(auto_map: object, name: str) -> tuple[list[str], str | None]:
    """The class references of an `auto_map` ("module.Class", or "repo--module.Class" for code
    of another repo); tokenizers map to a [slow, fast] pair."""
    if not isinstance(auto_map, dict):
        return [], f"{name}: auto_map is not an object of class references."
    refs: list[str] = []
    for value in auto_map.values():
        for ref in value if isinstance(value, list) else [value]:
            if isinstance(ref, str):
                refs.append(ref)
            elif ref is not None:
                return refs, f"{name}: auto_map holds a value that is not a class reference."
    return refs, None


def _auto_map_problems(
    auto_maps: dict[str, list[str]], present: set[str], *, allow_custom_code: bool
) -> list[str]:
    problems = []
    for name, refs in auto_maps.items():
        if not allow_custom_code:
            problems.append(
                "This benchmark does not allow custom code (predict.py); "
                f"{name} asks for the model's own code through auto_map "
                f"({_listed(refs) or 'empty'}). Submit a model that transformers' built-in "
                "classes load (no auto_map)."
            )
            continue
        elsewhere = [r for r in refs if "--" in r]
        if elsewhere:
            problems.append(
                f"{name}: auto_map loads code from another repository ({_listed(elsewhere)}): "
                "copy that code into the model's own files."
            )
        modules = {r.rsplit(".", 1)[0] + ".py" for r in refs if "--" not in r and "." in r}
        missing = [m for m in modules if m not in present]
        if missing:
            problems.append(
                f"{name}: auto_map names code the model does not hold: {_listed(missing)}."
            )
    return problems


def _index_problems(folder: Path, files: list[str], present: set[str]) -> list[str]:
    """Every file a sharded checkpoint's index names is present."""
    problems = []
    for name in files:
        if "/" in name or not name.endswith(WEIGHT_INDEX_SUFFIXES):
            continue
        index, problem = _read_json(folder / name, name)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if problem:
            problems.append(problem)
        elif not isinstance(weight_map, dict) or not all(
            isinstance(v, str) for v in weight_map.values()
        ):
            problems.append(f"{name} has no weight_map of tensor names to file names.")
        else:
            missing = {v for v in weight_map.values() if v not in present}
            if missing:
                problems.append(
                    f"{name} names weight files the model does not hold: {_listed(missing)}."
                )
    return problems


# The Hub --------------------------------------------------------------------------------------

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


# Archives -------------------------------------------------------------------------------------

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"
IGNORED_NAMES = frozenset({"__MACOSX", ".DS_Store"})
PLAIN = "a model archive holds plain files and folders"
# A tar member's header extension (a long name, pax attributes) is read whole into memory.
MAX_TAR_EXTENSION_BYTES = 1 * MB
TAR_EXTENSION_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
TAR_READ_ERRORS = (
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # RecursionError: a chain of global pax headers
    struct.error,
)
# Writing an entry fails on its name: a file and a folder of one name, a name too long.
CLASH_ERRNOS = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR})


class _Refused(Exception):
    """An entry refused while unpacking (becomes a ModelSourceError)."""


class _WriteError(Exception):
    """Writing failed for a reason of the server's (a full disk): re-raised as the OSError."""

    def __init__(self, error: OSError):
        self.error = error
        super().__init__(str(error))


def archive_extract(
    *,
    fileobj,
    filename: str,
    dest: Path,
    allow_custom_code: bool,
    allow_pickle_weights: bool,
) -> Path:
    """Unpack an uploaded model archive (.zip, or .tar.gz / .tgz: by name and by its first
    bytes) into `dest` (an empty folder, made if missing) and return the folder holding
    config.json: `dest`, or its single top folder. Refused, with nothing left in `dest`: names
    outside the folder (absolute, `..`), links, devices and pipes, encrypted or bzip2/LZMA zip
    entries, more than MAX_MODEL_FILES entries, more than MAX_MODEL_DECODED_MB unpacked (a
    zip's declared sizes before anything is written; a tar's counted as it streams, stopped at
    the cap), several top folders, no config.json, and whatever `model_folder_check` refuses.
    Files are copied a megabyte at a time. Raises ModelSourceError."""
    dest = Path(dest)
    created = not dest.exists()
    if not created and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError("archive_extract needs an empty destination folder")
    kind = _archive_kind(fileobj, filename)
    dest.mkdir(parents=True, exist_ok=True)
    policy = {"allow_custom_code": allow_custom_code, "allow_pickle_weights": allow_pickle_weights}
    try:
        if kind == "zip":
            root = _zip_extract(fileobj, filename, dest, **policy)
        else:
            root = _tar_extract(fileobj, filename, dest)
        folder = dest.joinpath(*root)
        model_folder_check(folder=folder, **policy)
    except BaseException:
        _clear(dest, remove=created)
        raise
    return folder


def _archive_kind(fileobj, filename: str) -> str:
    shown = _shown(PurePosixPath(filename.replace("\\", "/")).name)
    lower = filename.lower()
    if lower.endswith(".zip"):
        kind = "zip"
    elif lower.endswith((".tar.gz", ".tgz")):
        kind = "tar.gz"
    else:
        raise ModelSourceError(
            [
                f"'{shown}' is not a model archive: upload the model folder as a .zip or a "
                ".tar.gz (.tgz), or give a Hub model id."
            ]
        )
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    cap = settings.MAX_MODEL_ARCHIVE_MB * MB
    if size > cap:
        raise ModelSourceError(
            [f"'{shown}' is {megabytes(size)}; a model archive may be at most {megabytes(cap)}."]
        )
    fileobj.seek(0)
    head = fileobj.read(4)
    fileobj.seek(0)
    if kind == "zip" and not head.startswith(ZIP_MAGIC):
        raise ModelSourceError(
            [f"'{shown}' is not a zip archive: its content does not start as a zip file's does."]
        )
    if kind == "tar.gz" and not head.startswith(GZIP_MAGIC):
        raise ModelSourceError(
            [f"'{shown}' is not a .tar.gz archive: its content is not gzip-compressed."]
        )
    return kind


def _entry_parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """(the parts of an entry's path, or a problem with its name)."""
    entry = f"Entry '{_shown(name)}'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return (), f"{entry} has a control character in its name."
    norm = name.replace("\\", "/")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if norm.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        return (), (
            f"{entry} would be written outside the model folder (an absolute path or '..'): "
            "archive the folder's files under relative names."
        )
    return parts, None


def _ignored(parts: tuple[str, ...]) -> bool:
    """macOS's companions (__MACOSX/, .DS_Store, ._name): skipped, never written."""
    return parts[0] in IGNORED_NAMES or parts[-1] in IGNORED_NAMES or parts[-1].startswith("._")


def _too_many_entries(cap: int) -> str:
    return f"The archive holds more than {cap:,} entries; a model archive may hold at most {cap:,}."


def _too_large(cap: int, total: int | None = None) -> str:
    size = f"{megabytes(total)} in all" if total is not None else f"more than {megabytes(cap)}"
    return f"The archive's files unpack to {size}; a model may hold at most {megabytes(cap)}."


def _layout(records: list[tuple[tuple[str, ...], bool]]) -> tuple[str, ...]:
    """Where config.json must be: the root, when files lie there; else the single top folder."""
    files = [parts for parts, is_dir in records if not is_dir]
    if not files:
        raise ModelSourceError(["The archive holds no files."])
    if any(len(parts) == 1 for parts in files):
        root: tuple[str, ...] = ()
    else:
        tops = {parts[0] for parts, _ in records}
        if len(tops) > 1:
            raise ModelSourceError(
                [
                    f"The archive's files are in several top folders ({_listed(tops)}): put the "
                    "model's files at the root of the archive, or in one folder."
                ]
            )
        root = (tops.pop(),)
    if (*root, CONFIG) not in set(files):
        found = sorted("/".join(p) for p in files if p[-1] == CONFIG)
        hint = f" (there is one at '{_shown(found[0])}')" if found else ""
        raise ModelSourceError(
            [
                f"No {CONFIG} at the root of the archive or of its single top folder{hint}: "
                "archive the folder that save_pretrained() wrote."
            ]
        )
    return root


def _zip_extract(
    fileobj, filename: str, dest: Path, *, allow_custom_code: bool, allow_pickle_weights: bool
) -> tuple[str, ...]:
    """Check every entry from the zip's directory, then the layout and the names against the
    policy, and only then write."""
    shown = _shown(PurePosixPath(filename.replace("\\", "/")).name)
    damaged = f"'{shown}' could not be read as a zip archive: it is damaged or cut short."
    cap_files = settings.MAX_MODEL_FILES
    cap = settings.MAX_MODEL_DECODED_MB * MB
    fileobj.seek(0)
    entries, directory = _directory_shape(fileobj)  # before opening parses every entry
    fileobj.seek(0)
    if entries > cap_files:
        raise ModelSourceError([_too_many_entries(cap_files)])
    if directory is None:
        raise ModelSourceError([damaged])
    if directory > cap_files * DIRECTORY_BYTES_PER_ENTRY:
        raise ModelSourceError([_too_many_entries(cap_files)])
    try:
        archive = zipfile.ZipFile(fileobj)
    except ZIP_READ_ERRORS:
        raise ModelSourceError([damaged]) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > cap_files:
            raise ModelSourceError([_too_many_entries(cap_files)])
        plan: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        problems: list[str] = []
        seen: set[tuple[str, ...]] = set()
        total = 0
        for info in infos:
            parts, problem = _entry_parts(info.filename)
            entry = f"Entry '{_shown(info.filename)}'"
            kind = stat.S_IFMT(info.external_attr >> 16)
            if problem:
                problems.append(problem)
            elif kind == stat.S_IFLNK:
                problems.append(f"{entry} is a symbolic link; {PLAIN}.")
            elif kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                problems.append(f"{entry} is a device, pipe or socket; {PLAIN}.")
            elif info.flag_bits & 0x1:
                problems.append(f"{entry} is encrypted: archive the model without a password.")
            elif info.compress_type not in METHODS:
                method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
                problems.append(
                    f"{entry} is compressed with {method}: zip the model with deflate (what zip "
                    "tools write by default) or store it uncompressed."
                )
            elif not parts or _ignored(parts):
                continue
            elif parts in seen:
                problems.append(f"{entry} appears twice.")
            else:
                seen.add(parts)
                total += 0 if info.is_dir() else info.file_size
                plan.append((info, parts))
        if total > cap:
            problems.append(_too_large(cap, total))
        if problems:
            raise ModelSourceError(problems)
        root = _layout([(parts, info.is_dir()) for info, parts in plan])
        names = [
            "/".join(parts[len(root) :])
            for info, parts in plan
            if not info.is_dir() and parts[: len(root)] == root
        ]
        problems = _name_problems(
            names, allow_custom_code=allow_custom_code, allow_pickle_weights=allow_pickle_weights
        )
        if problems:
            raise ModelSourceError(problems)
        try:
            for info, parts in plan:
                entry = f"Entry '{_shown(info.filename)}'"
                path = dest.joinpath(*parts)
                if info.is_dir():
                    _mkdir(path, entry)
                    continue
                _mkdir(path.parent, entry)
                try:
                    with archive.open(info) as stream:
                        _copy(stream.read, path, info.file_size, entry)
                except ZIP_READ_ERRORS:
                    raise _Refused(
                        f"{entry} could not be unpacked: the archive is damaged or cut short."
                    ) from None
        except _Refused as exc:
            raise ModelSourceError([str(exc)]) from None
        except _WriteError as exc:
            raise exc.error from None
    return root


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses, before tarfile reads them into memory, header extensions over
    MAX_TAR_EXTENSION_BYTES and too many of them, and sparse files (whose maps are read
    block by block)."""

    def _proc_member(self, tarfile_):
        if self.type in TAR_EXTENSION_TYPES:
            seen = getattr(tarfile_, "_model_extensions", 0) + 1
            tarfile_._model_extensions = seen
            if self.size > MAX_TAR_EXTENSION_BYTES or seen > 4 * settings.MAX_MODEL_FILES:
                raise _Refused(
                    "The archive holds a tar header extension (a long name or pax attributes) "
                    "too large or too many: archive the model with a usual tar tool."
                )
        elif self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(f"Entry '{_shown(self.name)}' is a sparse file; {PLAIN}.")
        return super()._proc_member(tarfile_)


def _tar_extract(fileobj, filename: str, dest: Path) -> tuple[str, ...]:
    """Stream the tar: each member is checked before it is written, the entries and the bytes
    counted as they come, and unpacking stops at the first refusal (the caller clears `dest`)."""
    shown = _shown(PurePosixPath(filename.replace("\\", "/")).name)
    cap_files = settings.MAX_MODEL_FILES
    cap = settings.MAX_MODEL_DECODED_MB * MB
    records: list[tuple[tuple[str, ...], bool]] = []
    count = total = 0
    fileobj.seek(0)
    try:
        with tarfile.open(fileobj=fileobj, mode="r|gz", tarinfo=_BoundedTarInfo) as tar:
            for member in tar:
                count += 1
                if count > cap_files:
                    raise _Refused(_too_many_entries(cap_files))
                parts, problem = _entry_parts(member.name)
                entry = f"Entry '{_shown(member.name)}'"
                if problem:
                    raise _Refused(problem)
                if member.issym():
                    raise _Refused(f"{entry} is a symbolic link; {PLAIN}.")
                if member.islnk():
                    raise _Refused(f"{entry} is a hard link; {PLAIN}.")
                if member.ischr() or member.isblk() or member.isfifo():
                    raise _Refused(f"{entry} is a device or a pipe; {PLAIN}.")
                if not (member.isreg() or member.isdir()):
                    raise _Refused(f"{entry} is not a plain file or folder; {PLAIN}.")
                if not parts or _ignored(parts):
                    continue
                path = dest.joinpath(*parts)
                if member.isdir():
                    _mkdir(path, entry)
                    records.append((parts, True))
                    continue
                if total + member.size > cap:
                    raise _Refused(_too_large(cap))
                total += member.size
                _mkdir(path.parent, entry)
                stream = tar.extractfile(member)
                _copy(stream.read, path, member.size, entry)
                records.append((parts, False))
    except _Refused as exc:
        raise ModelSourceError([str(exc)]) from None
    except _WriteError as exc:
        raise exc.error from None
    except TAR_READ_ERRORS:
        raise ModelSourceError(
            [f"'{shown}' could not be read as a .tar.gz archive: it is damaged or cut short."]
        ) from None
    return _layout(records)


def _write_failure(exc: OSError, entry: str) -> Exception:
    if exc.errno in CLASH_ERRNOS:
        return _Refused(
            f"{entry} clashes with another entry: a file and a folder of the same name, or the "
            "same file twice."
        )
    if exc.errno == errno.ENAMETOOLONG:
        return _Refused(f"{entry} has a name too long for a file.")
    return _WriteError(exc)


def _mkdir(path: Path, entry: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_failure(exc, entry) from None


def _copy(read: Callable[[int], bytes], path: Path, limit: int, entry: str) -> None:
    """Copy a megabyte at a time; never more than the entry declares."""
    try:
        out = open(path, "xb")  # noqa: SIM115 - closed below; opening may clash
    except OSError as exc:
        raise _write_failure(exc, entry) from None
    written = 0
    with out:
        while piece := read(MB):
            written += len(piece)
            if written > limit:
                raise _Refused(f"{entry} holds more than it declares.")
            try:
                out.write(piece)
            except OSError as exc:
                raise _WriteError(exc) from None


def _clear(dest: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
