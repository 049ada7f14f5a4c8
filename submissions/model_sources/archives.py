"""Uploaded model archives: `archive_extract` unpacks a .zip or a .tar.gz, checked entry by
entry (names, kinds, counts, sizes) before or while it is written, with bounded memory; a
refused archive leaves nothing behind."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from django.conf import settings

from benchmarks.bundles.limits import MB, megabytes
from benchmarks.bundles.unzip import (
    DIRECTORY_BYTES_PER_ENTRY,
    METHOD_NAMES,
    METHODS,
    _directory_shape,
)
from scoring.streams import ZIP_READ_ERRORS
from submissions.model_sources.errors import ModelSourceError, _listed, _shown
from submissions.model_sources.folders import CONFIG, _name_problems, model_folder_check

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"
IGNORED_NAMES = frozenset({"__MACOSX", ".DS_Store"})
PLAIN = "a model archive holds plain files and folders"
# A tar member's header extension (a long name, pax attributes) is read whole into memory.
MAX_TAR_EXTENSION_BYTES = 1 * MB
TAR_EXTENSION_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
TAR_READ_ERRORS = (
    tarfile.TarError,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # RecursionError: a chain of global pax headers
    struct.error,
)
# Writing an entry fails on its name: a file and a folder of one name, a name too long.
CLASH_ERRNOS = frozenset({errno.EEXIST, errno.ENOTDIR, errno.EISDIR})


class _Refused(Exception):
    """An entry refused while unpacking (becomes a ModelSourceError)."""


class _WriteError(Exception):
    """Writing failed for a reason of the server's (a full disk): re-raised as the OSError."""

    def __init__(self, error: OSError):
        self.error = error
        super().__init__(str(error))


def archive_extract(
    *,
    fileobj,
    filename: str,
    dest: Path,
    allow_custom_code: bool,
    allow_pickle_weights: bool,
) -> Path:
    """Unpack an uploaded model archive (.zip, or .tar.gz / .tgz: by name and by its first
    bytes) into `dest` (an empty folder, made if missing) and return the folder holding
    config.json: `dest`, or its single top folder. Refused, with nothing left in `dest`: names
    outside the folder (absolute, `..`), links, devices and pipes, encrypted or bzip2/LZMA zip
    entries, more than MAX_MODEL_FILES entries, more than MAX_MODEL_DECODED_MB unpacked (a
    zip's declared sizes before anything is written; a tar's counted as it streams, stopped at
    the cap), several top folders, no config.json, and whatever `model_folder_check` refuses.
    Files are copied a megabyte at a time. Raises ModelSourceError."""
    dest = Path(dest)
    created = not dest.exists()
    if not created and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError("archive_extract needs an empty destination folder")
    kind = _archive_kind(fileobj, filename)
    dest.mkdir(parents=True, exist_ok=True)
    policy = {"allow_custom_code": allow_custom_code, "allow_pickle_weights": allow_pickle_weights}
    try:
        if kind == "zip":
            root = _zip_extract(fileobj, filename, dest, **policy)
        else:
            root = _tar_extract(fileobj, filename, dest)
        folder = dest.joinpath(*root)
        model_folder_check(folder=folder, **policy)
    except BaseException:
        _clear(dest, remove=created)
        raise
    return folder


def _archive_kind(fileobj, filename: str) -> str:
    shown = _shown(PurePosixPath(filename.replace("\\", "/")).name)
    lower = filename.lower()
    if lower.endswith(".zip"):
        kind = "zip"
    elif lower.endswith((".tar.gz", ".tgz")):
        kind = "tar.gz"
    else:
        raise ModelSourceError(
            [
                f"'{shown}' is not a model archive: upload the model folder as a .zip or a "
                ".tar.gz (.tgz), or give a Hub model id."
            ]
        )
    fileobj.seek(0, os.SEEK_END)
    size = fileobj.tell()
    cap = settings.MAX_MODEL_ARCHIVE_MB * MB
    if size > cap:
        raise ModelSourceError(
            [f"'{shown}' is {megabytes(size)}; a model archive may be at most {megabytes(cap)}."]
        )
    fileobj.seek(0)
    head = fileobj.read(4)
    fileobj.seek(0)
    if kind == "zip" and not head.startswith(ZIP_MAGIC):
        raise ModelSourceError(
            [f"'{shown}' is not a zip archive: its content does not start as a zip file's does."]
        )
    if kind == "tar.gz" and not head.startswith(GZIP_MAGIC):
        raise ModelSourceError(
            [f"'{shown}' is not a .tar.gz archive: its content is not gzip-compressed."]
        )
    return kind


def _entry_parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """(the parts of an entry's path, or a problem with its name)."""
    entry = f"Entry '{_shown(name)}'"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return (), f"{entry} has a control character in its name."
    norm = name.replace("\\", "/")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if norm.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        return (), (
            f"{entry} would be written outside the model folder (an absolute path or '..'): "
            "archive the folder's files under relative names."
        )
    return parts, None


def _ignored(parts: tuple[str, ...]) -> bool:
    """macOS's companions (__MACOSX/, .DS_Store, ._name): skipped, never written."""
    return parts[0] in IGNORED_NAMES or parts[-1] in IGNORED_NAMES or parts[-1].startswith("._")


def _too_many_entries(cap: int) -> str:
    return f"The archive holds more than {cap:,} entries; a model archive may hold at most {cap:,}."


def _too_large(cap: int, total: int | None = None) -> str:
    size = f"{megabytes(total)} in all" if total is not None else f"more than {megabytes(cap)}"
    return f"The archive's files unpack to {size}; a model may hold at most {megabytes(cap)}."


def _layout(records: list[tuple[tuple[str, ...], bool]]) -> tuple[str, ...]:
    """Where config.json must be: the root, when files lie there; else the single top folder."""
    files = [parts for parts, is_dir in records if not is_dir]
    if not files:
        raise ModelSourceError(["The archive holds no files."])
    if any(len(parts) == 1 for parts in files):
        root: tuple[str, ...] = ()
    else:
        tops = {parts[0] for parts, _ in records}
        if len(tops) > 1:
            raise ModelSourceError(
                [
                    f"The archive's files are in several top folders ({_listed(tops)}): put the "
                    "model's files at the root of the archive, or in one folder."
                ]
            )
        root = (tops.pop(),)
    if (*root, CONFIG) not in set(files):
        found = sorted("/".join(p) for p in files if p[-1] == CONFIG)
        hint = f" (there is one at '{_shown(found[0])}')" if found else ""
        raise ModelSourceError(
            [
                f"No {CONFIG} at the root of the archive or of its single top folder{hint}: "
                "archive the folder that save_pretrained() wrote."
            ]
        )
    return root


def _zip_extract(
    fileobj, filename: str, dest: Path, *, allow_custom_code: bool, allow_pickle_weights: bool
) -> tuple[str, ...]:
    """Check every entry from the zip's directory, then the layout and the names against the
    policy, and only then write."""
    shown = _shown(PurePosixPath(filename.replace("\\", "/")).name)
    damaged = f"'{shown}' could not be read as a zip archive: it is damaged or cut short."
    cap_files = settings.MAX_MODEL_FILES
    cap = settings.MAX_MODEL_DECODED_MB * MB
    fileobj.seek(0)
    entries, directory = _directory_shape(fileobj)  # before opening parses every entry
    fileobj.seek(0)
    if entries > cap_files:
        raise ModelSourceError([_too_many_entries(cap_files)])
    if directory is None:
        raise ModelSourceError([damaged])
    if directory > cap_files * DIRECTORY_BYTES_PER_ENTRY:
        raise ModelSourceError([_too_many_entries(cap_files)])
    try:
        archive = zipfile.ZipFile(fileobj)
    except ZIP_READ_ERRORS:
        raise ModelSourceError([damaged]) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > cap_files:
            raise ModelSourceError([_too_many_entries(cap_files)])
        plan: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
        problems: list[str] = []
        seen: set[tuple[str, ...]] = set()
        total = 0
        for info in infos:
            parts, problem = _entry_parts(info.filename)
            entry = f"Entry '{_shown(info.filename)}'"
            kind = stat.S_IFMT(info.external_attr >> 16)
            if problem:
                problems.append(problem)
            elif kind == stat.S_IFLNK:
                problems.append(f"{entry} is a symbolic link; {PLAIN}.")
            elif kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                problems.append(f"{entry} is a device, pipe or socket; {PLAIN}.")
            elif info.flag_bits & 0x1:
                problems.append(f"{entry} is encrypted: archive the model without a password.")
            elif info.compress_type not in METHODS:
                method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
                problems.append(
                    f"{entry} is compressed with {method}: zip the model with deflate (what zip "
                    "tools write by default) or store it uncompressed."
                )
            elif not parts or _ignored(parts):
                continue
            elif parts in seen:
                problems.append(f"{entry} appears twice.")
            else:
                seen.add(parts)
                total += 0 if info.is_dir() else info.file_size
                plan.append((info, parts))
        if total > cap:
            problems.append(_too_large(cap, total))
        if problems:
            raise ModelSourceError(problems)
        root = _layout([(parts, info.is_dir()) for info, parts in plan])
        names = [
            "/".join(parts[len(root) :])
            for info, parts in plan
            if not info.is_dir() and parts[: len(root)] == root
        ]
        problems = _name_problems(
            names, allow_custom_code=allow_custom_code, allow_pickle_weights=allow_pickle_weights
        )
        if problems:
            raise ModelSourceError(problems)
        try:
            for info, parts in plan:
                entry = f"Entry '{_shown(info.filename)}'"
                path = dest.joinpath(*parts)
                if info.is_dir():
                    _mkdir(path, entry)
                    continue
                _mkdir(path.parent, entry)
                try:
                    with archive.open(info) as stream:
                        _copy(stream.read, path, info.file_size, entry)
                except ZIP_READ_ERRORS:
                    raise _Refused(
                        f"{entry} could not be unpacked: the archive is damaged or cut short."
                    ) from None
        except _Refused as exc:
            raise ModelSourceError([str(exc)]) from None
        except _WriteError as exc:
            raise exc.error from None
    return root


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses, before tarfile reads them into memory, header extensions over
    MAX_TAR_EXTENSION_BYTES and too many of them, and sparse files (whose maps are read
    block by block)."""

    def _proc_member(self, tarfile_):
        if self.type in TAR_EXTENSION_TYPES:
            seen = getattr(tarfile_, "_model_extensions", 0) + 1
            tarfile_._model_extensions = seen
            if self.size > MAX_TAR_EXTENSION_BYTES or seen > 4 * settings.MAX_MODEL_FILES:
                raise _Refused(
                    "The archive holds a tar header extension (a long name or pax attributes) "
                    "too large or too many: archive the model with a usual tar tool."
                )
        elif self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(f"Entry '{_shown(self.name)}' is a sparse file; {PLAIN}.")
        return super()._proc_member(tarfile_)


def _tar_extract(fileobj, filename: str, dest: Path) -> tuple[str, ...]:
    """Stream the tar: each member is checked before it is written, the entries and the bytes
    counted as they come, and unpacking stops at the first refusal (the caller clears `dest`)."""
    shown = _shown(PurePosixPath(filename.replace("\\", "/")).name)
    cap_files = settings.MAX_MODEL_FILES
    cap = settings.MAX_MODEL_DECODED_MB * MB
    records: list[tuple[tuple[str, ...], bool]] = []
    count = total = 0
    fileobj.seek(0)
    try:
        with tarfile.open(fileobj=fileobj, mode="r|gz", tarinfo=_BoundedTarInfo) as tar:
            for member in tar:
                count += 1
                if count > cap_files:
                    raise _Refused(_too_many_entries(cap_files))
                parts, problem = _entry_parts(member.name)
                entry = f"Entry '{_shown(member.name)}'"
                if problem:
                    raise _Refused(problem)
                if member.issym():
                    raise _Refused(f"{entry} is a symbolic link; {PLAIN}.")
                if member.islnk():
                    raise _Refused(f"{entry} is a hard link; {PLAIN}.")
                if member.ischr() or member.isblk() or member.isfifo():
                    raise _Refused(f"{entry} is a device or a pipe; {PLAIN}.")
                if not (member.isreg() or member.isdir()):
                    raise _Refused(f"{entry} is not a plain file or folder; {PLAIN}.")
                if not parts or _ignored(parts):
                    continue
                path = dest.joinpath(*parts)
                if member.isdir():
                    _mkdir(path, entry)
                    records.append((parts, True))
                    continue
                if total + member.size > cap:
                    raise _Refused(_too_large(cap))
                total += member.size
                _mkdir(path.parent, entry)
                stream = tar.extractfile(member)
                _copy(stream.read, path, member.size, entry)
                records.append((parts, False))
    except _Refused as exc:
        raise ModelSourceError([str(exc)]) from None
    except _WriteError as exc:
        raise exc.error from None
    except TAR_READ_ERRORS:
        raise ModelSourceError(
            [f"'{shown}' could not be read as a .tar.gz archive: it is damaged or cut short."]
        ) from None
    return _layout(records)


def _write_failure(exc: OSError, entry: str) -> Exception:
    if exc.errno in CLASH_ERRNOS:
        return _Refused(
            f"{entry} clashes with another entry: a file and a folder of the same name, or the "
            "same file twice."
        )
    if exc.errno == errno.ENAMETOOLONG:
        return _Refused(f"{entry} has a name too long for a file.")
    return _WriteError(exc)


def _mkdir(path: Path, entry: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_failure(exc, entry) from None


def _copy(read: Callable[[int], bytes], path: Path, limit: int, entry: str) -> None:
    """Copy a megabyte at a time; never more than the entry declares."""
    try:
        out = open(path, "xb")  # noqa: SIM115 - closed below; opening may clash
    except OSError as exc:
        raise _write_failure(exc, entry) from None
    written = 0
    with out:
        while piece := read(MB):
            written += len(piece)
            if written > limit:
                raise _Refused(f"{entry} holds more than it declares.")
            try:
                out.write(piece)
            except OSError as exc:
                raise _WriteError(exc) from None


def _clear(dest: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
