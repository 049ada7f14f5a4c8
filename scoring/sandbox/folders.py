"""The run's folders: preparing the job and model folders for the run's uid, and reading
what the run left in the job folder (it is untrusted: no links, no fifos, bounded)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from scoring.runner.job import INPUTS_FILE, JOB_FILE, PREDICTIONS_FILE, PROGRESS_FILE, RUN_FILE
from scoring.sandbox.limits import MAX_JOB_FILES, SandboxError

MAX_REPORT_BYTES = 1 << 20  # run.json, progress.json
MAX_MODEL_FILES = 100_000  # files and folders of a model folder made readable


def prepare(job_dir: Path, model_dir: Path, uid: int | None) -> None:
    """Removes the outputs of an earlier run, gives the job folder (not its files: they are
    mounted read-only) to the sandbox's uid, and makes the job's files and the model readable
    by it: other users get read access (never through links; see `_readable`)."""
    for name in (PREDICTIONS_FILE, PROGRESS_FILE, RUN_FILE):  # of an earlier run
        with contextlib.suppress(FileNotFoundError):
            os.unlink(job_dir / name)
    if uid is None:
        return
    os.chown(job_dir, uid, uid, follow_symlinks=False)
    os.chmod(job_dir, 0o711)  # bwrap (root without capabilities) enters it
    for name in (JOB_FILE, INPUTS_FILE):
        _readable(job_dir / name)
    seen = 0
    for folder, folders, files in os.walk(model_dir):
        for name in [*folders, *files, None]:
            path = Path(folder) if name is None else Path(folder, name)
            seen += 1
            if seen > MAX_MODEL_FILES:
                raise SandboxError("the model folder holds more than 100,000 files")
            _readable(path)
        folders[:] = [f for f in folders if not Path(folder, f).is_symlink()]


def _readable(path: Path) -> None:
    """Adds read access for other users (and search, for a folder) where it is missing. A file
    with other names (hard links) is never changed, since one of them may be anywhere: when
    others cannot read it already, the run cannot start (a `SandboxError` naming it)."""
    try:
        info = os.lstat(path)
    except OSError:
        return  # missing: the runner says what it cannot read
    if stat.S_ISDIR(info.st_mode):
        wanted = info.st_mode | stat.S_IROTH | stat.S_IXOTH
    elif stat.S_ISREG(info.st_mode):
        wanted = info.st_mode | stat.S_IROTH
        if info.st_nlink > 1 and wanted != info.st_mode:
            raise SandboxError(
                f"{path} is readable by its owner only and has other names (hard links): "
                "make it readable by others before the run"
            )
    else:
        return
    if wanted != info.st_mode:
        with contextlib.suppress(OSError):  # a read-only file system: left as it is
            os.chmod(path, stat.S_IMODE(wanted))


# -- reading what the sandbox wrote


def _open_regular(path: Path, max_bytes: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        return os.read(fd, max_bytes + 1)[: max_bytes + 1]
    finally:
        os.close(fd)


def read_json(path: Path, max_bytes: int = MAX_REPORT_BYTES) -> dict | None:
    """The JSON object in `path`: None unless a regular file of at most `max_bytes` holds
    one."""
    data = _open_regular(path, max_bytes)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def disk_use(folder: Path) -> tuple[int, int]:
    """(bytes, entries) under `folder`, counting at most MAX_JOB_FILES + 1 entries."""
    total = entries = 0
    stack = [folder]
    while stack and entries <= MAX_JOB_FILES:
        try:
            with os.scandir(stack.pop()) as scan:
                for entry in scan:
                    entries += 1
                    if entries > MAX_JOB_FILES:
                        break
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(Path(entry.path))
                    else:
                        total += info.st_blocks * 512
        except OSError:
            continue
    return total, entries
