"""Following a submission until it is scored, failed or cancelled, with its progress on stderr:
a bar redrawn in place on a terminal, a plain line per change otherwise (logs, CI, pipes)."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from benchclient.api import FINAL_STATES, ApiError, Client

POLL_SECONDS = 3.0
BAR_WIDTH = 24
STAGES = {"run": "running the model", "score": "scoring"}
# Answers worth asking again while following a submission: rate limited, or a server that is
# restarting or overloaded (status None: no answer at all).
RETRIED_STATUSES = frozenset({None, 429, 502, 503, 504})
MAX_RETRIES = 5
MAX_BACKOFF_SECONDS = 60.0


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressDisplay:
    """Shows where a submission stands on `stream`. `live`: redraw one line in place (the
    default on a terminal); otherwise print a line whenever status, stage or percent change."""

    def __init__(self, stream: TextIO, *, live: bool | None = None):
        self.stream = stream
        self.live = is_terminal(stream) if live is None else live
        self.started = time.monotonic()
        self.last = None
        self.drawn = False

    @staticmethod
    def state(detail: dict) -> tuple[str, str | None, int]:
        stage = detail.get("stage") if detail.get("kind") == "model" else None
        return detail["status"], stage, round((detail.get("progress") or 0) * 100)

    def update(self, detail: dict) -> None:
        state = self.state(detail)
        if self.live:
            self.draw(detail, state)
        elif state != self.last:
            status, stage, percent = state
            where = f", {STAGES.get(stage, stage)}" if stage and status != "scored" else ""
            print(f"#{detail['id']}: {status}{where} ({percent}%)", file=self.stream, flush=True)
        self.last = state

    def draw(self, detail: dict, state: tuple[str, str | None, int]) -> None:
        status, stage, percent = state
        filled = round(BAR_WIDTH * percent / 100)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        words = STAGES.get(stage, stage) if stage and status == "running" else status
        if detail.get("rows_total") and status == "running":
            words += f"  {detail.get('rows_done') or 0:,}/{detail['rows_total']:,} rows"
        elapsed = int(time.monotonic() - self.started)
        clock = f"{elapsed // 60}:{elapsed % 60:02d}"
        line = f"#{detail['id']} [{bar}] {percent:3d}%  {words}  {clock}"
        # Never wider than the terminal: a wrapped line cannot be redrawn in place.
        line = line[: max(20, shutil.get_terminal_size().columns - 1)]
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        """End the redrawn line, so what follows starts on a line of its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def wait_for(
    client: Client, submission_id: int, display: ProgressDisplay, interval: float = POLL_SECONDS
) -> dict:
    """The submission's detail once it is in a final state. Once it has been read, a rate limit
    or a server that is briefly away is waited out (up to MAX_RETRIES times in a row) instead of
    ending the wait."""
    retries = 0
    seen = False
    try:
        while True:
            try:
                detail = client.submission(submission_id)
            except ApiError as exc:
                if not seen or exc.status not in RETRIED_STATUSES or retries >= MAX_RETRIES:
                    raise
                retries += 1
                backoff = min(MAX_BACKOFF_SECONDS, interval * 2**retries)
                time.sleep(exc.retry_after if exc.retry_after is not None else backoff)
                continue
            seen, retries = True, 0
            display.update(detail)
            if detail["status"] in FINAL_STATES:
                return detail
            time.sleep(interval)
    finally:
        display.finish()
