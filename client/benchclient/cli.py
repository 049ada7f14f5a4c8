"""`bench`: download splits, submit prediction files, follow them and read leaderboards from a
terminal.

    bench download BENCHMARK TASK SPLIT [--format csv|jsonl|parquet] [-o FILE]
    bench submit BENCHMARK FILE [--task T] [--name N] [--description D] [--wait]
    bench status ID
    bench cancel ID
    bench leaderboard BENCHMARK [--task T] [--split S] [--sort METRIC] [--page N]

Configured by --url / BENCH_URL (default http://127.0.0.1:8000) and --token / BENCH_TOKEN.
Errors print the platform's messages and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from benchclient import __version__
from benchclient.api import DEFAULT_URL, FINAL_STATES, ApiError, Client

POLL_SECONDS = 3.0


# --- formatting ---------------------------------------------------------------------------


def format_number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_metric(entry) -> str:
    """`{"value": 0.7, "ci": [0.64, 0.76]}` as `0.7000 [0.6400, 0.7600]`."""
    if not isinstance(entry, dict):
        return format_number(entry)
    text = format_number(entry.get("value"))
    ci = entry.get("ci")
    if entry.get("value") is not None and isinstance(ci, list) and len(ci) == 2:
        text += f" [{format_number(ci[0])}, {format_number(ci[1])}]"
    return text


def metric_keys(metric_dicts, first: list[str] | None = None) -> list[str]:
    """Metric names in order of first appearance, `first` ones in front."""
    keys = list(first or [])
    for metrics in metric_dicts:
        for key in metrics or {}:
            if key not in keys:
                keys.append(key)
    return keys


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns; every row is padded (or cut) to the headers' length."""
    n = len(headers)
    rows = [([str(c) for c in row] + [""] * n)[:n] for row in rows]
    widths = [max(len(line[i]) for line in [headers, *rows]) for i in range(n)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def print_submission(detail: dict, out: TextIO) -> None:
    progress = detail.get("progress") or 0.0
    print(f"Submission #{detail['id']} on {detail['benchmark']}", file=out)
    fields = [
        ("Name", detail.get("name") or "-"),
        (
            "Status",
            detail["status"] + ("" if detail["status"] in FINAL_STATES else f" ({progress:.0%})"),
        ),
        ("Created", detail.get("created_at") or "-"),
        ("Finished", detail.get("finished_at") or "-"),
    ]
    model = detail.get("model")
    if model:
        where = f"{model['repo_id']}@{model['revision']}" if model.get("repo_id") else "archive"
        fields.append(("Model", f"{where} ({model['sha'][:19]})"))
    if detail.get("error"):
        fields.append(("Error", detail["error"]))
    for label, value in fields:
        print(f"{label + ':':<10}{value}", file=out)
    evaluations = detail.get("evaluations") or []
    if not evaluations:
        return
    keys = metric_keys(e["metrics"] for e in evaluations)
    rows = []
    for e in evaluations:
        if e.get("withheld") or e.get("metrics") is None:
            cells = ["(withheld until the benchmark closes)"]
        else:
            cells = [format_metric(e["metrics"].get(k)) for k in keys]
        rows.append([e["task"], e["split"], e.get("role", ""), *cells])
    print(file=out)
    print(table(["TASK", "SPLIT", "ROLE", *(keys or ["SCORES"])], rows), file=out)


def print_leaderboard(board: dict, out: TextIO) -> None:
    print(
        f"{board['benchmark']}: task {board['task']}, split {board['split']}, "
        f"sorted by {board['sort']}",
        file=out,
    )
    rows = board.get("rows") or []
    if not rows:
        print("No scored submissions yet.", file=out)
        return
    keys = metric_keys((r["metrics"] for r in rows), first=board.get("columns") or [board["sort"]])
    lines = []
    for r in rows:
        name = r.get("name") or ""
        if r.get("is_baseline"):
            name += " (baseline)"
        rank = "-" if r.get("rank") is None else str(r["rank"])
        metrics = r.get("metrics") or {}
        lines.append(
            [rank, r["participant"], name, f"#{r['submission']}"]
            + [format_metric(metrics.get(k)) for k in keys]
        )
    print(table(["RANK", "PARTICIPANT", "NAME", "ID", *keys], lines), file=out)
    if board.get("next"):
        print(f"\nMore rows: add --page {board.get('page', 1) + 1}.", file=out)


# --- commands -----------------------------------------------------------------------------


STAGES = {"run": "running the model", "score": "scoring"}


def wait_for(client: Client, submission_id: int, out: TextIO, interval: float) -> dict:
    last = None
    while True:
        detail = client.submission(submission_id)
        stage = detail.get("stage") if detail.get("kind") == "model" else None
        state = (detail["status"], stage, round((detail.get("progress") or 0) * 100))
        if state != last:
            where = f", {STAGES.get(stage, stage)}" if stage and state[0] != "scored" else ""
            print(f"#{submission_id}: {state[0]}{where} ({state[2]}%)", file=out, flush=True)
            last = state
        if detail["status"] in FINAL_STATES:
            return detail
        time.sleep(interval)


def cmd_download(client: Client, args, out: TextIO) -> int:
    data, name = client.download(args.benchmark, args.task, args.split, fmt=args.format)
    path = args.output or name
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise ApiError([f"Cannot write {path}: {exc.strerror}."]) from None
    print(f"Wrote {path} ({len(data):,} bytes).", file=out)
    return 0


def cmd_submit(client: Client, args, out: TextIO) -> int:
    chosen = [x for x in (args.file, args.model, args.model_archive) if x]
    if len(chosen) != 1:
        raise ApiError(["Give one of: a prediction file, --model REPO[@REV], --model-archive."])
    extra = {"task": args.task, "name": args.name, "description": args.description}
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
    try:
        detail = wait_for(client, created["id"], out, args.interval)
    except KeyboardInterrupt:
        print(
            f"\nStopped waiting; #{created['id']} goes on. bench status {created['id']}", file=out
        )
        return 130
    print(file=out)
    print_submission(detail, out)
    return 0 if detail["status"] == "scored" else 1


def cmd_status(client: Client, args, out: TextIO) -> int:
    print_submission(client.submission(args.id), out)
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


def build_parser() -> argparse.ArgumentParser:
    # --url/--token work before or after the command; SUPPRESS keeps a command's parser from
    # overwriting a value given before it.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--url", default=argparse.SUPPRESS, help=f"platform URL (env BENCH_URL; {DEFAULT_URL})"
    )
    connection.add_argument(
        "--token", default=argparse.SUPPRESS, help="API token (env BENCH_TOKEN)"
    )

    parser = argparse.ArgumentParser(
        prog="bench", description="Benchmark platform client.", parents=[connection]
    )
    parser.add_argument("--version", action="version", version=f"benchclient {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    download = commands.add_parser(
        "download",
        parents=[connection],
        help="download a split: ids and inputs, and the labels of train and public splits",
    )
    download.add_argument("benchmark", help="benchmark slug")
    download.add_argument("task", help="task slug")
    download.add_argument("split", help="split name, e.g. train, dev, test")
    download.add_argument(
        "--format", choices=["csv", "jsonl", "parquet"], default="csv", help="file format (csv)"
    )
    download.add_argument(
        "-o", "--output", help="file to write (default: the name the platform suggests)"
    )
    download.set_defaults(func=cmd_download)

    submit = commands.add_parser("submit", parents=[connection], help="upload a prediction file")
    submit.add_argument("benchmark", help="benchmark slug")
    submit.add_argument(
        "file", nargs="?", help="prediction file (.csv, .jsonl, .parquet, .gz, or a .zip)"
    )
    submit.add_argument(
        "--model", metavar="REPO[@REVISION]", help="submit a Hub model instead, e.g. org/name@main"
    )
    submit.add_argument(
        "--model-archive", metavar="PATH", help="submit a model folder as a .zip or .tar.gz"
    )
    submit.add_argument("--task", help="task slug, for a single file on a multi-task benchmark")
    submit.add_argument("--name", help="name shown on the leaderboard")
    submit.add_argument("--description")
    submit.add_argument("--wait", action="store_true", help="wait until it is scored or failed")
    submit.add_argument("--interval", type=float, default=POLL_SECONDS, help=argparse.SUPPRESS)
    submit.set_defaults(func=cmd_submit)

    status = commands.add_parser("status", parents=[connection], help="show a submission")
    status.add_argument("id", type=int)
    status.set_defaults(func=cmd_status)

    cancel = commands.add_parser("cancel", parents=[connection], help="cancel a submission")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(func=cmd_cancel)

    board = commands.add_parser("leaderboard", parents=[connection], help="show a leaderboard")
    board.add_argument("benchmark", help="benchmark slug")
    board.add_argument("--task", help="task slug (default: the first task)")
    board.add_argument("--split", help="split name (default: the main scored split)")
    board.add_argument("--sort", help="metric to rank by (default: the primary metric)")
    board.add_argument("--page", type=int, help="page of 50 rows")
    board.set_defaults(func=cmd_leaderboard)
    return parser


def main(argv: list[str] | None = None, *, opener=None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    client = Client(getattr(args, "url", None), getattr(args, "token", None), opener=opener)
    try:
        return args.func(client, args, out)
    except ApiError as exc:
        for message in exc.messages:
            print(f"error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
