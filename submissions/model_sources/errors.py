"""Why a model submission is refused (ModelSourceError; HubUnreachable when the Hub is at
fault), and how the participant's own names are quoted in those messages."""

from __future__ import annotations

from collections.abc import Iterable

# Messages -------------------------------------------------------------------------------------

MAX_MESSAGES = 20
SHOWN_NAME_CHARS = 100
SHOWN_NAMES = 5


class ModelSourceError(Exception):
    """A model submission that cannot be taken in. `messages` says every problem found (the
    first MAX_MESSAGES), each one something a person can act on, quoting no server path."""

    def __init__(self, messages: list[str]):
        messages = list(messages)
        if len(messages) > MAX_MESSAGES:
            more = len(messages) - MAX_MESSAGES
            messages = [*messages[:MAX_MESSAGES], f"... and {more:,} more problems."]
        self.messages = messages
        super().__init__("; ".join(messages))


class HubUnreachable(ModelSourceError):
    """The Hub could not be reached (no network, the Hub down or rate-limiting): nothing is
    known to be wrong with the submission, and trying again later may work."""


def _shown(name: str) -> str:
    name = "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in name)
    return name if len(name) <= SHOWN_NAME_CHARS else name[: SHOWN_NAME_CHARS - 1] + "…"


def _listed(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(_shown(n) for n in names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES:,} more" if len(names) > SHOWN_NAMES else "")
