"""A real Celery worker process for end-to-end tests, consuming the configured broker (Redis in
CI, the embedded filesystem broker by default) and writing to the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import override_settings


def shared_cache_dir() -> Path:
    """One cache folder for this test run's live server (this process) and its workers."""
    return Path(settings.DATA_DIR) / f"e2e-cache-{os.getpid()}"


@pytest.fixture(autouse=True)
def shared_cache():
    """The live server and the workers share one cache, as the platform's processes do (a
    worker's change of a board gives the split a new version there, and the pages read it);
    the rest of the suite keeps its cache in memory."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(shared_cache_dir()),
        }
    }
    with override_settings(CACHES=caches):
        cache.clear()  # nothing counted or kept by an earlier test
        yield


def database_url_for_tests() -> str:
    """The URL of the test database that pytest-django created, for another process."""
    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    if s["ENGINE"] == "django.db.backends.postgresql":
        auth = s["USER"] or ""
        if s["PASSWORD"]:
            auth += f":{s['PASSWORD']}"
        host = f"{auth}@" if auth else ""
        return f"postgres://{host}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    raise RuntimeError(f"No worker URL for database engine {s['ENGINE']}")


def start_worker(
    log_path: Path, extra_env: dict | None = None, queues: str = "scoring"
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DATA_DIR": str(settings.DATA_DIR),
        "PRIVATE_STORAGE_DIR": str(settings.PRIVATE_STORAGE_DIR),
        "CACHE_URL": f"filecache://{shared_cache_dir()}",
        **(extra_env or {}),
    }
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "celery"),
            "-A",
            "config",
            "worker",
            "--queues",
            queues,
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop_worker stops the pool too
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in log_path.read_text():
            return process
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"The worker did not start:\n{log_path.read_text()[-3000:]}")


def stop_worker(process: subprocess.Popen) -> None:
    """Stop the worker and its pool processes, and wait until they are gone: one left holding a
    database connection would keep the test database from being dropped."""
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)


@pytest.fixture(scope="session")
def scoring_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(log_path)
    yield process, log_path
    stop_worker(process)


CANARY = "canary-5b1e0c9d"


@pytest.fixture(scope="session")
def model_workers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two workers, as a deployment with GPU machines has them: one on `gpu` (model runs in the
    sandbox) and one on `scoring`. Both use the Hub cache of `MODEL_HUB_CACHE` below, which
    tests fill, offline."""
    folder = tmp_path_factory.mktemp("model-workers")
    env = {
        "MODEL_HUB_CACHE": str(folder / "hub"),
        "HF_HUB_OFFLINE": "1",
        # Small enough for the adversarial models to reach quickly.
        "MODEL_RUN_MAX_OUTPUT_MB": "20",
        "MODEL_RUN_MAX_PROCESSES": "64",
        # A secret in the workers' environment that no model run may read.
        "PLATFORM_CANARY": CANARY,
    }
    gpu = start_worker(folder / "gpu.log", env, queues="gpu")
    scoring = start_worker(folder / "scoring.log", env, queues="scoring")
    yield {
        "hub_cache": folder / "hub",
        "logs": (folder / "gpu.log", folder / "scoring.log"),
        "canary": CANARY,
    }
    stop_worker(gpu)
    stop_worker(scoring)
