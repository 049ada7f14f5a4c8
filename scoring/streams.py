"""Decompressing files that come from anyone within a memory bound: prediction uploads and
benchmark bundles both inflate gzip data and read zip archives with these."""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from collections.abc import Iterable

# What opening a damaged zip or unpacking a damaged entry may raise (zipfile surfaces the
# errors of every layer below it, e.g. NotImplementedError("zip file version 6.4")).
ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    struct.error,
)

# A megabyte of input can inflate to a gigabyte: output is taken in pieces of this size.
PIECE_BYTES = 1 << 20


class GzipTooLarge(ValueError):
    """The data inflates to more than the cap (it was stopped there)."""


class GzipInvalid(ValueError):
    """Not gzip data."""


class GzipTruncated(ValueError):
    """Gzip data cut short."""


def gunzip_bounded(chunks: Iterable[bytes | memoryview], max_bytes: int) -> bytearray:
    """Inflate gzip data a piece at a time, stopping as soon as the output passes `max_bytes`:
    a bomb costs the cap, not what it expands to. Concatenated members are one stream, and zero
    bytes after a member are padding (as Python's gzip module reads them). Empty input gives
    empty output."""
    out = bytearray()
    decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    started = False
    try:
        for chunk in chunks:
            data = bytes(chunk)
            while data:
                if decoder.eof:
                    data = data.lstrip(b"\0")
                    if not data:
                        break
                    decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
                started = True
                out += decoder.decompress(data, PIECE_BYTES)
                if len(out) > max_bytes:
                    raise GzipTooLarge(max_bytes)
                data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
    except zlib.error:
        raise GzipInvalid() from None
    if started and not decoder.eof:
        raise GzipTruncated()
    return out
