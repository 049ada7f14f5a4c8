"""Shared by tests/submissions/test_model_sources_*.py (model submissions' intake): a tiny
BERT's files written by hand (no Hub, no model loaded), helpers to write and edit them, the
Hub's model-info endpoint as a local fake server, and the constants and messages the tests
compare with."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from safetensors.numpy import save as safetensors_bytes

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


@pytest.fixture(scope="module", name="model_files")
def model_files_fixture() -> dict[str, bytes]:
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


def messages(caught) -> list[str]:
    return caught.value.messages


def listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


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
