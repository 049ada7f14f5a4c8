"""API keys: made here, shown to their owner once, stored only as a SHA-256 digest and a short
visible prefix (docs/accounts.md, "API tokens").

A key is random (256 bits), so a plain digest is enough: nothing to guess from it, and a lookup
by digest is one indexed query. The `bpt_` marker tells these keys from the older 40-character
keys of DRF's `authtoken`, which another authentication class still accepts, and lets secret
scanners recognise a leaked one."""

from __future__ import annotations

import hashlib
import secrets

MARKER = "bpt_"
# What the token list shows of a key: the marker and 8 random characters (48 of its bits).
PREFIX_LENGTH = len(MARKER) + 8


def key_new() -> str:
    return MARKER + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def is_platform_key(key: str) -> bool:
    """Whether `key` is one of these keys (else, perhaps, a DRF authtoken key)."""
    return key.startswith(MARKER)
