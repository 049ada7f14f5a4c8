"""The sandbox launcher (scoring.sandbox, docs/sandbox.md) against hostile custom-code models
(`predict.py`): they get nothing out and are stopped at each limit with a clear, input-free
message. Helpers are in tests/sandbox_jobs.py.

Each hostile model writes whatever it could reach into its predictions or its stderr, and the
test checks that none of the secrets the test planted (files outside, its own environment, a
listening socket) got there. Controls run some of the same models without the sandbox and
see the secret, so a probe that finds nothing means something. The fork bomb runs only after
a bounded run has shown that the process limit holds."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.sandbox import Limits, run_model
from tests.sandbox_jobs import (
    ROOT,
    SMALL,
    as_root,
    hostile,
    needs_bwrap,
    predictions,
    processes_of,
)

# -- what a model cannot reach


@needs_bwrap
def test_no_network_not_even_loopback(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    job, model = hostile(
        tmp_path,
        f"""
        import socket

        def attempt(host, port):
            try:
                socket.create_connection((host, port), timeout=2).close()
                return f"connected to {{host}}:{{port}}"
            except OSError as error:
                return f"error {{type(error).__name__}}"

        def predict(rows, model_dir):
            found = [attempt("127.0.0.1", {port}), attempt("127.0.0.1", 5432),
                     attempt("10.0.0.1", 80)]
            try:
                found.append(str(socket.getaddrinfo("pypi.org", 443)))
            except OSError as error:
                found.append(f"error {{type(error).__name__}}")
            return [" | ".join(found)]
        """,
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.ok, outcome
    (found,) = predictions(job)
    assert "connected" not in found
    assert [part.split()[0] for part in found.split(" | ")] == ["error"] * 4, found
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


@needs_bwrap
def test_no_file_outside_the_sandbox_and_nothing_but_the_job_folder_writable(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    token = secrets.token_hex(16)
    (outside / "split_source.csv").write_text(f"id,text,label\nr0,hello,SECRET-{token}\n")
    (outside / "platform.sqlite3").write_text(f"password=SECRET-{token}")
    paths = [
        outside / "split_source.csv",
        outside / "platform.sqlite3",
        ROOT / "var",
        ROOT / ".env",
        ROOT / "config",
        Path("/etc/passwd"),
        Path("/etc/shadow"),
        Path("/root/.bash_history"),
    ]
    job, model = hostile(
        tmp_path,
        f"""
        import os

        PATHS = {[str(p) for p in paths]!r}
        WRITES = ["/model/x", "/opt/platform/scoring/x.py", {sys.prefix + "/x"!r}, "/usr/x",
                  "/x"]

        def look(path):
            try:
                if os.path.isdir(path):
                    return "listed " + ",".join(sorted(os.listdir(path)))
                with open(path) as handle:
                    return "read " + handle.read()
            except OSError as error:
                return f"error {{type(error).__name__}}"

        def write(path):
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                return "wrote " + path
            except OSError as error:
                return f"error {{type(error).__name__}}"

        def predict(rows, model_dir):
            found = [look(p) for p in PATHS] + [write(p) for p in WRITES]
            found.append("root " + ",".join(sorted(os.listdir("/"))))
            found.append("repo " + ",".join(sorted(os.listdir({str(ROOT)!r}))))
            found.append(write("/job/mine.txt") + " " + write("/tmp/mine.txt"))
            return [" | ".join(found)]
        """,
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.ok, outcome
    (found,) = predictions(job)
    assert token not in found and token not in outcome.message
    parts = found.split(" | ")
    assert all(part.startswith("error") for part in parts[: len(paths) + 5]), parts
    assert parts[-3].startswith("root ")
    # the environment is mounted at its own path, so its top folder shows at the root
    environment_top = Path(sys.prefix).resolve().parts[1]
    assert set(parts[-3][5:].split(",")) <= {
        "bin", "dev", "job", "lib", "lib64", "model", "opt", "proc", "root", "sbin", "tmp",
        "usr", "etc", "lib32", "libx32", environment_top,
    }  # fmt: skip
    assert parts[-2] == "repo .venv"  # of the repository, only the environment is there
    assert parts[-1] == "wrote /job/mine.txt wrote /tmp/mine.txt"


def test_control_without_the_sandbox_the_file_probe_reads_the_split(tmp_path):
    token = secrets.token_hex(16)
    split = tmp_path / "outside" / "split_source.csv"
    split.parent.mkdir()
    split.write_text(f"id,text,label\nr0,hello,SECRET-{token}\n")
    job, model = hostile(
        tmp_path,
        f"def predict(rows, model_dir):\n    return [open({str(split)!r}).read()]\n",
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL, unsafe_without_sandbox=True)
    assert outcome.ok, outcome
    assert token in predictions(job)[0]


ENVIRON_PROBE = """
    import os

    def predict(rows, model_dir):
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                for name in ("environ", "cmdline"):
                    try:
                        with open(f"/proc/{pid}/{name}", "rb") as handle:
                            found.append(handle.read().decode(errors="replace"))
                    except OSError:
                        pass
        return [" ".join(found).replace("\\0", " ")]
"""


@pytest.fixture
def secret_process():
    """A process of the worker's with a secret in its environment (as a database client or the
    worker itself would have), and the secret."""
    token = secrets.token_hex(16)
    env = {"SANDBOX_TEST_SECRET": token, "DATABASE_URL": f"postgres://u:{token}@127.0.0.1/db"}
    process = subprocess.Popen(["sleep", "60"], env=env)
    yield token
    process.kill()
    process.wait()


@needs_bwrap
def test_no_environment_of_the_worker(tmp_path, monkeypatch, secret_process):
    monkeypatch.setenv("SANDBOX_TEST_SECRET", secret_process)  # the launcher's own too
    job, model = hostile(tmp_path, ENVIRON_PROBE)
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.ok, outcome
    (found,) = predictions(job)
    assert "HOME=/job" in found  # the probe reads the runner's own environment...
    assert secret_process not in found  # ...and nothing of the worker's
    assert "DATABASE_URL" not in found and "SANDBOX_TEST_SECRET" not in found
    assert "sleep" not in found  # no process outside the sandbox is visible


def test_control_without_the_sandbox_the_environment_probe_finds_the_secret(
    tmp_path, secret_process
):
    job, model = hostile(tmp_path, ENVIRON_PROBE)
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL, unsafe_without_sandbox=True)
    assert outcome.ok, outcome
    assert secret_process in predictions(job)[0]  # read from the other process's environ


# -- limits


PROCESS_COUNTER = """
    import os, time

    def predict(rows, model_dir):
        started = 0
        for _ in range(200):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        return [started]
"""


def prove_process_limit(tmp_path: Path, limit: int) -> int:
    """A bounded run (at most 200 sleeping children): the number of processes the model could
    start under a limit of `limit`."""
    job, model = hostile(tmp_path, PROCESS_COUNTER, task_type="regression")
    limits = Limits(wall_seconds=20, memory_bytes=2 * 2**30, processes=limit, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.ok, outcome
    assert processes_of(outcome.details["uid"]) == []  # the sleeping children are gone
    return int(predictions(job)[0])


@needs_bwrap
@as_root
def test_the_process_limit_holds(tmp_path):
    started = prove_process_limit(tmp_path, 16)
    assert 3 <= started < 16  # the runner's own threads count too


@needs_bwrap
@as_root
def test_a_fork_bomb_stops_at_the_process_limit_and_the_wall_time(tmp_path):
    assert prove_process_limit(tmp_path / "proof", 16) < 16  # never an unbounded bomb otherwise
    job, model = hostile(
        tmp_path,
        """
        import os

        def predict(rows, model_dir):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """,
    )
    limits = Limits(wall_seconds=3, memory_bytes=2 * 2**30, processes=24, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "timeout", outcome
    assert outcome.message == "The model run passed its time limit of 3 s"
    assert outcome.wall_seconds < 8
    assert processes_of(outcome.details["uid"]) == []
    assert subprocess.run(["true"], check=False).returncode == 0  # this machine still forks


@needs_bwrap
@as_root
def test_too_many_threads_is_the_process_limit(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        import threading, time

        def predict(rows, model_dir):
            while True:
                threading.Thread(target=time.sleep, args=(60,)).start()
        """,
    )
    limits = Limits(wall_seconds=20, memory_bytes=2 * 2**30, processes=20, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "processes", outcome
    assert outcome.message == "The model run tried to start more than 20 processes or threads"
    assert outcome.wall_seconds < 10  # the runner does not wait for the model's threads


@needs_bwrap
def test_a_memory_bomb_runs_out_of_memory(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        def predict(rows, model_dir):
            hoard = []
            while True:
                hoard.append(b"x" * (64 << 20))
        """,
    )
    limits = Limits(wall_seconds=20, memory_bytes=2**30, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "memory", outcome
    assert outcome.message == "The model run ran out of memory (limit 1 GB)"


@needs_bwrap
def test_without_an_address_space_limit_gpu_runs_are_held_by_their_resident_size(tmp_path):
    """GPU runs get no RLIMIT_AS (CUDA maps far more address space than memory): the sampled
    resident size of the sandbox stops them. (No GPU is needed: none is opened.)"""
    job, model = hostile(
        tmp_path,
        """
        import time

        def predict(rows, model_dir):
            hoard = []
            for _ in range(128):  # 4 GB at most, should the sampling fail
                hoard.append(b"x" * (32 << 20))
                time.sleep(0.05)
            time.sleep(30)
        """,
    )
    limits = Limits(wall_seconds=20, memory_bytes=512 * 2**20, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits, gpus=(0,))
    assert outcome.reason == "memory", outcome
    assert outcome.message == "The model run ran out of memory (limit 512 MB)"
    assert outcome.peak_memory_bytes > 512 * 2**20


@needs_bwrap
def test_an_endless_loop_stops_at_the_wall_time(tmp_path):
    job, model = hostile(tmp_path, "def predict(rows, model_dir):\n    while True:\n        pass\n")
    limits = Limits(wall_seconds=3, memory_bytes=2 * 2**30, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "timeout" and not outcome.ok
    assert outcome.message == "The model run passed its time limit of 3 s"
    assert 3 <= outcome.wall_seconds < 6


@needs_bwrap
def test_cpu_time_is_limited(tmp_path):
    job, model = hostile(tmp_path, "def predict(rows, model_dir):\n    while True:\n        pass\n")
    limits = Limits(wall_seconds=20, cpu_seconds=1, memory_bytes=2 * 2**30, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "cpu_time", outcome
    assert outcome.message == "The model run passed its CPU time limit of 1 s"


@needs_bwrap
def test_a_10_gb_file_stops_at_the_file_size_limit(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        def predict(rows, model_dir):
            block = b"x" * (1 << 20)
            with open("/job/huge.bin", "wb") as handle:
                for _ in range(10 * 1024):
                    handle.write(block)
            return ["done"]
        """,
    )
    limits = Limits(wall_seconds=20, memory_bytes=2 * 2**30, file_bytes=8 * 2**20, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "file_size", outcome
    assert outcome.message == "The model run wrote a file larger than its limit of 8 MB"
    assert (job / "huge.bin").stat().st_size <= 8 * 2**20


@needs_bwrap
def test_many_files_stop_at_the_job_folder_limit(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        import time

        def predict(rows, model_dir):
            block = b"x" * (1 << 20)
            for i in range(10_000):
                with open(f"/job/part-{i}.bin", "wb") as handle:
                    handle.write(block)
                time.sleep(0.01)
            return ["done"]
        """,
    )
    limits = Limits(
        wall_seconds=30, memory_bytes=2 * 2**30, file_bytes=2 * 2**20, disk_bytes=16 * 2**20
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=limits)
    assert outcome.reason == "file_size", outcome
    assert outcome.message.startswith("The model run wrote more than 16 MB or 1,000 files")
