"""The sandbox launcher (scoring.sandbox, docs/sandbox.md): the runner in bubblewrap gives the
same predictions as without it, and hostile custom-code models (`predict.py`) get nothing out
and are stopped at each limit with a clear, input-free message.

Each hostile model writes whatever it could reach into its predictions or its stderr, and the
test checks that none of the secrets the test planted (files outside, its own environment, a
listening socket) got there. Controls run some of the same models without the sandbox and
see the secret, so a probe that finds nothing means something. The fork bomb runs only after
a bounded run has shown that the process limit holds."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring import sandbox
from scoring.sandbox import Limits, run_model, scrub_lines
from tests.tiny_models import build_text_classifier, sample_texts, write_predict_py

ROOT = Path(__file__).resolve().parents[2]

needs_bwrap = pytest.mark.skipif(
    not sandbox.available(), reason=f"bubblewrap is not usable here: {sandbox.availability()[1]}"
)
as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the sandbox drops to a uid of its own only when run as root"
)

SMALL = Limits(wall_seconds=20, memory_bytes=2 * 2**30, processes=64, threads=1)


def make_job(folder: Path, texts: list[str], task_type="text-generation", **options) -> Path:
    folder.mkdir(parents=True)
    table = pa.table({"id": [f"r{i}" for i in range(len(texts))], "text": texts})
    pq.write_table(table, folder / "inputs.parquet")
    job = {
        "task_type": task_type,
        "id_column": "id",
        "input_columns": ["text"],
        "labels": [],
        "batch_size": 32,
        "max_new_tokens": 8,
        "allow_custom_code": True,
        "device": "cpu",
        **options,
    }
    (folder / "job.json").write_text(json.dumps(job))
    return folder


def hostile(tmp_path: Path, source: str, texts=("one row",), **job_options):
    """A job folder and a custom-code model folder holding `source` as predict.py."""
    model = tmp_path / "model"
    write_predict_py(model, source)
    return make_job(tmp_path / "job", list(texts), **job_options), model


def predictions(job: Path) -> list:
    return pq.read_table(job / "predictions.parquet").column("prediction").to_pylist()


def processes_of(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    found.append(int(name))
            except OSError:
                pass
    return found


# -- the runner in the sandbox


@needs_bwrap
def test_the_sandboxed_runner_gives_the_same_predictions(tmp_path):
    model = build_text_classifier(tmp_path / "model", ["neg", "pos"], seed=2)
    texts = sample_texts(40, seed=12, hi=25)
    plain_job = make_job(
        tmp_path / "plain", texts, "text-classification", labels=["neg", "pos"], batch_size=8
    )
    boxed_job = make_job(
        tmp_path / "boxed", texts, "text-classification", labels=["neg", "pos"], batch_size=8
    )
    limits = Limits(wall_seconds=120, memory_bytes=4 * 2**30, threads=2)
    seen = []
    boxed = run_model(
        job_dir=boxed_job, model_dir=model, limits=limits, on_progress=lambda *p: seen.append(p)
    )
    plain = run_model(
        job_dir=plain_job, model_dir=model, limits=limits, unsafe_without_sandbox=True
    )
    assert boxed.ok and plain.ok, (boxed, plain)
    assert boxed.reason == "ok" and boxed.sandboxed and not plain.sandboxed
    assert predictions(boxed_job) == predictions(plain_job)
    assert len(set(predictions(boxed_job))) == 2
    assert boxed.predictions_path == boxed_job / "predictions.parquet"
    assert boxed.run["rows"] == 40 and boxed.run["device"] == "cpu"
    assert boxed.message.startswith("The model run finished: 40 rows in ")
    assert boxed.headline == boxed.message
    assert seen[-1] == (40, 40) and all(total == 40 for _, total in seen)
    assert boxed.peak_memory_bytes > 100 * 2**20


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
    assert set(parts[-3][5:].split(",")) <= {
        "bin", "dev", "job", "lib", "lib64", "model", "opt", "proc", "root", "sbin", "tmp",
        "usr", "work", "etc", "lib32", "libx32",
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


# -- cancellation


def sleeper(tmp_path: Path):
    """A job and a model that sleeps in a loop beside a child process of its own (its command
    line holds a token), and the token: no process holding it may outlive the run."""
    token = f"sandbox-test-{secrets.token_hex(8)}"
    job, model = hostile(
        tmp_path,
        f"""
        import subprocess, sys, time

        def predict(rows, model_dir):
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", {token!r}])
            while True:
                time.sleep(0.1)
        """,
    )
    return job, model, token


def processes_holding(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    if token.encode() in handle.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


@needs_bwrap
def test_a_cancelled_run_is_stopped_within_seconds(tmp_path):
    job, model, token = sleeper(tmp_path)
    started = time.monotonic()
    asked: list[float] = []
    said_no: list[float] = []

    def keep_going() -> bool:
        asked.append(time.monotonic())
        if time.monotonic() - started < 1 or not processes_holding(token):
            return True  # at least a second, and until the model's child is running
        said_no.append(time.monotonic())
        return False

    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL, keep_going=keep_going)
    assert outcome.reason == "cancelled" and not outcome.ok and not outcome.platform_fault, outcome
    assert outcome.message == "The model run was stopped: the submission was cancelled"
    assert outcome.headline == outcome.message
    assert said_no and time.monotonic() - said_no[0] < 2  # stopped at once
    assert outcome.wall_seconds < 10  # SMALL's wall time is 20 s
    assert len(asked) >= 2 and all(b - a >= 2 for a, b in pairwise(asked))  # every 2 s
    assert processes_holding(token) == []
    if "uid" in outcome.details:
        assert processes_of(outcome.details["uid"]) == []


@needs_bwrap
def test_an_exception_of_keep_going_stops_the_run_and_propagates(tmp_path):
    job, model, token = sleeper(tmp_path)
    started = time.monotonic()

    def keep_going() -> bool:
        if time.monotonic() - started < 1 or not processes_holding(token):
            return True
        raise ConnectionError("the database went away")  # an OSError: still the caller's

    with pytest.raises(ConnectionError, match="the database went away"):
        run_model(job_dir=job, model_dir=model, limits=SMALL, keep_going=keep_going)
    assert time.monotonic() - started < 10
    assert processes_holding(token) == []


# -- failures and their messages


@needs_bwrap
def test_a_crash_shows_the_last_lines_without_the_inputs(tmp_path):
    hidden = "the hidden test sentence number seven about paris"
    job, model = hostile(
        tmp_path,
        """
        import sys

        def predict(rows, model_dir):
            for row in rows:
                print("reading " + row["text"], file=sys.stderr)
            print("short " + rows[0]["text"][:15], file=sys.stderr)
            print("x" * 5000, file=sys.stderr)
            raise ValueError("cannot parse " + rows[0]["text"])
        """,
        texts=[hidden, "another row"],
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "crash" and not outcome.platform_fault
    assert outcome.message.startswith("The model run crashed: ")
    assert outcome.headline == "The model run crashed"
    shown = outcome.message.removeprefix("The model run crashed: ").split(" | ")
    assert 1 <= len(shown) <= 5 and all(len(line) <= 200 for line in shown)
    assert "the hidden test" not in outcome.message and "sentence" not in outcome.message
    assert "short the hidden test"[:21] not in outcome.message  # 15 + 6 chars is a copy too
    assert any('File "/model/predict.py"' in line for line in shown)
    assert shown[-1].startswith('raise ValueError("cannot parse "') or "x" * 50 in shown[-2]


@needs_bwrap
def test_one_prediction_too_few(tmp_path):
    job, model = hostile(
        tmp_path,
        "def predict(rows, model_dir):\n    return ['x'] * (len(rows) - 1)\n",
        texts=sample_texts(10),
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "output", outcome
    assert outcome.message == outcome.headline == "The model returned 9 predictions for 10 rows"


@needs_bwrap
def test_predict_py_is_refused_without_custom_code(tmp_path):
    job, model = hostile(tmp_path, "raise SystemExit('never imported')\n", allow_custom_code=False)
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "model" and not outcome.platform_fault
    assert "does not allow custom code" in outcome.message


@needs_bwrap
def test_a_model_cannot_pass_its_failure_off_as_the_platforms(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        import os, sys

        def predict(rows, model_dir):
            print("bwrap: Can't mount proc", file=sys.stderr)
            print("error: job.json: unknown task_type", file=sys.stderr)
            os._exit(2)
        """,
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "crash" and not outcome.platform_fault, outcome


@needs_bwrap
def test_a_link_left_as_predictions_is_not_followed(tmp_path):
    job, model = hostile(
        tmp_path,
        """
        import os, time

        def predict(rows, model_dir):
            if os.fork() == 0:  # swaps the runner's predictions for a link, as it finishes
                for _ in range(2000):
                    try:
                        os.symlink("/etc/hostname", "/job/link")
                        os.replace("/job/link", "/job/predictions.parquet")
                    except OSError:
                        pass
                    time.sleep(0.002)
                os._exit(0)
            time.sleep(0.2)
            return ["x" for _ in rows]
        """,
    )
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    if (job / "predictions.parquet").is_symlink():
        assert outcome.reason == "output" and outcome.predictions_path is None, outcome
    else:  # the runner's file won the race
        assert outcome.ok


@needs_bwrap
@as_root
def test_model_files_are_made_readable_but_never_through_other_names(tmp_path):
    job, model = hostile(
        tmp_path,
        "def predict(rows, model_dir):\n"
        "    return [open(model_dir + '/a.bin').read() + open(model_dir + '/b.bin').read()]\n",
    )
    (model / "a.bin").write_text("a")
    (model / "a.bin").chmod(0o600)  # as safetensors are often written: made readable
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_text("b")
    elsewhere.chmod(0o600)
    os.link(elsewhere, model / "b.bin")  # a second name: left alone
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "sandbox" and outcome.platform_fault, outcome
    assert "b.bin is readable by its owner only and has other names" in outcome.details["why"]
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    elsewhere.chmod(0o644)
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.ok, outcome
    assert predictions(job) == ["ab"]
    assert stat.S_IMODE((model / "a.bin").stat().st_mode) == 0o604


@needs_bwrap
def test_an_invalid_job_is_the_platforms_fault(tmp_path):
    job, model = hostile(tmp_path, "def predict(rows, model_dir):\n    return rows\n")
    (job / "job.json").write_text("{}")
    outcome = run_model(job_dir=job, model_dir=model, limits=SMALL)
    assert outcome.reason == "job" and outcome.platform_fault
    assert outcome.message == "The model run could not start: its job is invalid"


def test_the_unsafe_mode_keeps_the_limits(tmp_path):
    job, model = hostile(tmp_path, "def predict(rows, model_dir):\n    while True:\n        pass\n")
    # CPU time well above the wall time: a busy loop would otherwise race the two limits
    limits = Limits(wall_seconds=2, cpu_seconds=30, memory_bytes=2 * 2**30, threads=1)
    outcome = run_model(job_dir=job, model_dir=model, limits=limits, unsafe_without_sandbox=True)
    assert outcome.reason == "timeout" and not outcome.sandboxed


def test_scrub_lines_drops_lines_quoting_16_characters_of_the_inputs(tmp_path):
    table = pa.table(
        {
            "id": ["a-very-long-identifier-0001", "b"],
            "text": ["Ünïcödé sentence with accents", "short"],
            "tokens": [["tokenised", "words", "in-a-list-column-here"], []],
        }
    )
    pq.write_table(table, tmp_path / "inputs.parquet")
    lines = [
        "x Ünïcödé sentence w",  # 16 characters of the first text
        "x Ünïcödé sentenc",  # 15 characters, in more than 16 bytes: dropped too
        "in-a-list-column-here",
        "a-very-long-identifier-0001",  # ids are no secret
        "Traceback (most recent call last):",
        "sentence with a",
    ]
    assert scrub_lines(lines, tmp_path / "inputs.parquet") == lines[3:]
