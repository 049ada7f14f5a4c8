"""Uploading a bundle in the admin, in two steps (docs/authors.md): the upload is checked as an
import would check it and every problem listed, or what the import would do is shown; only the
confirmation imports, through the same service as `manage.py import_benchmark`.

Between the two steps the archive waits in private storage under a random name (one per
author: a new upload discards the previous one); the confirmation carries a signed token naming
it, valid for a day and only for the author who uploaded it."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse

from benchmarks.admin.forms import BundleUploadForm
from benchmarks.bundles import BundleError
from benchmarks.services import (
    benchmark_import,
    benchmark_import_check,
    benchmark_published_hooks_run,
)

STAGING_DIR = "bundle-uploads"
TOKEN_SALT = "benchmarks.admin.bundle_upload"
TOKEN_MAX_AGE_S = 24 * 60 * 60
TEMPLATE = "admin/benchmarks/benchmark/import.html"


def upload_view(model_admin, request):
    """Step 1, the dry run: nothing changes but the archive waiting for confirmation."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    form = BundleUploadForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        upload, update = form.cleaned_data["bundle"], form.cleaned_data["update"]
        name = Path(upload.name).name or "bundle.zip"
        with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
            # Under the uploaded name, which the messages about the zip quote.
            path = Path(tmp) / name
            with path.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                plan = benchmark_import_check(
                    source=path, update=update, draft=True, editor=request.user
                )
            except BundleError as exc:
                context["problems"] = exc.messages
            else:
                with path.open("rb") as f:
                    staged = _stage(f, request.user)
                token = {"file": staged, "name": name, "update": update, "user": request.user.pk}
                context.update(plan=plan, token=signing.dumps(token, salt=TOKEN_SALT))
    return _render(model_admin, request, context)


def confirm_view(model_admin, request):
    """Step 2: the import itself, of the archive the dry run checked."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        token = signing.loads(
            request.POST.get("token", ""), salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_S
        )
    except signing.BadSignature:
        token = None
    if not token or token.get("user") != request.user.pk:
        messages.error(request, "This upload has expired or is not yours: upload the bundle again.")
        return redirect(reverse("admin:benchmarks_benchmark_import"))
    try:
        with _local_copy(token["file"], token["name"]) as path:
            benchmark = benchmark_import(
                source=path,
                maintainer=request.user,
                update=token["update"],
                draft=True,
                editor=request.user,
            )
    except FileNotFoundError:
        messages.error(request, "This upload was replaced or removed: upload the bundle again.")
        return redirect(reverse("admin:benchmarks_benchmark_import"))
    except BundleError as exc:  # something changed since the dry run (the slug was taken)
        _discard(token["file"])
        context = {"form": BundleUploadForm(), "problems": exc.messages}
        return _render(model_admin, request, context)
    _discard(token["file"])
    if benchmark.is_draft:
        messages.success(
            request,
            f"Imported '{benchmark.slug}' as a draft: private and closed to submissions until "
            "you publish it (the action 'Publish' in the list of benchmarks).",
        )
    else:
        # A published benchmark's data was replaced: its baselines are computed again.
        benchmark_published_hooks_run(benchmark=benchmark)
        messages.success(request, f"Updated '{benchmark.slug}'.")
    return redirect(reverse("admin:benchmarks_benchmark_change", args=[benchmark.pk]))


def _render(model_admin, request, context: dict):
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": "Upload a benchmark bundle",
        **context,
    }
    return render(request, TEMPLATE, context)


def _stage(file, user) -> str:
    """Keep the checked archive for the confirmation; the author's earlier one goes."""
    prefix = f"{user.pk}-"
    try:
        _, files = default_storage.listdir(STAGING_DIR)
    except FileNotFoundError:
        files = []
    for name in files:
        if name.startswith(prefix):
            _discard(f"{STAGING_DIR}/{name}")
    return default_storage.save(f"{STAGING_DIR}/{prefix}{secrets.token_hex(16)}.zip", file)


@contextmanager
def _local_copy(stored: str, name: str) -> Iterator[Path]:
    """The staged archive as a local file under its uploaded name (storage may be remote)."""
    with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
        path = Path(tmp) / name
        with default_storage.open(stored, "rb") as src, path.open("wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(chunk)
        yield path


def _discard(stored: str) -> None:
    default_storage.delete(stored)
