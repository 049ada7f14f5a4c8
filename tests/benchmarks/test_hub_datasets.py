"""Bundles whose splits come from a Hugging Face dataset (`data.hub`), loaded offline by the
real loading code (`datasets.load_dataset`): from a local dataset repository folder, and from a
Hugging Face hub cache laid out as `snapshot_download` leaves it, with HF_HUB_OFFLINE=1.

No test touches the network: offline mode makes huggingface_hub refuse every request.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import datasets
import huggingface_hub
from django.conf import settings

from benchmarks.bundles import BundleError
from benchmarks.models import Benchmark
from benchmarks.services import benchmark_import
from tests.benchmarks.test_bundle_import import (
    BundleTestCase,
    bundle_spec,
    read_parquet,
    rows,
    task_spec,
    write_bundle,
)

REPO_ID = "acme/reviews"
COMMIT = "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39"
OLDER_COMMIT = "0b1d2f3e4c5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
README = """---
license: cc-by-4.0
configs:
- config_name: reviews
  data_files:
  - split: train
    path: data/reviews/train.jsonl
  - split: validation
    path: data/reviews/validation.jsonl
  - split: test
    path: data/reviews/test.jsonl
- config_name: tiny
  data_files:
  - split: test
    path: data/tiny/test.jsonl
---
# Reviews

Restaurant reviews labelled 0 (negative) or 1 (positive).
"""


def jsonl(items: list[dict]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def dataset_files(*, validation_rows: int = 8) -> dict[str, bytes]:
    """The files of a dataset repo with two configs declared in its README (labels as indices,
    as Hub datasets usually store them)."""
    return {
        "README.md": README.encode(),
        "data/reviews/train.jsonl": jsonl(rows("tr", 12, labels=[0, 1])),
        "data/reviews/validation.jsonl": jsonl(rows("va", validation_rows, labels=[0, 1])),
        "data/reviews/test.jsonl": jsonl(rows("te", 10, labels=[0, 1])),
        "data/tiny/test.jsonl": jsonl(rows("tiny", 3, labels=[0, 1])),
    }


def write_repo_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def write_hub_cache(
    cache: Path, repo_id: str, commit: str, files: dict[str, bytes], *, ref: str | None = "main"
) -> Path:
    """A hub cache entry as huggingface_hub's snapshot_download leaves it: content-addressed
    blobs, a snapshot folder per commit of relative symlinks to them, and refs/<branch> holding
    the commit the branch pointed to when it was downloaded."""
    repo = cache / ("datasets--" + repo_id.replace("/", "--"))
    for name, content in files.items():
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
    return repo


def hub_task(repo_id: str, **hub) -> dict:
    task = task_spec()
    task["data"] = {
        "hub": {"repo_id": repo_id, **hub},
        "splits": {
            "train": {"role": "train"},
            "dev": {"hub_split": "validation", "role": "public"},
            "test": {"role": "hidden"},
        },
    }
    return task


class LocalDatasetFolderTests(BundleTestCase):
    def test_it_loads_the_config_named_in_the_bundle_from_the_readme_metadata(self):
        folder = write_repo_folder(self.tmp / "reviews-dataset", dataset_files())
        task = hub_task(str(folder), config="reviews")

        benchmark = benchmark_import(
            source=write_bundle(self.tmp / "b", bundle_spec(tasks=[task]), files={})
        )

        splits = {s.name: s for s in benchmark.tasks.get().splits.all()}
        self.assertEqual(
            {n: s.num_rows for n, s in splits.items()}, {"train": 12, "dev": 8, "test": 10}
        )
        self.assertEqual(
            read_parquet(splits["dev"])[1],
            {"id": "va-001", "text": "review 1 was good", "label": "positive", "topic": "service"},
        )
        # A folder has no commit to record; where the data came from still is.
        self.assertEqual(splits["dev"].hub_repo_id, str(folder))
        self.assertEqual(splits["dev"].hub_commit, "")
        self.assertEqual(splits["dev"].source, f"hf://datasets/{folder}@main/reviews:validation")

    def test_another_config_of_the_same_folder_gives_other_rows(self):
        folder = write_repo_folder(self.tmp / "reviews-dataset", dataset_files())
        task = hub_task(str(folder), config="tiny")
        task["data"]["splits"] = {"test": {"role": "hidden"}}

        benchmark = benchmark_import(
            source=write_bundle(self.tmp / "b", bundle_spec(tasks=[task]), files={})
        )

        test = benchmark.tasks.get().splits.get()
        self.assertEqual(
            [r["id"] for r in read_parquet(test)], ["tiny-000", "tiny-001", "tiny-002"]
        )

    def test_a_split_missing_from_the_folder_is_reported_under_its_key(self):
        folder = write_repo_folder(self.tmp / "reviews-dataset", dataset_files())
        task = hub_task(str(folder), config="reviews")
        task["data"]["splits"]["extra"] = {"hub_split": "unlabelled", "role": "public"}

        with self.assertRaises(BundleError) as caught:
            benchmark_import(
                source=write_bundle(self.tmp / "b", bundle_spec(tasks=[task]), files={})
            )

        self.assertIn(
            "tasks[0].data.splits.extra.hub_split: cannot load split 'unlabelled'",
            str(caught.exception),
        )
        self.assertEqual(Benchmark.objects.count(), 0)
        self.assertEqual(self.stored_files(), [])


class OfflineHubCacheTests(BundleTestCase):
    """The importing process itself, offline, against a hub cache in a temporary folder."""

    def setUp(self):
        super().setUp()
        self.hub_cache = self.tmp / "hf-home" / "hub"
        write_hub_cache(self.hub_cache, REPO_ID, COMMIT, dataset_files())
        # huggingface_hub and datasets read these from the environment when first imported.
        for target, name, value in [
            (huggingface_hub.constants, "HF_HUB_OFFLINE", True),
            (huggingface_hub.constants, "HF_HUB_CACHE", str(self.hub_cache)),
            (datasets.config, "HF_HUB_OFFLINE", True),
        ]:
            self.enterContext(mock.patch.object(target, name, value))

    def import_hub(self, **hub) -> Benchmark:
        task = hub_task(REPO_ID, **hub)
        return benchmark_import(
            source=write_bundle(self.tmp / "b", bundle_spec(tasks=[task]), files={})
        )

    def test_a_branch_resolves_to_the_commit_recorded_in_the_cache(self):
        benchmark = self.import_hub(revision="main", config="reviews")

        splits = {s.name: s for s in benchmark.tasks.get().splits.all()}
        self.assertEqual(
            {n: s.num_rows for n, s in splits.items()}, {"train": 12, "dev": 8, "test": 10}
        )
        for split in splits.values():
            self.assertEqual(split.hub_repo_id, REPO_ID)
            self.assertEqual(split.hub_revision, "main")
            self.assertEqual(split.hub_commit, COMMIT)
        self.assertEqual(splits["test"].source, f"hf://datasets/{REPO_ID}@{COMMIT}/reviews:test")
        self.assertEqual(read_parquet(splits["test"])[0]["label"], "negative")

    def test_no_revision_means_main(self):
        benchmark = self.import_hub(config="reviews")

        split = benchmark.tasks.get().splits.get(name="dev")
        self.assertEqual((split.hub_revision, split.hub_commit), ("", COMMIT))

    def test_a_pinned_commit_loads_that_snapshot_even_when_main_has_moved_on(self):
        write_hub_cache(
            self.hub_cache, REPO_ID, OLDER_COMMIT, dataset_files(validation_rows=5), ref=None
        )

        benchmark = self.import_hub(revision=OLDER_COMMIT, config="reviews")

        dev = benchmark.tasks.get().splits.get(name="dev")
        self.assertEqual((dev.num_rows, dev.hub_commit), (5, OLDER_COMMIT))

    def test_an_unreachable_hub_falls_back_to_the_cache(self):
        self.enterContext(mock.patch.object(huggingface_hub.constants, "HF_HUB_OFFLINE", False))
        self.enterContext(
            mock.patch.object(
                huggingface_hub.HfApi, "dataset_info", side_effect=ConnectionError("no route")
            )
        )

        benchmark = self.import_hub(revision="main", config="reviews")

        self.assertEqual(benchmark.tasks.get().splits.get(name="dev").hub_commit, COMMIT)

    def test_a_dataset_missing_from_the_cache_fails_at_once_naming_the_key(self):
        task = hub_task("acme/no-such-dataset", revision="main")
        started = time.monotonic()

        with self.assertRaises(BundleError) as caught:
            benchmark_import(
                source=write_bundle(self.tmp / "b", bundle_spec(tasks=[task]), files={})
            )

        message = str(caught.exception)
        self.assertIn("tasks[0].data.splits.dev.hub_split: data.hub.repo_id:", message)
        self.assertIn("'acme/no-such-dataset'", message)
        self.assertIn("HF_HUB_OFFLINE", message)
        self.assertLess(time.monotonic() - started, 10)  # no network retries
        self.assertEqual(Benchmark.objects.count(), 0)
        self.assertEqual(self.stored_files(), [])

    def test_a_revision_missing_from_the_cache_is_reported_as_the_revision(self):
        with self.assertRaises(BundleError) as caught:
            self.import_hub(revision="v2", config="reviews")

        self.assertIn(
            "data.hub.revision: dataset 'acme/reviews' at revision 'v2'", str(caught.exception)
        )


def test_import_benchmark_in_a_fresh_offline_process_records_the_cached_commit(tmp_path):
    """The most faithful run: `manage.py import_benchmark` in its own process, with its own
    DATA_DIR and the Hugging Face environment set before anything reads it."""
    hf_home = tmp_path / "hf-home"
    write_hub_cache(hf_home / "hub", REPO_ID, COMMIT, dataset_files())
    bundle = write_bundle(
        tmp_path / "bundle",
        bundle_spec(tasks=[hub_task(REPO_ID, revision="main", config="reviews")]),
        files={},
    )
    missing = write_bundle(
        tmp_path / "missing",
        bundle_spec(slug="missing", tasks=[hub_task("acme/gone", revision="main")]),
        files={},
    )
    data_dir = tmp_path / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HF_", "HUGGINGFACE_", "CELERY_", "DATABASE_URL", "PRIVATE_STORAGE"))
    }
    env.update(
        DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        HF_HOME=str(hf_home),
        HF_HUB_CACHE=str(hf_home / "hub"),
        HF_DATASETS_CACHE=str(tmp_path / "datasets-cache"),
    )

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    migrated = manage("migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    imported = manage("import_benchmark", str(bundle))
    assert imported.returncode == 0, imported.stderr
    failed = manage("import_benchmark", str(missing))

    assert "sst/dev (public): 8 rows" in imported.stdout
    with sqlite3.connect(data_dir / "db.sqlite3") as db:
        stored = db.execute(
            "SELECT name, num_rows, hub_repo_id, hub_revision, hub_commit, data "
            "FROM benchmarks_split"
        ).fetchall()
    assert sorted(row[:5] for row in stored) == [
        ("dev", 8, REPO_ID, "main", COMMIT),
        ("test", 10, REPO_ID, "main", COMMIT),
        ("train", 12, REPO_ID, "main", COMMIT),
    ]
    assert all((data_dir / "files" / row[5]).is_file() for row in stored)
    assert failed.returncode == 1
    assert (
        "tasks[0].data.splits.dev.hub_split: data.hub.repo_id: dataset 'acme/gone'" in failed.stderr
    )
    assert "nothing was changed" in failed.stderr
