"""What the tests of the demo bundles share: where the bundles are, and file storage of each
test's own (import `private_storage` into a test module to make it apply there)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

DEMO_ROOT = Path(settings.BASE_DIR) / "demo"
BUNDLES = sorted(p.parent for p in DEMO_ROOT.glob("*/benchmark.yaml"))


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
