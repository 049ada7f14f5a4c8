"""Model submissions' intake (submissions/model_sources/): the checks of a model folder
(model_folder_check). Nothing here reaches the network, and no model is loaded: the files are
written by hand (tests/model_files.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from submissions.model_sources import ModelFolder, ModelSourceError, model_folder_check
from tests.model_files import (
    INFERENCE_FILES,
    NO_CODE,
    model_files_fixture,  # noqa: F401 - a fixture
    without,
    write_folder,
)

# The checks of a folder -------------------------------------------------------------------------


def check(folder: Path, **policy) -> ModelFolder:
    policy = {"allow_custom_code": False, "allow_pickle_weights": False, **policy}
    return model_folder_check(folder=folder, **policy)


def folder_refused(folder: Path, **policy) -> list[str]:
    with pytest.raises(ModelSourceError) as caught:
        check(folder, **policy)
    return caught.value.messages


def test_config_json_must_be_a_json_object(model_files, tmp_path):
    folder = write_folder(tmp_path / "m", {**model_files, "config.json": b"[1, 2]"})
    assert folder_refused(folder) == [
        "config.json is not a JSON object: save the model with save_pretrained()."
    ]
    (folder / "config.json").write_bytes(b'{"model_type": ')
    assert folder_refused(folder) == [
        "config.json is not valid JSON (Expecting value: line 1 column 16 (char 15))."
    ]
    (folder / "config.json").unlink()
    assert folder_refused(folder) == [
        "No config.json at the root of the model folder: submit the folder that "
        "save_pretrained() wrote."
    ]


def test_weights_must_be_at_the_root(model_files, tmp_path):
    files = without(model_files, "model.safetensors")
    folder = write_folder(tmp_path / "m", {**files, "sub/model.safetensors": b"x"})
    assert folder_refused(folder) == [
        "No model weights at the root of the model folder: expected model.safetensors (or its "
        "shards and their index)."
    ]
    assert folder_refused(folder, allow_pickle_weights=True) == [
        "No model weights at the root of the model folder: expected model.safetensors (or its "
        "shards and their index), or pytorch_model.bin, *.pt, *.pth, *.ckpt or *.pkl."
    ]


def test_a_shard_named_by_the_index_must_be_present(model_files, tmp_path):
    index = {
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        }
    }
    files = {
        **without(model_files, "model.safetensors"),
        "model-00001-of-00002.safetensors": model_files["model.safetensors"],
        "model.safetensors.index.json": json.dumps(index).encode(),
    }
    folder = write_folder(tmp_path / "m", files)
    assert folder_refused(folder) == [
        "model.safetensors.index.json names weight files the model does not hold: "
        "model-00002-of-00002.safetensors."
    ]


def test_a_tokenizer_asking_for_its_own_code_is_custom_code(model_files, tmp_path):
    config = {
        "tokenizer_class": "TinyTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_tiny.TinyTokenizer", None]},
    }
    folder = write_folder(
        tmp_path / "m", {**model_files, "tokenizer_config.json": json.dumps(config).encode()}
    )
    assert folder_refused(folder) == [
        NO_CODE + "tokenizer_config.json asks for the model's own code through auto_map "
        "(tokenization_tiny.TinyTokenizer). Submit a model that transformers' built-in classes "
        "load (no auto_map)."
    ]
    # Allowed, the code must be the model's own, and present.
    assert folder_refused(folder, allow_custom_code=True) == [
        "tokenizer_config.json: auto_map names code the model does not hold: tokenization_tiny.py."
    ]


def test_code_from_another_repository_is_refused_even_where_code_is_allowed(model_files, tmp_path):
    config = json.loads(model_files["config.json"])
    config["auto_map"] = {"AutoModel": "someone/else--modeling_x.Model"}
    folder = write_folder(
        tmp_path / "m", {**model_files, "config.json": json.dumps(config).encode()}
    )
    assert folder_refused(folder, allow_custom_code=True) == [
        "config.json: auto_map loads code from another repository "
        "(someone/else--modeling_x.Model): copy that code into the model's own files."
    ]


def test_links_and_too_many_files_in_a_folder_are_refused(model_files, settings, tmp_path):
    folder = write_folder(tmp_path / "m", model_files)
    (folder / "secret").symlink_to("/etc/passwd")
    assert folder_refused(folder) == ["'secret' is a link; a model holds plain files."]
    (folder / "secret").unlink()

    settings.MAX_MODEL_FILES = 6
    assert check(folder).files == tuple(INFERENCE_FILES)
    (folder / "notes.txt").write_bytes(b"x")
    assert folder_refused(folder) == [
        "The model holds more than 6 files; a model may hold at most 6."
    ]
