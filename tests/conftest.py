"""Settings for the whole test run."""

import os

import huggingface_hub.constants
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

# No test reaches the Hugging Face Hub (there is no network here, and tests must not depend on
# one): offline for this process (huggingface_hub was imported with the apps already) and for
# the workers and servers tests start. Tests of the online code paths point it at a local fake
# Hub instead.
os.environ["HF_HUB_OFFLINE"] = "1"
huggingface_hub.constants.HF_HUB_OFFLINE = True


@pytest.fixture(scope="session", autouse=True)
def plain_static_files_storage():
    """The suite runs with DEBUG off but without collectstatic, so the manifest storage of
    production would fail every page that links a static file: use plain, unhashed names, as
    Django's documentation advises for tests."""
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(scope="session", autouse=True)
def private_cache():
    """The throttles count in the default cache, a folder in DATA_DIR that a local server may
    be using: the suite gets a cache of its own, in memory (test clients and live servers run
    in this process)."""
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """Every test starts with no request counted, so that tests never throttle each other."""
    cache.clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def unthrottled_subprocess_platforms():
    """Platforms that tests start as processes of their own (tests/e2e) poll the API far faster
    than a person would and upload hundreds of files as one user: the API's per-account limits
    are lifted for them (through the environment they inherit). This process's settings are
    already read; tests/test_throttling.py checks the limits."""
    lifted = {"THROTTLE_USER": "none", "THROTTLE_UPLOADS": "none"}
    before = {name: os.environ.get(name) for name in lifted}
    for name, value in lifted.items():
        os.environ.setdefault(name, value)
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
