"""The command line of a run: prlimit (rlimits) → bwrap (namespaces, mounts) → setpriv (the
drop to the run's uid, when root) → Python; the sandbox's environment, built from nothing."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from scoring.runner.job import INPUTS_FILE, JOB_FILE
from scoring.sandbox.limits import Limits

BWRAP = "/usr/bin/bwrap"
PRLIMIT = "/usr/bin/prlimit"
SETPRIV = "/usr/bin/setpriv"

MODEL_MOUNT = "/model"
JOB_MOUNT = "/job"
PLATFORM_MOUNT = "/opt/platform"  # holds the scoring package only


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


def scoring_package() -> Path:
    """The `scoring` package's folder (this module is scoring/sandbox/bwrap.py)."""
    return Path(__file__).resolve().parents[1]


def environment(limits: Limits, gpus: Sequence[int], home: str, pythonpath: str) -> dict:
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


def bwrap_command(
    job_dir: Path,
    model_dir: Path,
    limits: Limits,
    gpus: Sequence[int],
    uid: int | None,
    python_arguments: list[str],
) -> list[str]:
    """The sandboxed command: `python -s -B *python_arguments` in the sandbox's layout, as
    `uid` (None: the caller's uid, in a user namespace)."""
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
    command += _dirs_for(package, made) + ["--ro-bind", str(scoring_package()), package]
    command += ["--ro-bind", str(model_dir), MODEL_MOUNT, "--bind", str(job_dir), JOB_MOUNT]
    for name in (JOB_FILE, INPUTS_FILE):  # the job's own files stay as the worker wrote them
        command += ["--ro-bind-try", str(job_dir / name), f"{JOB_MOUNT}/{name}"]
    command += _gpu_devices(gpus)
    for name, value in environment(limits, gpus, JOB_MOUNT, PLATFORM_MOUNT).items():
        command += ["--setenv", name, value]
    command += ["--chdir", JOB_MOUNT, "--"]
    if uid is not None:
        command += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        command += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return command + [sys.executable, "-s", "-B", *python_arguments]


def plain_command(job_dir: Path, model_dir: Path, limits: Limits, gpus: Sequence[int]):
    """The runner without the sandbox (`unsafe_without_sandbox`): the same rlimits."""
    command = [PRLIMIT, *_rlimit_arguments(limits, gpus), "--"] if _has_prlimit() else []
    runner = ["-m", "scoring.runner", str(job_dir), str(model_dir)]
    return command + [sys.executable, "-s", "-B", *runner]


@functools.lru_cache(maxsize=1)
def _has_prlimit() -> bool:
    return os.access(PRLIMIT, os.X_OK)


def set_rlimits(limits: Limits, gpus: Sequence[int]) -> Callable[[], None] | None:
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
