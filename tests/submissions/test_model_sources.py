"""Model submissions' intake (submissions/model_sources/): Hub references resolved and fetched
from a Hub cache built in a temporary folder (tests/hub_cache.py) with HF_HUB_OFFLINE on, as the
real huggingface_hub reads it; uploaded archives, good and hostile; the checks of a model folder.
Nothing here reaches the network, and no model is loaded: the files are written by hand."""

from __future__ import annotations

import io
import json
import socket
import stat
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from huggingface_hub import constants
from safetensors.numpy import save as safetensors_bytes

from submissions.model_sources import (
    HubUnreachable,
    ModelFolder,
    ModelSourceError,
    archive_extract,
    hub_fetch,
    hub_resolve,
    model_folder_check,
)
from tests.hub_cache import hub_cache_add

REPO = "acme/tiny-bert"
MB = 1 << 20
OFFLINE_NOTE = (
    " This server works offline: it sees only the models already in its local copy of the Hub."
)
PLAIN = "a model archive holds plain files and folders"
NO_CODE = "This benchmark does not allow custom code (predict.py); "
INFERENCE_FILES = [
    "config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
]


# Model files, written without the Hub -----------------------------------------------------------


@pytest.fixture(scope="module")
def model_files() -> dict[str, bytes]:
    """A tiny BERT's inference files: config.json from transformers' own class, weights as
    safetensors, tokenizer files as plain text."""
    from transformers import BertConfig

    config = BertConfig(
        vocab_size=8,
        hidden_size=4,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=4,
        id2label={0: "neg", 1: "pos"},
    )
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"]
    rng = np.random.default_rng(0)
    weights = {
        "bert.embeddings.word_embeddings.weight": rng.standard_normal((8, 4), dtype=np.float32),
        "classifier.weight": rng.standard_normal((2, 4), dtype=np.float32),
    }
    return {
        "config.json": config.to_json_string().encode(),
        "model.safetensors": safetensors_bytes(weights),
        "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "WordPiece"}}).encode(),
        "tokenizer_config.json": json.dumps({"tokenizer_class": "BertTokenizerFast"}).encode(),
        "special_tokens_map.json": json.dumps({"unk_token": "[UNK]"}).encode(),
        "vocab.txt": "\n".join(vocab).encode(),
    }


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def with_auto_map(files: dict[str, bytes]) -> dict[str, bytes]:
    config = json.loads(files["config.json"])
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_tiny.TinyModel"}
    return {**files, "config.json": json.dumps(config).encode()}


def without(files: dict[str, bytes], *names: str) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k not in names}


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


def messages(caught) -> list[str]:
    return caught.value.messages


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


class FakeHubApi(BaseHTTPRequestHandler):
    """The Hub's model-info endpoint as a local server (GET /api/models/<repo>/revision/<rev>):
    the real huggingface_hub client talks to it over HTTP. `repos` maps a repo id to its
    revisions (name → commit) and its files (name → size)."""

    repos: dict = {}

    def do_GET(self):  # noqa: N802 - the name http.server calls
        path = unquote(urlparse(self.path).path)
        prefix = "/api/models/"
        repo_id, _, revision = path.removeprefix(prefix).partition("/revision/")
        repo = self.repos.get(repo_id)
        if not path.startswith(prefix) or repo is None:
            return self.answer(404, {"error": "Repository not found"}, "RepoNotFound")
        if repo == "down":
            return self.answer(503, {"error": "Service unavailable"})
        sha = repo["revisions"].get(
            revision, revision if revision in repo["revisions"].values() else None
        )
        if sha is None:
            return self.answer(404, {"error": "Invalid rev id"}, "RevisionNotFound")
        siblings = [{"rfilename": n, "size": size} for n, size in repo["files"].items()]
        return self.answer(200, {"id": repo_id, "sha": sha, "siblings": siblings})

    def answer(self, status: int, body: dict, error_code: str | None = None):
        content = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        if error_code:
            self.send_header("X-Error-Code", error_code)
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, *args):
        pass


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


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


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


# Archives ---------------------------------------------------------------------------------------


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return sink.getvalue()


def tar_bytes(entries: list[tuple[str | tarfile.TarInfo, bytes]], **options) -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w:gz", **options) as archive:
        for name, content in entries:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            if info.isreg():
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                archive.addfile(info)
    return sink.getvalue()


def extract(data: bytes, name: str, dest: Path, **policy) -> Path:
    policy = {"allow_custom_code": False, "allow_pickle_weights": False, **policy}
    return archive_extract(fileobj=io.BytesIO(data), filename=name, dest=dest, **policy)


def refused(data: bytes, name: str, dest: Path, **policy) -> list[str]:
    """The messages an archive is refused with, after checking that it left nothing behind."""
    dest.mkdir(exist_ok=True)
    with pytest.raises(ModelSourceError) as caught:
        extract(data, name, dest, **policy)
    assert list(dest.iterdir()) == []
    return caught.value.messages


@pytest.fixture
def dest(tmp_path, settings) -> Path:
    return tmp_path / "unpacked"


def test_a_zip_with_the_files_at_its_root(model_files, dest):
    data = zip_bytes(list(model_files.items()))
    upload = SimpleUploadedFile("tiny.zip", data)

    folder = archive_extract(
        fileobj=upload,
        filename=upload.name,
        dest=dest,
        allow_custom_code=False,
        allow_pickle_weights=False,
    )

    assert folder == dest
    assert listing(folder) == INFERENCE_FILES
    assert (folder / "model.safetensors").read_bytes() == model_files["model.safetensors"]
    checked = model_folder_check(folder=folder, allow_custom_code=False, allow_pickle_weights=False)
    assert checked == ModelFolder(
        path=folder,
        files=tuple(INFERENCE_FILES),
        total_bytes=sum(len(c) for c in model_files.values()),
        weight_files=("model.safetensors",),
        model_type="bert",
        has_predict_py=False,
        needs_remote_code=False,
    )


def test_a_zip_with_the_files_in_one_top_folder(model_files, dest):
    entries = [("my-model/", b"")] + [(f"my-model/{n}", c) for n, c in model_files.items()]
    # What macOS adds beside them is skipped.
    entries += [("__MACOSX/my-model/._config.json", b"x"), ("my-model/.DS_Store", b"x")]

    folder = extract(zip_bytes(entries), "my-model.zip", dest)

    assert folder == dest / "my-model"
    assert listing(dest) == ["my-model"] + [f"my-model/{n}" for n in INFERENCE_FILES]


def test_a_tar_gz_with_the_files_in_one_top_folder(model_files, dest):
    folder_entry = tarfile.TarInfo("./model")
    folder_entry.type = tarfile.DIRTYPE
    entries = [(folder_entry, b"")] + [(f"./model/{n}", c) for n, c in model_files.items()]

    folder = extract(tar_bytes(entries), "model.tgz", dest)

    assert folder == dest / "model"
    assert listing(folder) == INFERENCE_FILES
    assert (folder / "config.json").read_bytes() == model_files["config.json"]


def test_a_tar_gz_with_the_files_at_its_root(model_files, dest):
    folder = extract(tar_bytes(list(model_files.items())), "Model.TAR.GZ", dest)
    assert folder == dest


def test_names_outside_the_folder_are_refused(model_files, dest):
    outside = (
        "Entry '{}' would be written outside the model folder (an absolute path or '..'): "
        "archive the folder's files under relative names."
    )
    for name in ("../x", "model/../../x", "/etc/cron.d/x", "..\\x", "C:/x"):
        entries = [*model_files.items(), (name, b"x")]
        assert refused(zip_bytes(entries), "m.zip", dest) == [outside.format(name)]
        assert refused(tar_bytes(entries), "m.tar.gz", dest) == [outside.format(name)]


def test_links_are_refused(model_files, dest):
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = zip_bytes([*model_files.items(), (link, b"/etc/passwd")])
    assert refused(data, "m.zip", dest) == [f"Entry 'link' is a symbolic link; {PLAIN}."]

    symlink = tarfile.TarInfo("link")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    data = tar_bytes([(symlink, b""), *model_files.items()])
    assert refused(data, "m.tar.gz", dest) == [f"Entry 'link' is a symbolic link; {PLAIN}."]

    hardlink = tarfile.TarInfo("hard")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "config.json"
    data = tar_bytes([*model_files.items(), (hardlink, b"")])
    assert refused(data, "m.tar.gz", dest) == [f"Entry 'hard' is a hard link; {PLAIN}."]


def test_devices_and_pipes_are_refused(model_files, dest):
    for kind in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        device = tarfile.TarInfo("dev")
        device.type = kind
        data = tar_bytes([*model_files.items(), (device, b"")])
        assert refused(data, "m.tar.gz", dest) == [f"Entry 'dev' is a device or a pipe; {PLAIN}."]

    fifo = zipfile.ZipInfo("fifo")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    data = zip_bytes([*model_files.items(), (fifo, b"")])
    assert refused(data, "m.zip", dest) == [f"Entry 'fifo' is a device, pipe or socket; {PLAIN}."]


def set_zip_directory_field(data: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite a field of every central directory entry (offset from its signature)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        out[at + offset : at + offset + len(value)] = value
        at = out.find(b"PK\x01\x02", at + 1)
    return bytes(out)


def test_encrypted_and_bzip2_zip_entries_are_refused(model_files, dest):
    data = set_zip_directory_field(zip_bytes([("secret.txt", b"x")]), 8, b"\x01\x00")
    assert refused(data, "m.zip", dest) == [
        "Entry 'secret.txt' is encrypted: archive the model without a password."
    ]
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("config.json", b"{}")
    assert refused(sink.getvalue(), "m.zip", dest) == [
        "Entry 'config.json' is compressed with bzip2: zip the model with deflate (what zip "
        "tools write by default) or store it uncompressed."
    ]


def test_too_many_entries_are_refused(model_files, settings, dest):
    settings.MAX_MODEL_FILES = 8
    entries = [*model_files.items(), *((f"extra/{i}.txt", b"x") for i in range(3))]
    message = "The archive holds more than 8 entries; a model archive may hold at most 8."
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]


def test_a_declared_size_over_the_cap_is_refused_before_unpacking(model_files, dest):
    # Two entries of a few bytes whose directory claims 4 GiB each: refused from the directory
    # at the default cap, without inflating anything.
    data = zip_bytes([("config.json", b"{}"), ("model.safetensors", b"x")])
    data = set_zip_directory_field(data, 24, (0xFFFFFFF0).to_bytes(4, "little"))
    assert refused(data, "m.zip", dest) == [
        "The archive's files unpack to 8,192 MB in all; a model may hold at most 4,096 MB."
    ]


def test_a_tar_over_the_size_cap_stops_there(model_files, settings, dest):
    settings.MAX_MODEL_DECODED_MB = 1
    big = bytes(700_000)
    entries = [*model_files.items(), ("a.bin", big), ("b.bin", big)]
    assert refused(tar_bytes(entries), "m.tar.gz", dest, allow_pickle_weights=True) == [
        "The archive's files unpack to more than 1.0 MB; a model may hold at most 1.0 MB."
    ]
    assert refused(zip_bytes(entries), "m.zip", dest, allow_pickle_weights=True) == [
        "The archive's files unpack to 1.3 MB in all; a model may hold at most 1.0 MB."
    ]


def test_an_upload_over_the_archive_cap_is_refused(model_files, settings, dest):
    settings.MAX_MODEL_ARCHIVE_MB = 1
    data = zipfile_stored([*model_files.items(), ("blob.safetensors", bytes(MB))])
    assert refused(data, "m.zip", dest) == [
        "'m.zip' is 1.0 MB; a model archive may be at most 1.0 MB."
    ]


def zipfile_stored(entries) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return sink.getvalue()


def test_a_huge_tar_header_extension_is_refused(model_files, dest):
    info = tarfile.TarInfo("config.json")
    info.pax_headers = {"comment": "x" * (2 * MB)}
    data = tar_bytes([(info, b"{}")], format=tarfile.PAX_FORMAT)
    assert refused(data, "m.tar.gz", dest) == [
        "The archive holds a tar header extension (a long name or pax attributes) too large or "
        "too many: archive the model with a usual tar tool."
    ]


def test_files_in_several_top_folders_are_refused(model_files, dest):
    entries = [(f"a/{n}", c) for n, c in model_files.items()] + [("b/notes.txt", b"x")]
    message = (
        "The archive's files are in several top folders (a, b): put the model's files at the "
        "root of the archive, or in one folder."
    )
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]


def test_what_is_not_an_archive_is_refused(model_files, dest):
    assert refused(b"Rar!\x1a\x07\x00", "model.rar", dest) == [
        "'model.rar' is not a model archive: upload the model folder as a .zip or a .tar.gz "
        "(.tgz), or give a Hub model id."
    ]
    assert refused(b"just some text", "model.zip", dest) == [
        "'model.zip' is not a zip archive: its content does not start as a zip file's does."
    ]
    assert refused(zip_bytes(list(model_files.items())), "model.tar.gz", dest) == [
        "'model.tar.gz' is not a .tar.gz archive: its content is not gzip-compressed."
    ]
    cut = zip_bytes(list(model_files.items()))[:-30]
    assert refused(cut, "model.zip", dest) == [
        "'model.zip' could not be read as a zip archive: it is damaged or cut short."
    ]
    cut = tar_bytes(list(model_files.items()))[:300]
    assert refused(cut, "model.tgz", dest) == [
        "'model.tgz' could not be read as a .tar.gz archive: it is damaged or cut short."
    ]


def test_an_archive_without_config_json_is_refused(model_files, dest):
    entries = list(without(model_files, "config.json").items())
    message = (
        "No config.json at the root of the archive or of its single top folder: archive the "
        "folder that save_pretrained() wrote."
    )
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]
    # Zipped one level too deep: the message says where it is.
    nested = [(f"out/checkpoint/{n}", c) for n, c in model_files.items()]
    assert refused(zip_bytes(nested), "m.zip", dest) == [
        "No config.json at the root of the archive or of its single top folder (there is one at "
        "'out/checkpoint/config.json'): archive the folder that save_pretrained() wrote."
    ]
    assert refused(zip_bytes([]), "m.zip", dest) == ["The archive holds no files."]


def test_an_archive_follows_the_pickle_policy(model_files, dest):
    files = {**without(model_files, "model.safetensors"), "pytorch_model.bin": b"pickle"}
    entries = list(files.items())
    message = (
        "This benchmark does not allow pickle weights (pytorch_model.bin): pickle files can run "
        "code when they are loaded. Save the weights as safetensors (save_pretrained does by "
        "default) and leave these files out."
    )
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]

    folder = extract(tar_bytes(entries), "m.tar.gz", dest, allow_pickle_weights=True)
    checked = model_folder_check(folder=folder, allow_custom_code=False, allow_pickle_weights=True)
    assert checked.weight_files == ("pytorch_model.bin",)


def test_an_archive_follows_the_custom_code_policy(model_files, tmp_path):
    entries = [*model_files.items(), ("predict.py", b"def predict(rows): ...\n")]
    message = (
        NO_CODE + "the model holds code: predict.py. Leave these files out: the model must load "
        "with transformers' own classes."
    )
    assert refused(zip_bytes(entries), "m.zip", tmp_path / "a") == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", tmp_path / "b") == [message]

    folder = extract(zip_bytes(entries), "m.zip", tmp_path / "c", allow_custom_code=True)
    checked = model_folder_check(folder=folder, allow_custom_code=True, allow_pickle_weights=False)
    assert checked.has_predict_py is True
    assert checked.needs_remote_code is False


def test_a_destination_made_for_the_archive_is_removed_when_refused(model_files, tmp_path):
    dest = tmp_path / "new" / "folder"
    with pytest.raises(ModelSourceError):
        extract(zip_bytes([("a/config.json", b"{}"), ("b/x", b"")]), "m.zip", dest)
    assert not dest.exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_bytes(b"")
    with pytest.raises(ValueError):
        extract(zip_bytes(list(model_files.items())), "m.zip", tmp_path / "busy")


def test_an_entry_clashing_with_a_folder_is_refused(model_files, dest):
    entries = [*model_files.items(), ("extra", b"a file"), ("extra/inner.txt", b"x")]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [
        "Entry 'extra/inner.txt' clashes with another entry: a file and a folder of the same "
        "name, or the same file twice."
    ]
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_bytes([*model_files.items(), ("vocab.txt", b"again")])
    assert refused(data, "m.zip", dest) == ["Entry 'vocab.txt' appears twice."]


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
