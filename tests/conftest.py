"""Settings for the whole test run."""

import pytest
from django.conf import settings
from django.test import override_settings


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
