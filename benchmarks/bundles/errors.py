from __future__ import annotations


class BundleError(Exception):
    """A bundle that cannot be imported. `messages` holds every problem found, each naming the
    key path (or file) it is about and what was expected."""

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))
