from __future__ import annotations

# Reported problems: a hostile bundle can have a million, or quote a key a megabyte long; the
# first ones, cut short, say what is wrong.
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 1000


class BundleError(Exception):
    """A bundle that cannot be imported. `messages` holds every problem found (the first
    MAX_MESSAGES, then how many more), each naming the key path (or file) it is about and what
    was expected."""

    def __init__(self, messages: list[str] | str):
        messages = [messages] if isinstance(messages, str) else list(messages)
        if len(messages) > MAX_MESSAGES:
            more = len(messages) - MAX_MESSAGES
            messages = [*messages[:MAX_MESSAGES], f"... and {more:,} more problems"]
        self.messages = [
            m if len(m) <= MAX_MESSAGE_CHARS else m[: MAX_MESSAGE_CHARS - 3] + "..."
            for m in messages
        ]
        super().__init__("\n".join(self.messages))
