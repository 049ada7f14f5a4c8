"""`bench`: log in, list benchmarks, download splits, submit prediction files or models, follow
them and read breakdowns and leaderboards from a terminal.

    bench login [--token TOKEN]
    bench benchmarks
    bench download BENCHMARK [TASK [SPLIT]] [--task T] [--split S] [--out DIR | -o FILE]
    bench submit BENCHMARK (FILE | --model REPO[@REV] | --model-archive PATH) [--phase P] [--wait]
    bench status ID [--wait | --no-wait]
    bench breakdown ID [--task T] [--split S]
    bench cancel ID
    bench leaderboard BENCHMARK [--task T] [--split S] [--sort METRIC] [--page N]

The address: --url, else BENCH_URL, else the config file `bench login` writes, else
http://127.0.0.1:8000. The token: --token, else BENCH_TOKEN, else the config file.
Errors print the platform's messages and exit with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from benchclient import __version__, commands, config
from benchclient.api import TOKENS_PAGE, ApiError, Client
from benchclient.progress import POLL_SECONDS


def build_parser() -> argparse.ArgumentParser:
    epilog = (
        "The platform's address comes from --url, else BENCH_URL, else the config file that "
        f"`bench login` writes ({config.config_path()}), else {config.DEFAULT_URL}. The API "
        "token comes from --token, else BENCH_TOKEN, else the config file. Tokens are created "
        f"on the site's API tokens page, {TOKENS_PAGE}."
    )
    # --url/--token work before or after the command; SUPPRESS keeps a command's parser from
    # overwriting a value given before it.
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"platform URL (else BENCH_URL, the config file, {config.DEFAULT_URL})",
    )
    connection.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help=f"API token (else BENCH_TOKEN, the config file); create one on {TOKENS_PAGE}",
    )

    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmark platform client.",
        epilog=epilog,
        parents=[connection],
    )
    parser.add_argument("--version", action="version", version=f"benchclient {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, summary: str, **kwargs) -> argparse.ArgumentParser:
        sub = subcommands.add_parser(
            name, parents=[connection], help=summary, description=summary, **kwargs
        )
        sub.set_defaults(func=func)
        return sub

    command(
        "login",
        commands.cmd_login,
        "check an API token and save it for this platform address",
        epilog=f"Create a token on the site's API tokens page ({TOKENS_PAGE}); without "
        "--token, bench asks for it (or reads it from stdin). The token is saved in "
        f"{config.config_path()}, readable by you only.",
    )
    command("logout", commands.cmd_logout, "remove the saved token of this platform address")
    command("benchmarks", commands.cmd_benchmarks, "list the benchmarks you can see")

    download = command(
        "download",
        commands.cmd_download,
        "download splits: ids and inputs, and the labels of train and public splits",
        epilog="Without a task or split, every downloadable split of every task is written.",
    )
    download.add_argument("benchmark", help="benchmark slug")
    download.add_argument("task", nargs="?", help="task slug (as --task)")
    download.add_argument("split", nargs="?", help="split name (as --split)")
    download.add_argument("--task", dest="task_option", metavar="TASK", help="only this task")
    download.add_argument(
        "--split", dest="split_option", metavar="NAME", help="only this split, e.g. train, test"
    )
    download.add_argument(
        "--format", choices=["csv", "jsonl", "parquet"], default="csv", help="file format (csv)"
    )
    where = download.add_mutually_exclusive_group()
    where.add_argument(
        "--out", metavar="DIR", help="folder to write into, under the names the platform gives"
    )
    where.add_argument("-o", "--output", metavar="FILE", help="file to write (one split only)")

    submit = command("submit", commands.cmd_submit, "upload a prediction file, or submit a model")
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
    submit.add_argument("--phase", help="phase slug (default: the open phase)")
    submit.add_argument("--description")
    submit.add_argument(
        "--wait", action="store_true", help="follow it until it is scored, failed or cancelled"
    )
    submit.add_argument("--interval", type=float, default=POLL_SECONDS, help=argparse.SUPPRESS)

    status = command(
        "status",
        commands.cmd_status,
        "show a submission, following its progress until it is scored, failed or cancelled",
        epilog="Progress goes to stderr: a bar on a terminal, a line per change otherwise. "
        "Without --wait or --no-wait, bench waits when stderr is a terminal and prints once "
        "otherwise. After waiting, the exit status is 0 when scored and 1 when failed or "
        "cancelled.",
    )
    status.add_argument("id", type=int)
    wait = status.add_mutually_exclusive_group()
    wait.add_argument("--wait", action="store_true", default=None, help="wait for a final state")
    wait.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        default=None,
        help="print where it stands now, once",
    )
    status.add_argument("--interval", type=float, default=POLL_SECONDS, help=argparse.SUPPRESS)

    breakdown = command("breakdown", commands.cmd_breakdown, "show a submission's scores per slice")
    breakdown.add_argument("id", type=int)
    breakdown.add_argument("--task", help="task slug (default: its first evaluation's)")
    breakdown.add_argument("--split", help="split name (default: its first evaluation's)")

    cancel = command("cancel", commands.cmd_cancel, "cancel a queued or running submission")
    cancel.add_argument("id", type=int)

    board = command("leaderboard", commands.cmd_leaderboard, "show a leaderboard")
    board.add_argument("benchmark", help="benchmark slug")
    board.add_argument("--task", help="task slug (default: the first task)")
    board.add_argument("--split", help="split name (default: the main scored split)")
    board.add_argument("--sort", help="metric to rank by (default: the primary metric)")
    board.add_argument("--page", type=int, help="page of 50 rows")
    return parser


def report(exc: ApiError, client: Client | None, token_source: str | None) -> None:
    messages = list(exc.messages)
    if exc.status == 401 and client is not None:
        where = f"the token from {token_source}" if token_source else "no token"
        messages[-1] += (
            f" ({where} was refused; `bench login` saves a new one from {client.tokens_page})"
        )
    for message in messages:
        print(f"error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None, *, opener=None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    client, source = None, None
    try:
        settings = config.resolve(getattr(args, "url", None), getattr(args, "token", None))
        client, source = Client(settings.url, settings.token, opener=opener), settings.token_source
        return args.func(client, args, out)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        report(exc, client, source)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`bench leaderboard x | head`): stop quietly, and keep Python
        # from complaining when it flushes stdout at exit.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
