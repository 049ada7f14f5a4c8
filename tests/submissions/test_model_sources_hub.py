"""Model submissions' intake (submissions/model_sources/): Hub references resolved and fetched
from a Hub cache built in a temporary folder (tests/hub_cache.py) with HF_HUB_OFFLINE on, as the
real huggingface_hub reads it, and online against a local fake Hub (tests/model_files.py).
Nothing here reaches the network, and no model is loaded: the files are written by hand."""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub import constants

from submissions.model_sources import (
    HubUnreachable,
    ModelSourceError,
    hub_fetch,
    hub_resolve,
    model_folder_check,
)
from tests.hub_cache import hub_cache_add
from tests.model_files import (
    INFERENCE_FILES,
    MB,
    NO_CODE,
    OFFLINE_NOTE,
    REPO,
    FakeHubApi,
    listing,
    messages,
    model_files_fixture,  # noqa: F401 - a fixture
    with_auto_map,
    without,
)

# The Hub, offline -------------------------------------------------------------------------------


@pytest.fixture
def hub(tmp_path, settings, monkeypatch):
    """An empty Hub cache the code under test is pointed at (settings.MODEL_HUB_CACHE), checked
    model folders in their own folder, and huggingface_hub offline (its constant is read at
    import, so it is patched: any request would raise)."""
    settings.MODEL_HUB_CACHE = str(tmp_path / "hub")
    settings.MODEL_FILES_DIR = tmp_path / "models"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


@pytest.fixture
def repo(hub, model_files):
    """acme/tiny-bert: main at the current files (plus files inference does not need); dev and
    the tag v1.0 at an older commit."""
    extra = {
        "README.md": b"# Tiny BERT\n",
        "model.onnx": b"onnx bytes",
        "pytorch_model.bin": b"pickle bytes",
        "train.py": b"print('training')\n",
        "onnx/model.safetensors": b"not fetched: not at the root",
    }
    old = {**model_files, "config.json": model_files["config.json"].replace(b"neg", b"NEG")}
    return {
        "main": hub_cache_add(hub, REPO, {**model_files, **extra}),
        "old": hub_cache_add(hub, REPO, old, refs=("dev", "v1.0")),
    }


def test_a_branch_resolves_to_its_commit(repo):
    assert hub_resolve(repo_id=REPO) == repo["main"]
    assert hub_resolve(repo_id=REPO, revision="dev") == repo["old"]


def test_a_tag_resolves_to_its_commit(repo):
    assert hub_resolve(repo_id=REPO, revision="v1.0") == repo["old"]


def test_a_full_sha_resolves_to_itself(repo):
    assert hub_resolve(repo_id=REPO, revision=repo["old"]) == repo["old"]


def test_an_unknown_repo_is_refused(repo):
    with pytest.raises(ModelSourceError) as caught:
        hub_resolve(repo_id="acme/nothing-here")
    assert messages(caught) == [
        "No model 'acme/nothing-here' on the Hub (or it is private and no token is configured)."
        + OFFLINE_NOTE
    ]


def test_an_unknown_revision_is_refused(repo):
    for revision in ("no-such-branch", "0" * 40):
        with pytest.raises(ModelSourceError) as caught:
            hub_resolve(repo_id=REPO, revision=revision)
        assert messages(caught) == [
            f"Model '{REPO}' has no revision '{revision}' on the Hub: give a branch, a tag or a "
            "full commit sha." + OFFLINE_NOTE
        ]


def test_malformed_repo_ids_and_revisions_are_refused(repo):
    for repo_id in ("../etc", "a/b/c", "acme--x/y", "acme/x.git", "/abs", "a" * 97, ""):
        with pytest.raises(ModelSourceError) as caught:
            hub_resolve(repo_id=repo_id)
        assert messages(caught) == [
            f"'{repo_id}' is not a Hub model id: use 'org/name' or 'name' (letters, digits, '-', "
            "'_' and '.'; at most 96 characters; no '--' or '..')."
        ]
    # A revision names a file under the cache's refs/ offline: nothing may climb out of it.
    for revision in ("../../refs/main", "/etc/passwd", "a b", "main/", "x.lock"):
        with pytest.raises(ModelSourceError) as caught:
            hub_resolve(repo_id=REPO, revision=revision)
        assert messages(caught) == [
            f"'{revision}' is not a revision: give a branch, a tag or a commit sha (letters, "
            "digits, '.', '_', '-', '+' and '/')."
        ]


@pytest.fixture
def unreachable_hub(hub, monkeypatch):
    """Online, with the Hub's address a local port nobody listens on: a real connection error."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")


def test_a_hub_that_cannot_be_reached_is_said_so(unreachable_hub):
    with pytest.raises(HubUnreachable) as caught:
        hub_resolve(repo_id=REPO, revision="main")
    assert messages(caught) == [
        f"The Hugging Face Hub could not be reached to look up model '{REPO}'; try again later."
    ]
    with pytest.raises(HubUnreachable) as caught:
        hub_fetch(repo_id=REPO, sha="a" * 40, allow_custom_code=False, allow_pickle_weights=False)
    assert messages(caught) == [
        f"The Hugging Face Hub could not be reached to look up model '{REPO}'; try again later."
    ]


@pytest.fixture
def online_hub(hub, monkeypatch):
    """huggingface_hub online, its endpoint a FakeHubApi on a local port (returned: fill
    `.repos`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setattr(FakeHubApi, "repos", {})
    yield FakeHubApi
    server.shutdown()
    server.server_close()


INFERENCE_SIZES = {"config.json": 700, "model.safetensors": 4 * MB, "tokenizer.json": 2_000}


def test_online_a_revision_is_resolved_by_the_hub(online_hub):
    main, tag = "1" * 40, "2" * 40
    online_hub.repos[REPO] = {
        "revisions": {"main": main, "v1.0": tag, "refs/pr/1": tag},
        "files": INFERENCE_SIZES,
    }

    assert hub_resolve(repo_id=REPO) == main
    assert hub_resolve(repo_id=REPO, revision="v1.0") == tag
    assert hub_resolve(repo_id=REPO, revision="refs/pr/1") == tag
    assert hub_resolve(repo_id=REPO, revision=tag) == tag
    with pytest.raises(ModelSourceError) as caught:
        hub_resolve(repo_id="acme/nothing-here")
    assert messages(caught) == [
        "No model 'acme/nothing-here' on the Hub (or it is private and no token is configured)."
    ]
    with pytest.raises(ModelSourceError) as caught:
        hub_resolve(repo_id=REPO, revision="nope")
    assert messages(caught) == [
        f"Model '{REPO}' has no revision 'nope' on the Hub: give a branch, a tag or a full "
        "commit sha."
    ]
    online_hub.repos["acme/down"] = "down"
    with pytest.raises(HubUnreachable) as caught:
        hub_resolve(repo_id="acme/down")
    assert messages(caught) == [
        "The Hugging Face Hub could not be reached to look up model 'acme/down'; try again later."
    ]


def test_online_a_model_over_the_limits_is_refused_before_anything_is_downloaded(
    online_hub, settings
):
    sha = "3" * 40
    files = {
        **INFERENCE_SIZES,
        "model-00001-of-00002.safetensors": 3000 * MB,
        "model-00002-of-00002.safetensors": 3000 * MB,
        # Not fetched, so not counted.
        "model.onnx": 9000 * MB,
        "pytorch_model.bin": 9000 * MB,
    }
    online_hub.repos[REPO] = {"revisions": {"main": sha}, "files": files}
    settings.MAX_MODEL_FILES = 3
    with pytest.raises(ModelSourceError) as caught:
        hub_fetch(repo_id=REPO, sha=sha, allow_custom_code=False, allow_pickle_weights=False)
    assert messages(caught) == [
        f"Model '{REPO}' has 5 files to fetch; a model may hold at most 3.",
        f"The files of model '{REPO}' that inference needs add up to 6,004 MB; a model may hold "
        "at most 4,096 MB.",
    ]
    assert not Path(settings.MODEL_HUB_CACHE).exists()


def test_online_a_repo_without_config_or_usable_weights_is_refused_before_downloading(
    online_hub, settings
):
    sha = "4" * 40
    online_hub.repos[REPO] = {
        "revisions": {"main": sha},
        "files": {"README.md": 10, "pytorch_model.bin": MB, "sub/config.json": 10},
    }
    with pytest.raises(ModelSourceError) as caught:
        hub_fetch(repo_id=REPO, sha=sha, allow_custom_code=False, allow_pickle_weights=False)
    assert messages(caught) == [
        f"Model '{REPO}' has no config.json at the root of its repo: push the folder that "
        "save_pretrained() wrote.",
        "This benchmark does not allow pickle weights (pytorch_model.bin): pickle files can run "
        "code when they are loaded. Save the weights as safetensors (save_pretrained does by "
        "default) and leave these files out.",
    ]
    assert not Path(settings.MODEL_HUB_CACHE).exists()


def test_fetch_takes_only_what_inference_needs(repo, settings):
    folder = hub_fetch(
        repo_id=REPO, sha=repo["main"], allow_custom_code=False, allow_pickle_weights=False
    )

    # No README, ONNX, pickle weights, training script or subfolder.
    assert listing(folder) == INFERENCE_FILES
    assert folder.is_relative_to(settings.MODEL_FILES_DIR)
    assert not any(p.is_symlink() for p in folder.iterdir())
    checked = model_folder_check(folder=folder, allow_custom_code=False, allow_pickle_weights=False)
    assert checked.model_type == "bert"
    assert checked.weight_files == ("model.safetensors",)
    # Fetched once per commit and policy: the same folder again.
    assert (
        hub_fetch(
            repo_id=REPO, sha=repo["main"], allow_custom_code=False, allow_pickle_weights=False
        )
        == folder
    )


def test_each_policy_sees_only_its_files_of_the_shared_cache(repo):
    permissive = hub_fetch(
        repo_id=REPO, sha=repo["main"], allow_custom_code=True, allow_pickle_weights=True
    )
    strict = hub_fetch(
        repo_id=REPO, sha=repo["main"], allow_custom_code=False, allow_pickle_weights=False
    )

    assert listing(permissive) == sorted([*INFERENCE_FILES, "pytorch_model.bin", "train.py"])
    assert listing(strict) == INFERENCE_FILES


def test_pickle_weights_follow_the_policy(hub, model_files):
    files = {**without(model_files, "model.safetensors"), "pytorch_model.bin": b"pickle"}
    sha = hub_cache_add(hub, "acme/pickled", files)

    with pytest.raises(ModelSourceError) as caught:
        hub_fetch(
            repo_id="acme/pickled", sha=sha, allow_custom_code=False, allow_pickle_weights=False
        )
    assert messages(caught) == [
        "This benchmark does not allow pickle weights (pytorch_model.bin): pickle files can run "
        "code when they are loaded. Save the weights as safetensors (save_pretrained does by "
        "default) and leave these files out."
    ]

    folder = hub_fetch(
        repo_id="acme/pickled", sha=sha, allow_custom_code=False, allow_pickle_weights=True
    )
    assert "pytorch_model.bin" in listing(folder)
    checked = model_folder_check(folder=folder, allow_custom_code=False, allow_pickle_weights=True)
    assert checked.weight_files == ("pytorch_model.bin",)


def test_custom_code_follows_the_policy(hub, model_files):
    files = {**with_auto_map(model_files), "modeling_tiny.py": b"class TinyModel: ...\n"}
    sha = hub_cache_add(hub, "acme/custom", files)

    with pytest.raises(ModelSourceError) as caught:
        hub_fetch(
            repo_id="acme/custom", sha=sha, allow_custom_code=False, allow_pickle_weights=False
        )
    assert messages(caught) == [
        NO_CODE + "config.json asks for the model's own code through auto_map "
        "(modeling_tiny.TinyModel). Submit a model that transformers' built-in classes load "
        "(no auto_map)."
    ]

    folder = hub_fetch(
        repo_id="acme/custom", sha=sha, allow_custom_code=True, allow_pickle_weights=False
    )
    assert "modeling_tiny.py" in listing(folder)
    checked = model_folder_check(folder=folder, allow_custom_code=True, allow_pickle_weights=False)
    assert checked.needs_remote_code is True
    assert checked.has_predict_py is False


def test_a_commit_missing_from_the_offline_cache_is_refused(repo):
    with pytest.raises(ModelSourceError) as caught:
        hub_fetch(repo_id=REPO, sha="b" * 40, allow_custom_code=False, allow_pickle_weights=False)
    assert messages(caught) == [
        f"Model '{REPO}' at commit bbbbbbbbbbbb is not in this server's local copy of the Hub, "
        "and this server works offline."
    ]
    with pytest.raises(ModelSourceError) as caught:
        hub_fetch(repo_id=REPO, sha="main", allow_custom_code=False, allow_pickle_weights=False)
    assert messages(caught) == ["'main' is not a commit sha (40 hexadecimal digits)."]
