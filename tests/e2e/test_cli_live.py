"""The installed `bench` console script (`pip install -e client`, as `make` does), run as a
participant runs it against a platform in subprocesses: gunicorn and a Celery worker over a
fresh DATA_DIR (tests/e2e/embedded.py). Log in, list, download, submit, follow the submission
until the worker has scored it, break it down and read the leaderboard."""

from __future__ import annotations

import csv
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.embedded import EmbeddedPlatform, free_port

pytestmark = pytest.mark.e2e

BENCH = Path(sys.executable).parent / "bench"


@pytest.fixture
def platform(tmp_path):
    assert BENCH.exists(), f"{BENCH} is missing: install the client with `pip install -e client`"
    platform = EmbeddedPlatform(tmp_path / "platform")
    platform.folder.mkdir()
    try:
        platform.install(settings.BASE_DIR / "demo" / "sentiment-mini")
        platform.start_web()
        platform.start_worker("worker", "-Q", "scoring", "-c", "1")
        yield platform
    finally:
        platform.stop()


class Participant:
    """Runs `bench` in a home folder of its own: no BENCH_ variables, its own config file."""

    def __init__(self, home: Path):
        self.home = home
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "LANG": "C.UTF-8",
        }

    def run(self, *args: str, stdin: str = "", timeout: float = 60):
        done = subprocess.run(
            [str(BENCH), *args],
            cwd=self.home,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        # Expected failures are one `error:` line, never a traceback.
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ok(self, *args: str, **kwargs) -> str:
        done = self.run(*args, **kwargs)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def run_on_a_terminal(self, *args: str, timeout: float = 180) -> tuple[int, str, str]:
        """(exit status, stdout, what the terminal showed) of `bench` with a pseudo-terminal
        as its stderr, read while it runs so that it never blocks on a full terminal."""
        primary, replica = pty.openpty()
        process = subprocess.Popen(
            [str(BENCH), *args],
            cwd=self.home,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=replica,
        )
        os.close(replica)
        shown = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not select.select([primary], [], [], 1)[0]:
                    continue
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # EIO: bench has exited and closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            else:
                process.kill()
        finally:
            os.close(primary)
        out = process.stdout.read().decode()
        process.stdout.close()
        code = process.wait(timeout=10)
        # The terminal turns each "\n" into "\r\n"; only the redraws' "\r" are of interest.
        return code, out, shown.decode().replace("\r\n", "\n")


def write_predictions(path: Path, splits: dict) -> None:
    """Gold labels where they are public, a guess where they are hidden."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "prediction"])
        writer.writerows((row["id"], row["label"]) for row in splits["dev"])
        writer.writerows((row["id"], "positive") for row in splits["test"])


def test_a_participant_logs_in_downloads_submits_follows_and_is_ranked(platform, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    me = Participant(home)

    refused = me.run("--url", platform.base, "login", "--token", "not-a-token")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: {platform.base} refused this token: ")
    assert refused.stderr.count("\n") == 1
    config = home / "config" / "benchclient" / "config.json"
    assert not config.exists()

    # No --token: the token is read from stdin, as a person pastes it at the prompt.
    out = me.ok("--url", platform.base, "login", stdin=platform.token + "\n")
    assert out == f"Logged in to {platform.base}; the token is saved in {config}.\n"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    # From here on the address and the token come from the config file.
    benchmarks = me.ok("benchmarks")
    assert re.search(r"^sentiment-mini\s+Sentiment \(mini\)\s+sst\s+open$", benchmarks, re.M)

    out = me.ok("download", "sentiment-mini", "--out", "data")
    files = sorted(p.name for p in (home / "data").iterdir())
    assert len(files) == 3 and out.count("Wrote data/") == 3, (files, out)
    splits = {}
    for name in files:
        split = re.match(r"sentiment-mini-sst-(\w+)-", name).group(1)
        with open(home / "data" / name, newline="") as f:
            splits[split] = list(csv.DictReader(f))
    assert set(splits) == {"train", "dev", "test"}
    assert "label" in splits["dev"][0] and "label" not in splits["test"][0]

    write_predictions(home / "predictions.csv", splits)
    out = me.ok("submit", "sentiment-mini", "predictions.csv", "--name", "cli e2e")
    submission_id = int(re.search(r"^Submitted #(\d+) \(queued\)", out).group(1))

    # stderr is a pipe here: a plain line per change, ending with the final state.
    done = me.run("status", str(submission_id), "--wait", "--interval", "0.3", timeout=180)
    assert done.returncode == 0, (done.stdout, done.stderr, platform.log("worker"))
    lines = done.stderr.splitlines()
    assert lines[-1] == f"#{submission_id}: scored (100%)", done.stderr
    assert all(re.fullmatch(rf"#{submission_id}: \w+.* \(\d+%\)", line) for line in lines)
    assert "Status:   scored\n" in done.stdout
    assert re.search(r"\nsst\s+dev\s+public\s+1\.0000 ", done.stdout), done.stdout

    out = me.ok("breakdown", str(submission_id), "--split", "dev")
    assert out.startswith(f"Submission #{submission_id}: task sst, split dev (public)\n")
    assert re.search(r"\ntopic\s+\S+\s+\d+\s+1\.0000", out), out

    board = me.ok("leaderboard", "sentiment-mini")
    assert board.startswith("sentiment-mini: task sst, split test, sorted by accuracy\n")
    assert re.search(rf"\n\d+\s+participant\s+cli e2e\s+#{submission_id}\s+0\.\d{{4}}", board)

    missing = me.run("status", "999999", "--no-wait")
    assert (missing.returncode, missing.stderr) == (1, "error: No such submission.\n")

    # On a terminal `status` waits by default, redrawing one line in place.
    out = me.ok("submit", "sentiment-mini", "predictions.csv", "--name", "cli e2e again")
    again = int(re.search(r"^Submitted #(\d+)", out).group(1))
    code, out, shown = me.run_on_a_terminal("status", str(again), "--interval", "0.3")
    assert code == 0, (out, shown, platform.log("worker"))
    frames = shown.split("\r")
    assert frames[0] == "" and len(frames) >= 2, shown
    assert all(re.match(rf"#{again} \[[#-]{{24}}\]\s+\d+%  \w+", f) for f in frames[1:]), shown
    assert frames[-1].startswith(f"#{again} [{'#' * 24}] 100%  scored  "), shown
    assert frames[-1].endswith("\x1b[K\n"), shown
    assert "Status:   scored\n" in out


def test_an_unreachable_platform_is_one_line(tmp_path):
    address = f"http://127.0.0.1:{free_port()}"
    done = Participant(tmp_path).run("--url", address, "benchmarks")
    assert done.returncode == 1
    assert re.fullmatch(rf"error: Cannot reach {re.escape(address)}: .*refused\.\n", done.stderr)
