"""What each `bench` command does: `cmd_<name>(client, args, out)` returns the exit status and
raises ApiError for anything the platform refused or that could not be done."""

from __future__ import annotations

import getpass
import os
import sys
from typing import TextIO

from benchclient import config
from benchclient.api import ApiError, Client
from benchclient.output import (
    print_benchmarks,
    print_breakdown,
    print_leaderboard,
    print_submission,
)
from benchclient.progress import ProgressDisplay, is_terminal, wait_for

# --- login ---------------------------------------------------------------------------------


def read_token(client: Client) -> str:
    """The token, asked for without echo on a terminal, else read from the first line of stdin
    (`bench login < token.txt`)."""
    where = f"Create an API token on {client.tokens_page} (its key is shown once)"
    try:
        if sys.stdin is not None and is_terminal(sys.stdin):
            print(f"{where}, then paste it here.", file=sys.stderr)
            token = getpass.getpass("API token: ")
        else:
            token = sys.stdin.readline() if sys.stdin is not None else ""
    except EOFError:
        token = ""
    token = token.strip()
    if not token:
        raise ApiError([f"No token given. {where} and paste it, or pass --token."])
    return token


def cmd_login(client: Client, args, out: TextIO) -> int:
    token = getattr(args, "token", None) or read_token(client)
    checked = Client(client.url, token, opener=client.opener, timeout=client.timeout)
    # Any request that needs a valid token: a wrong one is refused here, before it is saved.
    try:
        checked.own_submissions()
    except ApiError as exc:
        if exc.status not in (401, 403):
            raise
        raise ApiError(
            [f"{client.url} refused this token: {' '.join(exc.messages)} Nothing was saved."]
        ) from None
    try:
        path = config.remember(client.url, token)
    except config.ConfigError as exc:
        raise ApiError([str(exc)]) from None
    print(f"Logged in to {client.url}; the token is saved in {path}.", file=out)
    if os.environ.get("BENCH_TOKEN") and os.environ["BENCH_TOKEN"] != token:
        print("Note: BENCH_TOKEN is set, and is used instead of the saved token.", file=sys.stderr)
    return 0


def cmd_logout(client: Client, args, out: TextIO) -> int:
    try:
        forgotten = config.forget(client.url)
    except config.ConfigError as exc:
        raise ApiError([str(exc)]) from None
    if forgotten:
        print(f"Removed the saved token of {client.url}.", file=out)
    else:
        print(f"No token of {client.url} was saved.", file=out)
    return 0


# --- benchmarks and downloads ----------------------------------------------------------------


def cmd_benchmarks(client: Client, args, out: TextIO) -> int:
    print_benchmarks(client.benchmarks(), out)
    return 0


def one_of(positional: str | None, option: str | None, what: str) -> str | None:
    if positional and option and positional != option:
        raise ApiError([f"Two {what}s given ({positional!r} and {option!r}): give one."])
    return positional or option


def downloads_of(client: Client, benchmark: str, task: str | None, split: str | None) -> list:
    """(task, split) of each download asked for: every downloadable split of every task unless
    narrowed to one task or one split name."""
    if task and split:
        return [(task, split)]
    tasks = client.benchmark(benchmark).get("tasks") or []
    if task:
        chosen = [t for t in tasks if t["slug"] == task]
        if not chosen:
            known = ", ".join(t["slug"] for t in tasks) or "none"
            hint = " To choose a split, use --split." if split is None else ""
            raise ApiError([f"No task '{task}' on {benchmark} (its tasks: {known}).{hint}"])
        tasks = chosen
    found = [
        (t["slug"], s["name"])
        for t in tasks
        for s in t.get("splits") or []
        if s.get("inputs_downloadable") and split in (None, s["name"])
    ]
    if not found:
        offered = sorted(
            {
                s["name"]
                for t in tasks
                for s in t.get("splits") or []
                if s.get("inputs_downloadable")
            }
        )
        which = f"split '{split}'" if split else "split"
        raise ApiError(
            [
                f"No downloadable {which} on {benchmark}"
                + (f" (downloadable: {', '.join(offered)})." if offered else ".")
            ]
        )
    return found


def write_file(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise ApiError([f"Cannot write {path}: {exc.strerror}."]) from None


def cmd_download(client: Client, args, out: TextIO) -> int:
    task = one_of(args.task, args.task_option, "task")
    split = one_of(args.split, args.split_option, "split")
    found = downloads_of(client, args.benchmark, task, split)
    if args.output and len(found) > 1:
        names = ", ".join(f"{t}/{s}" for t, s in found)
        raise ApiError(
            [f"-o names one file, and this downloads {len(found)} ({names}): use --out DIR."]
        )
    if args.out:
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as exc:
            raise ApiError([f"Cannot create {args.out}: {exc.strerror}."]) from None
    for task_slug, split_name in found:
        data, name = client.download(args.benchmark, task_slug, split_name, fmt=args.format)
        path = args.output or (os.path.join(args.out, name) if args.out else name)
        write_file(path, data)
        print(f"Wrote {path} ({len(data):,} bytes).", file=out)
    return 0


# --- submissions ---------------------------------------------------------------------------


def follow(client: Client, submission_id: int, interval: float, out: TextIO) -> int:
    """Wait for a final state with progress on stderr, then print the submission: 0 when it
    was scored, 1 when it failed or was cancelled, 130 when the wait was interrupted."""
    try:
        detail = wait_for(client, submission_id, ProgressDisplay(sys.stderr), interval)
    except KeyboardInterrupt:
        print(
            f"Stopped waiting; #{submission_id} goes on: bench status {submission_id}",
            file=sys.stderr,
        )
        return 130
    print_submission(detail, out)
    return 0 if detail["status"] == "scored" else 1


def cmd_submit(client: Client, args, out: TextIO) -> int:
    chosen = [x for x in (args.file, args.model, args.model_archive) if x]
    if len(chosen) != 1:
        raise ApiError(["Give one of: a prediction file, --model REPO[@REV], --model-archive."])
    extra = {
        "task": args.task,
        "name": args.name,
        "description": args.description,
        "phase": args.phase,
    }
    if args.file:
        created = client.submit(args.benchmark, args.file, **extra)
    elif args.model:
        repo_id, _, revision = args.model.partition("@")
        created = client.submit_model(args.benchmark, repo_id=repo_id, revision=revision, **extra)
    else:
        created = client.submit_model(args.benchmark, archive=args.model_archive, **extra)
    print(
        f"Submitted #{created['id']} ({created['status']}): {client.url}{created['url']}", file=out
    )
    if not args.wait:
        print(f"Follow it with: bench status {created['id']}", file=out)
        return 0
    print(file=out)
    return follow(client, created["id"], args.interval, out)


def cmd_status(client: Client, args, out: TextIO) -> int:
    # Waiting is the default where a person watches the bar; a script gets one answer, as
    # `status` always gave, unless it asks for --wait.
    wait = args.wait if args.wait is not None else is_terminal(sys.stderr)
    if wait:
        return follow(client, args.id, args.interval, out)
    print_submission(client.submission(args.id), out)
    return 0


def cmd_breakdown(client: Client, args, out: TextIO) -> int:
    print_breakdown(args.id, client.breakdown(args.id, task=args.task, split=args.split), out)
    return 0


def cmd_cancel(client: Client, args, out: TextIO) -> int:
    print_submission(client.cancel(args.id), out)
    return 0


def cmd_leaderboard(client: Client, args, out: TextIO) -> int:
    board = client.leaderboard(
        args.benchmark, task=args.task, split=args.split, sort=args.sort, page=args.page
    )
    board["page"] = args.page or 1
    print_leaderboard(board, out)
    return 0
