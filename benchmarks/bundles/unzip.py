"""Unpacking a zipped bundle within the limits (docs/formats.md, "Benchmark bundles").

Everything is checked before anything is written: how many entries the directory can hold
(counted from their signatures in the file, whatever the archive's end record claims, because
opening a zip parses every entry into an object) and how large it is; then each entry's name
(nothing outside the bundle, no links), its method (stored or deflate: zipfile inflates bzip2
and LZMA without a bound on each piece's output), its declared size and the sum of them. zipfile
unpacks no more than an entry declares, and the copy counts again.
"""

from __future__ import annotations

import stat
import struct
import zipfile
from pathlib import Path, PurePosixPath

from benchmarks.bundles.errors import BundleError
from benchmarks.bundles.limits import MB, BundleLimits, megabytes
from benchmarks.bundles.yamltext import SPEC_FILENAME
from scoring.streams import ZIP_READ_ERRORS

IGNORED_ZIP_ENTRIES = frozenset({"__MACOSX", ".DS_Store"})
ENTRY_SIGNATURE = b"PK\x01\x02"
END_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_END_SIGNATURE = b"PK\x06\x06"
# A directory entry is 46 bytes plus its name and extra fields: a kilobyte is ample.
DIRECTORY_BYTES_PER_ENTRY = 1024
METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
METHOD_NAMES = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA", 9: "deflate64"}
SHOWN_NAME_CHARS = 100


def zip_unpack(source: Path, target: Path, limits: BundleLimits) -> Path:
    """Unpack the zip `source` into the empty folder `target` and return the bundle's root in
    it (the folder holding benchmark.yaml: `target` or its single top folder). Raises
    BundleError."""
    with open(source, "rb") as fh:
        entries, directory = _directory_shape(fh)
    if entries > limits.max_files:
        raise BundleError(
            f"{source.name}: holds more than {limits.max_files:,} entries, the most a bundle "
            "may hold (MAX_BUNDLE_FILES)"
        )
    if directory is None:
        raise BundleError(f"{source.name}: not a readable zip file (no end of directory record)")
    if directory > limits.max_files * DIRECTORY_BYTES_PER_ENTRY:
        raise BundleError(
            f"{source.name}: its directory of entries is {megabytes(directory)}, more than "
            f"{limits.max_files:,} entries (MAX_BUNDLE_FILES) need"
        )
    try:
        with zipfile.ZipFile(source) as archive:
            members = _members(archive, source.name, limits)
            for info, parts in members:
                _unpack(archive, info, target.joinpath(*parts), source.name)
    except ZIP_READ_ERRORS as exc:
        raise BundleError(f"{source.name}: not a readable zip file ({_reason(exc)})") from None
    if (target / SPEC_FILENAME).is_file():
        return target
    entries_found = [p for p in target.iterdir() if p.name not in IGNORED_ZIP_ENTRIES]
    if len(entries_found) == 1 and (entries_found[0] / SPEC_FILENAME).is_file():
        return entries_found[0]
    raise BundleError(
        f"{source.name}: expected {SPEC_FILENAME} at the root of the zip or inside "
        "a single top folder"
    )


def _directory_shape(fh) -> tuple[int, int | None]:
    """(most entries the directory can hold, its size as the end record declares it; None when
    there is no end record). The entries are counted from their signatures, a megabyte at a
    time."""
    count, tail = 0, b""
    while chunk := fh.read(MB):
        block = tail + chunk
        count += block.count(ENTRY_SIGNATURE)
        tail = block[-(len(ENTRY_SIGNATURE) - 1) :]
    size = fh.seek(0, 2)
    fh.seek(max(0, size - 22 - 0xFFFF))
    end = fh.read()
    # As zipfile finds it: the last 22 bytes when the archive has no comment, else the last
    # signature in the tail.
    at = len(end) - 22 if end[-22:-18] == END_SIGNATURE else end.rfind(END_SIGNATURE)
    if at < 0 or len(end) - at < 22:
        return count, None
    *_, entries, directory, offset, _ = struct.unpack("<4s4H2LH", end[at : at + 22])
    if entries == 0xFFFF or directory == 0xFFFFFFFF or offset == 0xFFFFFFFF:
        locator = end[at - 20 : at] if at >= 20 else b""
        if locator[:4] != ZIP64_LOCATOR_SIGNATURE:
            return count, None
        fh.seek(struct.unpack("<Q", locator[8:16])[0])
        record = fh.read(56)
        if len(record) < 56 or record[:4] != ZIP64_END_SIGNATURE:
            return count, None
        directory = struct.unpack("<Q", record[40:48])[0]
    return count, directory


def _members(
    archive: zipfile.ZipFile, zip_name: str, limits: BundleLimits
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Every entry with the parts of its path, after checking them all (every problem is
    reported)."""
    errors: list[str] = []
    members: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    seen: set[tuple[str, ...]] = set()
    total = 0
    infos = archive.infolist()
    if len(infos) > limits.max_files:  # the signature count already said so
        raise BundleError(
            f"{zip_name}: holds {len(infos):,} entries, more than the {limits.max_files:,} a "
            "bundle may hold (MAX_BUNDLE_FILES)"
        )
    for info in infos:
        name = info.filename
        entry = f"{zip_name}: entry '{_shown(name)}'"
        parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p != ".")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            errors.append(f"{entry} would be written outside the bundle")
        elif kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            what = "a symbolic link" if kind == stat.S_IFLNK else "not a plain file or folder"
            errors.append(f"{entry} is {what}; a bundle holds plain files and folders")
        elif info.flag_bits & 0x1:
            errors.append(f"{entry} is encrypted; zip the bundle without a password")
        elif info.compress_type not in METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            errors.append(
                f"{entry} is compressed with {method}; a bundle's entries are stored or "
                "compressed with deflate (what zip tools write by default)"
            )
        elif info.file_size > limits.max_decoded_bytes:
            errors.append(
                f"{entry} unpacks to {megabytes(info.file_size)}, more than the "
                f"{megabytes(limits.max_decoded_bytes)} a bundle may hold in all "
                "(MAX_BUNDLE_DECODED_MB)"
            )
        elif parts in seen:
            errors.append(f"{entry} appears twice")
        elif parts:
            seen.add(parts)
            total += info.file_size
            members.append((info, parts))
    if total > limits.max_decoded_bytes:
        errors.append(
            f"{zip_name}: its entries unpack to {megabytes(total)} in all, more than the "
            f"{megabytes(limits.max_decoded_bytes)} a bundle may hold (MAX_BUNDLE_DECODED_MB)"
        )
    if errors:
        raise BundleError(errors)
    return members


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, zip_name: str) -> None:
    entry = f"{zip_name}: entry '{_shown(info.filename)}'"
    try:
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with archive.open(info) as stream, open(path, "xb") as out:
            while piece := stream.read(MB):
                written += len(piece)
                if written > info.file_size:  # zipfile stops at the declared size; in case
                    raise BundleError(f"{entry} holds more than it declares")
                out.write(piece)
    except ZIP_READ_ERRORS as exc:
        raise BundleError(f"{entry} cannot be unpacked ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _shown(name: str) -> str:
    if len(name) <= SHOWN_NAME_CHARS:
        return name
    return name[: SHOWN_NAME_CHARS - 3] + "..."
