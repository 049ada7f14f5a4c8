"""The user ids of sandboxed runs: when the worker runs as root, each run drops to a uid of
`SANDBOX_UIDS` that no other run holds (a locked file each), so that RLIMIT_NPROC counts its
processes only; every process of that uid is killed before and after the run."""

from __future__ import annotations

import os
import signal
import stat
import tempfile
import time
from pathlib import Path

from scoring.sandbox.limits import SandboxError

SANDBOX_UIDS = range(990_000, 991_000)
UID_LOCK_DIR = Path(tempfile.gettempdir()) / "scoring-sandbox-uids"


class uid_slot:  # lower case: used as a function, `with uid_slot() as uid`
    """A user id of `SANDBOX_UIDS` no other run holds (a locked file each), when running as
    root; None otherwise (the run keeps the caller's uid)."""

    def __init__(self):
        self.fd = None
        self.uid = None

    def __enter__(self) -> int | None:
        if os.geteuid() != 0:
            return None
        import fcntl

        try:
            UID_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise SandboxError(f"cannot make {UID_LOCK_DIR}: {error}") from None
        info = os.lstat(UID_LOCK_DIR)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise SandboxError(f"{UID_LOCK_DIR} must be a folder of root's, not writable by others")
        start = (os.getpid() * 7919 + time.monotonic_ns()) % len(SANDBOX_UIDS)
        for step in range(len(SANDBOX_UIDS)):
            uid = SANDBOX_UIDS[(start + step) % len(SANDBOX_UIDS)]
            fd = os.open(
                UID_LOCK_DIR / str(uid),
                os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # still the file of that name (not one a cleaner removed meanwhile), and young:
                # temporary-file cleaners go by age
                held = os.fstat(fd)
                if os.lstat(UID_LOCK_DIR / str(uid)).st_ino != held.st_ino:
                    raise OSError("replaced")
                os.utime(fd)
            except OSError:
                os.close(fd)
                continue
            self.fd, self.uid = fd, uid
            kill_uid(uid)  # nothing of an earlier run may remain
            return uid
        raise SandboxError("every sandbox user id is in use")

    def __exit__(self, *exc):
        if self.fd is not None:
            kill_uid(self.uid)
            os.close(self.fd)
        return False


class no_slot:  # `uid_slot` where the run keeps the caller's uid
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (a sandbox uid: only sandboxed processes have it)."""
    for _ in range(3):
        found = False
        for pid in _pids():
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    os.kill(pid, signal.SIGKILL)
                    found = True
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.05)


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
