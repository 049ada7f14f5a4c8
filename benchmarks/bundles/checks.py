"""The generic part of spec validation: typed getters that record an error (with its key path)
instead of raising, so that one pass reports every problem."""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import re
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.bundles.yamltext import SPEC_FILENAME

MAX_KEY_CHARS = 60

# The spec's vocabulary that more than one part of it checks (spec.py, phases.py).
SLUG_RE = re.compile(r"^[a-z0-9-]+$")
KINDS = ("predictions", "model")
SCORED_ROLES = ("public", "hidden")


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = str(key)
    if len(key) > MAX_KEY_CHARS:  # a key is quoted in messages: it may be a megabyte long
        key = key[: MAX_KEY_CHARS - 3] + "..."
    return f"{path}.{key}" if path else key


def listing(values: list, limit: int = 20) -> str:
    """Names for a message, the first `limit` of them: a hostile spec may list a hundred
    thousand, and a message per entry that lists them all would be quadratic."""
    shown = ", ".join(str(v) for v in values[:limit])
    return f"{shown}, ... ({len(values):,} in all)" if len(values) > limit else shown


def repeated(values: list) -> list:
    """The values that occur more than once (hashable ones), sorted."""
    counts = Counter(v for v in values if isinstance(v, str))
    return sorted(v for v, n in counts.items() if n > 1)


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Checker:
    def __init__(self, root: Path | None):
        self.root = root.resolve() if root else None
        self.errors: list[str] = []
        self.task_paths: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    # -- generic shapes ---------------------------------------------------------------------

    def mapping(
        self, value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict | None:
        if not isinstance(value, dict):
            self.error(
                path or SPEC_FILENAME,
                f"expected a mapping with keys {', '.join(allowed)}, got {show(value)}",
            )
            return None
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ""
                self.error(
                    join(path, str(key)),
                    f"unknown key; {suggestion}expected one of {', '.join(allowed)}",
                )
        for key in required:
            if key not in value:
                self.error(join(path, key), "required key is missing")
        return value

    def string(
        self, value: Any, path: str, *, default: str | None = None, max_length: int | None = None
    ) -> str | None:
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or not value.strip() and default is None:
            self.error(path, f"expected a non-empty string, got {show(value)}")
            return None
        if max_length and len(value) > max_length:
            self.error(path, f"expected at most {max_length} characters, got {len(value)}")
            return None
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...], default: str) -> str:
        if value is None:
            return default
        if value not in choices:
            self.error(path, f"expected one of {', '.join(choices)}, got {show(value)}")
            return default
        return value

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, f"expected true or false, got {show(value)}")
            return default
        return value

    def count(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.error(path, f"expected a whole number ≥ 0 or null, got {show(value)}")
            return None
        return value

    def datetime(self, value: Any, path: str) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time(0, 0))
        if not isinstance(value, dt.datetime):
            self.error(
                path,
                f"expected an ISO 8601 date-time such as 2026-01-01T00:00:00Z, got {show(value)}",
            )
            return None
        # Naive times are read as UTC, the platform's only time zone for rules.
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    def names(self, value: Any, path: str, *, allow_single: bool = True) -> list[str] | None:
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.error(path, f"expected a list of column names, got {show(value)}")
            return None
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.error(join(path, i), f"expected a column name (string), got {show(item)}")
                ok = False
        duplicates = repeated(value)
        if duplicates:
            self.error(path, f"names listed twice: {listing(duplicates)}")
            ok = False
        return list(value) if ok else None

    # -- benchmark ----------------------------------------------------------------------------
