"""The sandbox launcher: runs `python -m scoring.runner` on a job folder and a model folder
inside bubblewrap, with limits, and says how it went (docs/sandbox.md).

    from scoring import sandbox
    if sandbox.available():
        outcome = sandbox.run_model(job_dir=job, model_dir=model, limits=sandbox.Limits(
            wall_seconds=600, memory_bytes=16 * 2**30))
        outcome.ok, outcome.reason, outcome.message, outcome.run

The sandbox has no network (its own empty network namespace), sees only its own processes (a
new PID namespace), and holds read-only: the Python environment (the virtual environment and
its base installation), /usr and the few system files Python needs, the `scoring` package (at
/opt/platform/scoring, never the repository with its database and stored files) and the model
(at /model); writable: the job folder (at /job) and an empty /tmp. Its environment is built from
nothing: no variable of the worker (database URL, secret key, tokens) reaches it. When the
worker runs as root, the runner runs as an unprivileged user id of its own (one per concurrent
run), so that the process limit counts its processes only and it can read nothing of root's.

Limits: wall time (the whole sandbox is killed), CPU time (RLIMIT_CPU), memory (RLIMIT_AS on
CPU runs, and the resident size of the whole sandbox, sampled), processes and threads
(RLIMIT_NPROC), file size (RLIMIT_FSIZE), the job folder's size and file count (sampled), /tmp's
size. A failure is reported with a reason and a message a participant may read: it never holds
the model's inputs (error lines that quote 16 or more characters of them are dropped).

Pure library: no Django; the trusted worker calls `run_model` and records the outcome.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scoring.runner.job import (
    EXIT_CRASH,
    EXIT_FILE_SIZE,
    EXIT_JOB,
    EXIT_MEMORY,
    EXIT_MODEL,
    EXIT_OUTPUT,
    EXIT_PROCESSES,
    INPUTS_FILE,
    JOB_FILE,
    PREDICTIONS_FILE,
    PROGRESS_FILE,
    RUN_FILE,
    STATUS_FD_VARIABLE,
)

BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"
SETPRIV = "/usr/bin/setpriv"

MODEL_MOUNT = "/model"
JOB_MOUNT = "/job"
PLATFORM_MOUNT = "/opt/platform"  # holds the scoring package only

# Sandboxed runs drop to a user id of this range, one per concurrent run (a lock file each).
SANDBOX_UIDS = range(990_000, 991_000)
UID_LOCK_DIR = Path(tempfile.gettempdir()) / "scoring-sandbox-uids"

POLL_SECONDS = 0.5  # progress, memory and disk are sampled this often
STDERR_TAIL_BYTES = 64 * 1024  # of the runner's stderr, kept for the crash message
MESSAGE_LINES = 5
MESSAGE_LINE_CHARS = 200
QUOTE_CHARS = 16  # a message line quoting this many characters of the inputs is dropped
MAX_REPORT_BYTES = 1 << 20  # run.json, progress.json
MAX_SCRUB_BYTES = 2 << 30  # of input text checked for quotes; beyond it, no line is shown
MAX_JOB_FILES = 1000  # files and folders the runner may leave in the job folder

REASONS = (
    "ok",
    "timeout",  # wall time
    "cpu_time",
    "memory",
    "file_size",  # a file over the file-size limit, or the job folder over its size
    "processes",
    "crash",
    "model",  # the runner could not use the model (refused custom code, wrong head, ...)
    "output",  # predictions missing or not one per row
    "job",  # the job folder is invalid: the platform's fault
    "sandbox",  # the sandbox could not start: the platform's fault
)
PLATFORM_REASONS = frozenset({"job", "sandbox"})


@dataclass(frozen=True)
class Limits:
    """What one model run may use. `cpu_seconds` defaults to the wall time times the threads;
    `memory_bytes` is each process's address space on CPU runs (a tiny model already maps
    about 2.2 GB: torch reserves address space it never touches) and the resident size of the
    whole sandbox on every run; `processes` counts processes and threads; `file_bytes` is the
    largest file the run may write, `disk_bytes` all it may leave in the job folder (default
    twice `file_bytes`), `tmp_bytes` the size of its /tmp; `threads` sets OMP_NUM_THREADS and
    the like (default: the CPUs this process may use)."""

    wall_seconds: float = 3600
    cpu_seconds: float | None = None
    memory_bytes: int = 16 * 2**30
    processes: int = 256
    file_bytes: int = 2 * 2**30
    disk_bytes: int | None = None
    tmp_bytes: int = 512 * 2**20
    threads: int | None = None

    def thread_count(self) -> int:
        return self.threads or len(os.sched_getaffinity(0)) or 1

    def cpu_limit(self) -> int:
        value = self.cpu_seconds or self.wall_seconds * self.thread_count()
        return max(1, int(value + 0.999))

    def disk_limit(self) -> int:
        return self.disk_bytes or 2 * self.file_bytes


@dataclass
class Outcome:
    """How a model run went. `reason` is one of `REASONS`; `message` is safe to show the
    participant; `run` is run.json when the run finished; `predictions_path` the checked
    predictions file (a regular file, not a link) when `ok`. `platform_fault` is true when the
    platform, not the model, failed (charge nothing). `headline` is `message` without the
    stderr lines a crash message quotes, for where no output of the model may be shown."""

    ok: bool
    reason: str
    message: str
    wall_seconds: float
    run: dict | None = None
    predictions_path: Path | None = None
    exit_code: int | None = None  # the runner's status; negative: killed by that signal
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None  # sampled resident size of the whole sandbox
    sandboxed: bool = True
    details: dict = field(default_factory=dict)
    headline: str = ""  # the message without the lines of stderr a crash message quotes

    def __post_init__(self):
        self.headline = self.headline or self.message

    @property
    def platform_fault(self) -> bool:
        return self.reason in PLATFORM_REASONS


# -- availability


@functools.lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    """Whether the sandbox works here, and why not: bubblewrap is installed and starts this
    Python in the sandbox's layout (tried once per process, about 50 ms)."""
    if sys.platform != "linux":
        return False, "the sandbox needs Linux"
    for tool in (BWRAP,) + ((SETPRIV,) if os.geteuid() == 0 else ()):
        if not os.access(tool, os.X_OK):
            return False, f"{tool} is not installed"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as folder:
        job, model = Path(folder, "job"), Path(folder, "model")
        job.mkdir()
        model.mkdir()
        try:
            with _uid_slot() as uid:
                if uid is not None:
                    os.chown(job, uid, uid)
                command = _bwrap_command(
                    job, model, Limits(), (), uid, ["-c", "import scoring.tasktypes"]
                )
                result = subprocess.run(
                    command, env={}, capture_output=True, timeout=60, cwd="/", check=False
                )
        except (OSError, subprocess.SubprocessError) as error:
            return False, f"bubblewrap could not start: {error}"
    if result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return False, "bubblewrap could not start Python: " + " / ".join(tail)
    return True, "bubblewrap works"


def available() -> bool:
    """True when `run_model` can sandbox (see `availability` for the reason when not)."""
    return availability()[0]


# -- the command


def _python_roots() -> list[Path]:
    """The folders the interpreter needs: the virtual environment and its base installation
    (the venv's python is a link into it), outside /usr (bound whole)."""
    roots = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        path = Path(prefix).resolve()
        if path == Path("/usr") or Path("/usr") in path.parents:
            continue
        if all(path != root and root not in path.parents for root in roots):
            roots = [r for r in roots if path not in r.parents] + [path]
    return roots


def _scoring_package() -> Path:
    return Path(__file__).resolve().parent


def _environment(limits: Limits, gpus: Sequence[int], home: str, pythonpath: str) -> dict:
    threads = str(limits.thread_count())
    env = {
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "PYTHONPATH": pythonpath,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": "/tmp/hf",
        "XDG_CACHE_HOME": "/tmp/cache",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB of address space per arena
        # OpenMP threads that sleep rather than spin: on a machine shared with other runs, a
        # spinning team waits for descheduled members (measured: 10x slower under load)
        "OMP_WAIT_POLICY": "PASSIVE",
        "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in gpus),
    }
    if gpus:
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
    return env


def _rlimit_arguments(limits: Limits, gpus: Sequence[int]) -> list[str]:
    """prlimit's options: CPU time (SIGXCPU at the limit, SIGKILL 5 s later), address space
    (CPU runs only: CUDA maps far more address space than memory), processes, file size, no
    core files."""
    cpu = limits.cpu_limit()
    options = [
        f"--cpu={cpu}:{cpu + 5}",
        f"--nproc={limits.processes}:{limits.processes}",
        f"--fsize={limits.file_bytes}:{limits.file_bytes}",
        "--core=0:0",
    ]
    if not gpus:
        options.append(f"--as={limits.memory_bytes}:{limits.memory_bytes}")
    return options


def _dirs_for(destination: str, made: set[str]) -> list[str]:
    """bwrap creates missing mount points as root-only folders: make each parent 0755."""
    arguments = []
    parts = Path(destination).parts[1:-1]
    for i in range(1, len(parts) + 1):
        folder = "/" + "/".join(parts[:i])
        if folder not in made:
            made.add(folder)
            arguments += ["--perms", "0755", "--dir", folder]
    return arguments


def _gpu_devices(gpus: Sequence[int]) -> list[str]:
    if not gpus:
        return []
    names = [f"/dev/nvidia{g}" for g in gpus]
    names += ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"]
    arguments = []
    for name in names:
        if os.path.exists(name):
            arguments += ["--dev-bind", name, name]
    for folder in ("/dev/nvidia-caps", "/dev/dri"):
        if os.path.isdir(folder):
            arguments += ["--dev-bind", folder, folder]
    arguments += ["--ro-bind-try", "/sys", "/sys"]  # CUDA reads the PCI topology
    return arguments


def _bwrap_command(
    job_dir: Path,
    model_dir: Path,
    limits: Limits,
    gpus: Sequence[int],
    uid: int | None,
    python_arguments: list[str],
) -> list[str]:
    command = [PRLIMIT, *_rlimit_arguments(limits, gpus), "--"] if _has_prlimit() else []
    command += [BWRAP, "--die-with-parent", "--new-session", "--clearenv"]
    if uid is not None:
        # Root without a user namespace (the uid drop needs real ids), every other namespace
        # new; capabilities reduced to what setpriv needs to drop to the sandbox's uid.
        command += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        command += ["--unshare-cgroup-try", "--cap-drop", "ALL"]
        command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        command += ["--unshare-all"]
    command += ["--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/", name)
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            command += ["--ro-bind", str(path), str(path)]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        command += ["--ro-bind-try", name, name]
    command += ["--proc", "/proc", "--dev", "/dev"]
    for tmpfs in ("/tmp", "/dev/shm"):  # /dev/shm: multiprocessing's semaphores
        command += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", tmpfs]
    made: set[str] = {"/usr", "/tmp"}
    for root in _python_roots():
        command += _dirs_for(str(root), made) + ["--ro-bind", str(root), str(root)]
    package = f"{PLATFORM_MOUNT}/scoring"
    command += _dirs_for(package, made) + ["--ro-bind", str(_scoring_package()), package]
    command += ["--ro-bind", str(model_dir), MODEL_MOUNT, "--bind", str(job_dir), JOB_MOUNT]
    for name in (JOB_FILE, INPUTS_FILE):  # the job's own files stay as the worker wrote them
        command += ["--ro-bind-try", str(job_dir / name), f"{JOB_MOUNT}/{name}"]
    command += _gpu_devices(gpus)
    for name, value in _environment(limits, gpus, JOB_MOUNT, PLATFORM_MOUNT).items():
        command += ["--setenv", name, value]
    command += ["--chdir", JOB_MOUNT, "--"]
    if uid is not None:
        command += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        command += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return command + [sys.executable, "-s", "-B", *python_arguments]


def _plain_command(job_dir: Path, model_dir: Path, limits: Limits, gpus: Sequence[int]):
    command = [PRLIMIT, *_rlimit_arguments(limits, gpus), "--"] if _has_prlimit() else []
    runner = ["-m", "scoring.runner", str(job_dir), str(model_dir)]
    return command + [sys.executable, "-s", "-B", *runner]


@functools.lru_cache(maxsize=1)
def _has_prlimit() -> bool:
    return os.access(PRLIMIT, os.X_OK)


def _set_rlimits(limits: Limits, gpus: Sequence[int]) -> Callable[[], None] | None:
    """Without prlimit, the limits are set in the child before exec (not thread-safe)."""
    if _has_prlimit():
        return None
    import resource

    cpu = limits.cpu_limit()
    values = [
        (resource.RLIMIT_CPU, (cpu, cpu + 5)),
        (resource.RLIMIT_NPROC, (limits.processes, limits.processes)),
        (resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes)),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if not gpus:
        values.append((resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes)))

    def apply():
        for name, value in values:
            resource.setrlimit(name, value)

    return apply


# -- user ids


class _uid_slot:
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
            _kill_uid(uid)  # nothing of an earlier run may remain
            return uid
        raise SandboxError("every sandbox user id is in use")

    def __exit__(self, *exc):
        if self.fd is not None:
            _kill_uid(self.uid)
            os.close(self.fd)
        return False


class SandboxError(Exception):
    """The sandbox could not be prepared (the platform's fault)."""


def _kill_uid(uid: int) -> None:
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


# -- preparing the folders


def _prepare(job_dir: Path, model_dir: Path, uid: int | None) -> None:
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
            if seen > 100_000:
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


# -- reading what the sandbox wrote (it is untrusted: no links, no fifos, bounded)


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


def _read_json(path: Path, max_bytes: int = MAX_REPORT_BYTES) -> dict | None:
    data = _open_regular(path, max_bytes)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _disk_use(folder: Path) -> tuple[int, int]:
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


def _sample_tree(root_pid: int) -> tuple[int, float, float]:
    """Resident bytes (shared pages counted in each process), the most CPU seconds one
    process has used, and the CPU seconds of all, over a process and its descendants."""
    page = os.sysconf("SC_PAGE_SIZE")
    tick = os.sysconf("SC_CLK_TCK")
    rss, most, total = 0, 0.0, 0.0
    stack, seen = [root_pid], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            rss += int(fields[21]) * page
            own = (int(fields[11]) + int(fields[12])) / tick
            most = max(most, own)
            total += own + (int(fields[13]) + int(fields[14])) / tick
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError, IndexError):
            continue
    return rss, most, total


# -- messages


def _size(n: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def _seconds(n: float) -> str:
    return f"{n:,.0f} s" if n >= 10 or n == int(n) else f"{n:.1f} s"


def _text_buffers(inputs_path: Path, max_bytes: int):
    """The bytes of every text value of inputs.parquet (strings and lists of strings, not the
    id column), as uint8 arrays, at most `max_bytes` in all."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(inputs_path)
    left = max_bytes
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if name == "id":
                continue
            for chunk in column.chunks:
                while pa.types.is_list(chunk.type) or pa.types.is_large_list(chunk.type):
                    chunk = chunk.flatten()
                if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                    continue
                if len(chunk) == 0:
                    continue
                kind = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
                offsets = np.frombuffer(chunk.buffers()[1], dtype=kind)
                offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
                data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
                data = data[offsets[0] : offsets[-1]][:left]
                left -= len(data)
                yield data
                if left <= 0:
                    return


def scrub_lines(lines: list[str], inputs_path: str | Path, width: int = QUOTE_CHARS) -> list[str]:
    """The lines that quote no run of `width` (8 to 16) characters of the text inputs of
    `inputs_path` (bytes, in UTF-8: a run of 16 characters is at least 16 bytes). Any such
    copied window holds one of the 8-byte words at the inputs' multiples of 8: those words are
    looked up (an 8 MB table by their low bits, then exactly) among every 8-byte piece of the
    lines, and each hit is compared in full. About half a second per 100 MB of text; used on
    failures only. More text than MAX_SCRUB_BYTES, or inputs that cannot be read: no line is
    kept."""
    import numpy as np

    encoded = [line.encode("utf-8", "replace") for line in lines]
    pieces: dict[int, list[tuple[int, int]]] = {}
    for index, data in enumerate(encoded):
        if len(data) >= width:
            for offset in range(len(data) - 7):
                key = int.from_bytes(data[offset : offset + 8], "little")
                pieces.setdefault(key, []).append((index, offset))
    if not pieces:
        return list(lines)
    keys = np.array(sorted(pieces), dtype=np.uint64)
    mask = np.uint64((1 << 23) - 1)
    table = np.zeros(1 << 23, dtype=bool)
    table[(keys & mask).astype(np.intp)] = True
    leaking: set[int] = set()
    checked = 0
    try:
        for data in _text_buffers(Path(inputs_path), MAX_SCRUB_BYTES + 1):
            checked += len(data)
            words = np.empty(len(data) // 8, dtype="<u8")  # aligned: unaligned views are slow
            words.view(np.uint8)[:] = data[: len(words) * 8]
            hits = np.flatnonzero(table[(words & mask).astype(np.intp)])
            hits = hits[np.isin(words[hits], keys)]
            for hit in hits.tolist():
                at = hit * 8
                for index, offset in pieces[int(words[hit])]:
                    if index not in leaking and _quoted(encoded[index], offset, data, at, width):
                        leaking.add(index)
                if len(leaking) == len(lines):
                    return []
    except Exception:  # noqa: BLE001 - unreadable inputs: show nothing that could quote them
        return []
    if checked > MAX_SCRUB_BYTES:
        return []  # too much text to check in bounded time: show nothing
    return [line for i, line in enumerate(lines) if i not in leaking]


def _quoted(line: bytes, offset: int, data, at: int, width: int) -> bool:
    """Whether a `width`-byte window of `line` holding its 8 bytes at `offset` is `data`'s
    around position `at` (where the same 8 bytes are)."""
    for shift in range(0, width - 7):
        start, position = offset - shift, at - shift
        if start < 0 or position < 0 or start + width > len(line) or position + width > len(data):
            continue
        if data[position : position + width].tobytes() == line[start : start + width]:
            return True
    return False


def _printable(line: str) -> str:
    return "".join(c if c.isprintable() else " " for c in line).strip()


def _tail_lines(stderr: bytes, inputs_path: Path) -> list[str]:
    text = stderr.decode("utf-8", "replace")
    lines = [_printable(line)[:MESSAGE_LINE_CHARS] for line in text.splitlines()]
    lines = [line for line in lines if line.strip("^~ ")]  # not the traceback's markers
    return scrub_lines(lines[-MESSAGE_LINES:], inputs_path)


def _runner_error(stderr: bytes, inputs_path: Path) -> str | None:
    """The runner's own `error: …` line (its last), scrubbed of quoted inputs."""
    text = stderr.decode("utf-8", "replace")
    for line in reversed(text.splitlines()):
        if line.startswith("error: "):
            shown = _printable(line[len("error: ") :])[: MESSAGE_LINE_CHARS * 2]
            kept = scrub_lines([shown], inputs_path)
            return kept[0] if kept else "(its message quotes the inputs and is not shown)"
    return None


OUT_OF_MEMORY_MARKS = (
    b"MemoryError",
    b"std::bad_alloc",
    b"Cannot allocate memory",
    b"can't allocate memory",
    b"failed to map segment from shared object",
)


def _out_of_memory(stderr: bytes) -> bool:
    """Whether the run's last error output tells of a failed allocation (under RLIMIT_AS,
    loading a library or starting a thread fails that way too)."""
    return any(mark in stderr[-4096:] for mark in OUT_OF_MEMORY_MARKS)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# -- running


def run_model(
    *,
    job_dir: str | Path,
    model_dir: str | Path,
    limits: Limits | None = None,
    gpus: Sequence[int] = (),
    unsafe_without_sandbox: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Runs `python -m scoring.runner` over `job_dir` (job.json, inputs.parquet; it receives
    predictions.parquet, progress.json and run.json) and the model folder `model_dir`, inside
    the sandbox (or, with `unsafe_without_sandbox`, as a plain subprocess with the same limits:
    local development only). `gpus` are the GPU indices the run may use (their device nodes
    are mounted and CUDA_VISIBLE_DEVICES names them). `on_progress(rows_done, rows_total)` is
    called from this thread as progress.json changes (an exception it raises kills the run and
    propagates). Never raises for anything the model does; the `Outcome` says what happened."""
    limits = limits or Limits()
    job_dir, model_dir = Path(job_dir).resolve(), Path(model_dir).resolve()
    started = time.monotonic()

    def platform(reason: str, message: str, **details) -> Outcome:
        return Outcome(
            ok=False,
            reason=reason,
            message=message,
            wall_seconds=time.monotonic() - started,
            sandboxed=not unsafe_without_sandbox,
            details=details,
        )

    if not job_dir.is_dir() or not model_dir.is_dir():
        return platform("job", "The model run could not start: its folders are missing")
    if not unsafe_without_sandbox and not available():
        return platform(
            "sandbox",
            "The model run could not start: the sandbox is not available",
            why=availability()[1],
        )
    try:
        with _uid_slot() if not unsafe_without_sandbox else _no_slot() as uid:
            _prepare(job_dir, model_dir, uid)
            return _run(
                job_dir,
                model_dir,
                limits,
                tuple(gpus),
                uid,
                unsafe_without_sandbox,
                on_progress,
                started,
            )
    except (SandboxError, OSError) as error:
        return platform(
            "sandbox", "The model run could not start: the sandbox failed", why=str(error)
        )


class _no_slot:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _run(job_dir, model_dir, limits, gpus, uid, unsafe, on_progress, started) -> Outcome:
    # The inputs as the worker wrote them, for scrubbing messages: held open, so that a run
    # that replaces the file (possible without the sandbox) cannot change what is checked.
    try:
        inputs_fd = os.open(job_dir / INPUTS_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        inputs_fd = None
    try:
        outcome = _run_with(
            job_dir, model_dir, limits, gpus, uid, unsafe, on_progress, started, inputs_fd
        )
    finally:
        if inputs_fd is not None:
            os.close(inputs_fd)
    if uid is not None:
        outcome.details["uid"] = uid
    return outcome


def _run_with(job_dir, model_dir, limits, gpus, uid, unsafe, on_progress, started, inputs_fd):
    status_read, status_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    try:
        os.set_inheritable(status_write, True)
        if unsafe:
            command = _plain_command(job_dir, model_dir, limits, gpus)
            env = _environment(limits, gpus, str(job_dir), str(_scoring_package().parent))
            cwd = str(job_dir)
        else:
            runner = ["-m", "scoring.runner", JOB_MOUNT, MODEL_MOUNT]
            command = _bwrap_command(job_dir, model_dir, limits, gpus, uid, runner)
            status_env = ["--setenv", STATUS_FD_VARIABLE, str(status_write)]
            at = command.index("--chdir")
            command[at:at] = status_env
            env, cwd = {}, "/"
        if unsafe:
            env[STATUS_FD_VARIABLE] = str(status_write)
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_write,
            pass_fds=(status_write,),
            start_new_session=True,
            preexec_fn=_set_rlimits(limits, gpus),
        )
    except OSError as error:
        for fd in (status_read, status_write, stderr_read, stderr_write):
            os.close(fd)
        raise SandboxError(f"cannot start: {error}") from None
    os.close(status_write)
    os.close(stderr_write)
    try:
        watch = _watch(process, job_dir, limits, gpus, stderr_read, on_progress, started, uid)
    finally:
        _stop(process, uid, unsafe)
        status = _drain(status_read, 4096)
        os.close(status_read)
        os.close(stderr_read)
    inputs = Path(f"/proc/self/fd/{inputs_fd}") if inputs_fd is not None else None
    return _verdict(job_dir, limits, watch, status, unsafe, started, inputs)


@dataclass
class _Watch:
    exit_code: int | None = None
    cpu_seconds: float | None = None
    killed_for: str | None = None
    peak_rss: int = 0
    most_cpu: float = 0.0  # the most CPU seconds one process used (RLIMIT_CPU is per process)
    stderr: bytes = b""


def _watch(process, job_dir, limits, gpus, stderr_fd, on_progress, started, uid) -> _Watch:
    """Waits for the run, reading its stderr (the last 64 KB kept), sampling progress, memory
    and disk every POLL_SECONDS, and killing it at the wall-time, memory or disk limit."""
    watch = _Watch()
    tail = bytearray()
    os.set_blocking(stderr_fd, False)
    pidfd = os.pidfd_open(process.pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(stderr_fd, select.POLLIN)
    stderr_open = True
    deadline = started + limits.wall_seconds
    next_sample = 0.0
    last_progress = None
    disk_limit = limits.disk_limit()
    base_used, base_entries = _disk_use(job_dir)  # the job's own files
    try:
        while True:
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + POLL_SECONDS
                rss, most, total = _sample_tree(process.pid)
                watch.peak_rss = max(watch.peak_rss, rss)
                watch.most_cpu = max(watch.most_cpu, most)
                watch.cpu_seconds = max(watch.cpu_seconds or 0.0, total)
                if rss > limits.memory_bytes:
                    watch.killed_for = "memory"
                    break
                used, entries = _disk_use(job_dir)
                if used - base_used > disk_limit or entries - base_entries > MAX_JOB_FILES:
                    watch.killed_for = "disk"
                    break
                last_progress = _report_progress(job_dir, on_progress, last_progress)
            if now >= deadline:
                watch.killed_for = "timeout"
                break
            timeout = max(0.0, min(next_sample, deadline) - now)
            for fd, _ in poller.poll(timeout * 1000):
                if fd == stderr_fd:
                    stderr_open = _read_some(stderr_fd, tail)
                    if not stderr_open:
                        poller.unregister(stderr_fd)
            result = os.wait4(process.pid, os.WNOHANG)
            if result[0]:
                process.returncode = os.waitstatus_to_exitcode(result[1])
                watch.exit_code = process.returncode
                break
        if stderr_open:
            _read_some(stderr_fd, tail, until_empty=True)
        last_progress = _report_progress(job_dir, on_progress, last_progress)
    finally:
        os.close(pidfd)
    watch.stderr = bytes(tail)
    return watch


def _read_some(fd: int, tail: bytearray, until_empty: bool = False) -> bool:
    """Reads what the pipe holds into `tail` (keeping its last STDERR_TAIL_BYTES); False at
    end of file."""
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        tail += data
        if len(tail) > STDERR_TAIL_BYTES:
            del tail[: len(tail) - STDERR_TAIL_BYTES]
        if not until_empty:
            return True


def _drain(fd: int, max_bytes: int) -> bytes:
    os.set_blocking(fd, False)
    data = b""
    while len(data) < max_bytes:
        try:
            piece = os.read(fd, max_bytes)
        except OSError:
            break
        if not piece:
            break
        data += piece
    return data[:max_bytes]


def _report_progress(job_dir, on_progress, last):
    if on_progress is None:
        return last
    progress = _read_json(job_dir / PROGRESS_FILE, 4096)
    if not progress:
        return last
    done, total = progress.get("rows_done"), progress.get("rows_total")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (done, total)):
        return last
    if (done, total) != last:
        on_progress(done, total)
    return (done, total)


def _stop(process: subprocess.Popen, uid: int | None, unsafe: bool) -> None:
    """Kills whatever is left of the run: its process group (prlimit, bwrap; the sandbox dies
    with bwrap, its PID namespace with its first process), and every process of its uid."""
    if process.returncode is None or unsafe:  # unsandboxed, children may outlive the runner
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
    if uid is not None:
        _kill_uid(uid)
    if process.returncode is None:
        try:
            _, status, _ = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            process.returncode = -signal.SIGKILL


def _verdict(job_dir, limits, watch: _Watch, status, unsafe, started, inputs) -> Outcome:
    code = watch.exit_code
    if code is not None and not unsafe and code > 128:
        code = -(code - 128)  # bwrap reports a child killed by signal N as 128 + N
    outcome = Outcome(
        ok=False,
        reason="crash",
        message="",
        wall_seconds=round(time.monotonic() - started, 4),
        exit_code=code,
        cpu_seconds=watch.cpu_seconds,
        peak_memory_bytes=watch.peak_rss or None,
        sandboxed=not unsafe,
    )
    try:
        runner_status = json.loads(status.decode()) if status else None
    except ValueError:
        runner_status = None
    ready = isinstance(runner_status, dict) and runner_status.get("ready") is True
    killed = watch.killed_for

    def fail(reason: str, message: str, quoted: str = "") -> Outcome:
        outcome.reason, outcome.headline = reason, message
        outcome.message = message + quoted
        return outcome

    if killed == "timeout":
        return fail(
            "timeout", f"The model run passed its time limit of {_seconds(limits.wall_seconds)}"
        )
    if killed == "memory":
        return fail(
            "memory", f"The model run ran out of memory (limit {_size(limits.memory_bytes)})"
        )
    if killed == "disk":
        return fail(
            "file_size",
            f"The model run wrote more than {_size(limits.disk_limit())} or "
            f"{MAX_JOB_FILES:,} files into its job folder",
        )
    if not ready:
        # Nothing of the model ran yet: the job, the sandbox or the runner's start failed,
        # or the runner refused the model before loading it.
        error = _runner_error(watch.stderr, inputs)
        if code == EXIT_MODEL and error:
            return fail("model", f"The model could not be run: {error}")
        if code == EXIT_JOB:
            outcome.details["why"] = error
            return fail("job", "The model run could not start: its job is invalid")
        outcome.details["why"] = " / ".join(_tail_lines(watch.stderr, inputs))
        return fail("sandbox", "The model run could not start: the sandbox failed")
    if code == 0:
        outcome = _finished(job_dir, limits, outcome)
        outcome.headline = outcome.message
        return outcome
    cpu_limit = limits.cpu_limit()
    if code == -signal.SIGXCPU or (
        code == -signal.SIGKILL and watch.most_cpu >= cpu_limit - POLL_SECONDS
    ):
        return fail("cpu_time", f"The model run passed its CPU time limit of {_seconds(cpu_limit)}")
    if code == EXIT_MEMORY or _out_of_memory(watch.stderr):
        return fail(
            "memory", f"The model run ran out of memory (limit {_size(limits.memory_bytes)})"
        )
    if code == EXIT_FILE_SIZE or code == -signal.SIGXFSZ:
        return fail(
            "file_size",
            f"The model run wrote a file larger than its limit of {_size(limits.file_bytes)}",
        )
    if code == EXIT_PROCESSES:
        return fail(
            "processes",
            f"The model run tried to start more than {limits.processes:,} processes or threads",
        )
    error = _runner_error(watch.stderr, inputs)
    if code == EXIT_MODEL and error:
        return fail("model", f"The model could not be run: {error}")
    if code == EXIT_OUTPUT and error:
        return fail("output", error[0].upper() + error[1:])
    lines = _tail_lines(watch.stderr, inputs)
    shown = (": " + " | ".join(lines)) if lines else ""
    if code is not None and code < 0:
        return fail("crash", f"The model run was killed by {_signal_name(-code)}", shown)
    if code == EXIT_CRASH or code is None:
        return fail("crash", "The model run crashed", shown)
    return fail("crash", f"The model run crashed (exit status {code})", shown)


def _finished(job_dir: Path, limits: Limits, outcome: Outcome) -> Outcome:
    predictions = job_dir / PREDICTIONS_FILE
    run = _read_json(job_dir / RUN_FILE)
    if not _regular_file(predictions) or run is None:
        outcome.reason = "output"
        outcome.message = "The model run finished without writing its predictions"
        return outcome
    if os.lstat(predictions).st_size > limits.file_bytes:
        outcome.reason = "file_size"
        outcome.message = (
            f"The model run wrote a file larger than its limit of {_size(limits.file_bytes)}"
        )
        return outcome
    outcome.ok, outcome.reason, outcome.run = True, "ok", run
    outcome.predictions_path = predictions
    rows = run.get("rows")
    outcome.message = (
        f"The model run finished: {rows:,} rows in {_seconds(outcome.wall_seconds)}"
        if isinstance(rows, int)
        else "The model run finished"
    )
    return outcome


__all__ = [
    "Limits",
    "Outcome",
    "REASONS",
    "SandboxError",
    "availability",
    "available",
    "run_model",
    "scrub_lines",
]
