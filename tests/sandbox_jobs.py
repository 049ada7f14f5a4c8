"""Shared helpers of the sandbox tests (tests/scoring_pure/test_sandbox_*.py; scoring.sandbox,
docs/sandbox.md): job folders, custom-code models, their predictions, the processes of a uid,
and the skip markers for bubblewrap and root."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring import sandbox
from scoring.sandbox import Limits
from tests.tiny_models import write_predict_py

ROOT = Path(__file__).resolve().parents[1]

needs_bwrap = pytest.mark.skipif(
    not sandbox.available(), reason=f"bubblewrap is not usable here: {sandbox.availability()[1]}"
)
as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the sandbox drops to a uid of its own only when run as root"
)

SMALL = Limits(wall_seconds=20, memory_bytes=2 * 2**30, processes=64, threads=1)


def make_job(folder: Path, texts: list[str], task_type="text-generation", **options) -> Path:
    folder.mkdir(parents=True)
    table = pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts})
    pq.write_table(table, folder / "inputs.parquet")
    job = {
        "task_type": task_type,
        "id_column": "id",
        "input_columns": ["text"],
        "labels": [],
        "batch_size": 32,
        "max_new_tokens": 8,
        "allow_custom_code": True,
        "device": "cpu",
        **options,
    }
    (folder / "job.json").write_text(json.dumps(job))
    return folder


def hostile(tmp_path: Path, source: str, texts=("one row",), **job_options):
    """A job folder and a custom-code model folder holding `source` as predict.py."""
    model = tmp_path / "model"
    write_predict_py(model, source)
    return make_job(tmp_path / "job", list(texts), **job_options), model


def predictions(job: Path) -> list:
    return pq.read_table(job / "predictions.parquet").column("prediction").to_pylist()


def processes_of(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    found.append(int(name))
            except OSError:
                pass
    return found
