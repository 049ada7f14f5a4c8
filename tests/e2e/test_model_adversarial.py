"""Hostile models through the real pipeline: each a custom-code model (`predict.py`) that tries
to reach the network, read the platform's files or another process's environment, or exhaust
processes, memory, time or disk, or that crashes or returns too little. Each ends `failed` with
the right message, charged to the participant; nothing it reached leaks; and the same `gpu`
worker then runs and scores an honest model."""

from __future__ import annotations

import io
import socket
import zipfile
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from benchmarks.services import benchmark_import
from scoring import sandbox
from submissions.models import Submission
from tests import tiny_models
from tests.base import make_user
from tests.e2e.embedded import wait_until_final

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sandbox.available(), reason="bubblewrap is not usable here"),
]

TIMEOUT_S = 15


def adversarial_bundle(folder: Path) -> Path:
    """The demo sentiment benchmark, taking custom-code models with short limits."""
    source = Path(settings.BASE_DIR) / "demo" / "sentiment-mini"
    spec = yaml.safe_load((source / "benchmark.yaml").read_text())
    spec["slug"] = "hostile"
    spec["submission_policy"] = {"kinds": ["model"], "allow_custom_code": True}
    spec["tasks"][0]["model_run"] = {"timeout_s": TIMEOUT_S, "max_memory_gb": 4, "batch_size": 64}
    (folder / "data").mkdir(parents=True)
    for path in (source / "data").iterdir():
        (folder / "data" / path.name).write_bytes(path.read_bytes())
    (folder / "benchmark.yaml").write_text(yaml.safe_dump(spec))
    return folder


class HostileModelTests(TransactionTestCase):
    @pytest.fixture(autouse=True)
    def _workers(self, model_workers, tmp_path):
        self.canary = model_workers["canary"]
        self.logs = model_workers["logs"]
        self.tmp = tmp_path

    def setUp(self):
        self.mallory = make_user("mallory")
        self.client = APIClient()
        token = Token.objects.create(user=self.mallory)
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        self.benchmark = benchmark_import(source=adversarial_bundle(self.tmp / "bundle"))
        self.task = self.benchmark.tasks.get()
        self.split_file = Path(self.task.scored_splits[-1].data.path)

    def submit(self, name: str, predict_py: str | None) -> int:
        folder = tiny_models.build_text_classifier(self.tmp / name, self.task.label_names)
        if predict_py is not None:
            tiny_models.write_predict_py(folder, predict_py)
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            for path in folder.iterdir():
                archive.write(path, path.name)
        sink.seek(0)
        sink.name = f"{name}.zip"
        response = self.client.post(
            f"/api/v1/benchmarks/{self.benchmark.slug}/submissions/",
            {"model_archive": sink, "name": name},
        )
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()["id"]

    def wait(self, pk: int, timeout: float = 240) -> Submission:
        return wait_until_final(pk, timeout, self.logs)

    def test_each_hostile_model_fails_with_its_reason_and_the_worker_carries_on(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        # The database (a file on SQLite), a stored split, the split's source file in the
        # bundle, and the platform's code.
        secrets = [
            str(settings.DATABASES["default"]["NAME"]),
            str(self.split_file),
            str(self.tmp / "bundle" / "data" / "test.jsonl"),
            str(Path(settings.BASE_DIR) / "config" / "settings.py"),
        ]
        cases = {
            "network": (
                f"""
                import socket
                def predict(rows, model_dir):
                    got = []
                    for port in ({port}, 5432):
                        try:
                            socket.create_connection(("127.0.0.1", port), timeout=2)
                            got.append(f"connected-{{port}}")
                        except OSError:
                            got.append(f"blocked-{{port}}")
                    raise RuntimeError("network: " + " ".join(got))
                """,
                [f"network: blocked-{port} blocked-5432"],
            ),
            "files": (
                f"""
                def predict(rows, model_dir):
                    got = []
                    for i, path in enumerate({secrets!r}):
                        try:
                            open(path, "rb").read(64)
                            got.append(f"read-{{i}}")
                        except OSError:
                            got.append(f"unreadable-{{i}}")
                    raise RuntimeError("files: " + " ".join(got))
                """,
                ["files: unreadable-0 unreadable-1 unreadable-2 unreadable-3"],
            ),
            "environ": (
                f"""
                import glob
                def predict(rows, model_dir):
                    seen, hits = 0, 0
                    for path in glob.glob("/proc/*/environ"):
                        try:
                            data = open(path, "rb").read()
                        except OSError:
                            continue
                        seen += 1
                        hits += {self.canary.encode()!r} in data or b"SECRET_KEY" in data
                    raise RuntimeError(f"environ: read {{seen}}, found {{hits}}")
                """,
                ["found 0"],
            ),
            "fork bomb": (
                """
                import os
                def predict(rows, model_dir):
                    while True:
                        os.fork()
                """,
                ["more than 64 processes"],
            ),
            "memory bomb": (
                """
                def predict(rows, model_dir):
                    hoard = []
                    while True:
                        hoard.append(bytearray(256 * 2**20))
                """,
                ["ran out of memory (limit 4 GB)"],
            ),
            "endless loop": (
                """
                def predict(rows, model_dir):
                    while True:
                        pass
                """,
                [f"time limit of {TIMEOUT_S} s"],
            ),
            "10 GB output": (
                """
                def predict(rows, model_dir):
                    block = b"x" * 2**20
                    with open("/job/huge.bin", "wb") as f:
                        for _ in range(10 * 1024):
                            f.write(block)
                    return ["positive"] * len(rows)
                """,
                ["larger than its limit of 20 MB"],
            ),
            "crash": (
                """
                def predict(rows, model_dir):
                    raise ValueError("the model fell over")
                """,
                ["crashed", "ValueError: the model fell over"],
            ),
            "one too few": (
                """
                def predict(rows, model_dir):
                    return ["positive"] * (len(rows) - 1)
                """,
                ["predictions for"],
            ),
        }
        submitted = {name: self.submit(name, source) for name, (source, _) in cases.items()}
        honest = self.submit("honest", None)
        for name, (_, expected) in cases.items():
            with self.subTest(name):
                submission = self.wait(submitted[name])
                self.assertEqual(submission.status, "failed")
                self.assertFalse(submission.failed_by_platform, submission.error)
                for phrase in expected:
                    self.assertIn(phrase, submission.error)
                for secret in (self.canary, "connected-", "read-"):
                    self.assertNotIn(secret, submission.error)
        with self.assertRaises(BlockingIOError):
            listener.accept()  # nothing ever connected
        listener.close()
        submission = self.wait(honest)
        self.assertEqual(submission.status, "scored", submission.error)
