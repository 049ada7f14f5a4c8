"""What a model folder holds, and `model_folder_check`: a folder checked by its names and its
JSON configs alone (nothing is imported or unpickled)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from django.conf import settings

from benchmarks.bundles.limits import MB, megabytes
from submissions.model_sources.errors import ModelSourceError, _listed, _shown

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
