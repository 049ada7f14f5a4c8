"""What a failure's message may show of the run's stderr: its last lines, or the runner's own
`error: …` line, never quoting the model's inputs (`scrub_lines`)."""

from __future__ import annotations

import signal
from pathlib import Path

MESSAGE_LINES = 5
MESSAGE_LINE_CHARS = 200
QUOTE_CHARS = 16  # a message line quoting this many characters of the inputs is dropped
MAX_SCRUB_BYTES = 2 << 30  # of input text checked for quotes; beyond it, no line is shown

OUT_OF_MEMORY_MARKS = (
    b"MemoryError",
    b"std::bad_alloc",
    b"Cannot allocate memory",
    b"can't allocate memory",
    b"failed to map segment from shared object",
)


def _text_buffers(inputs_path: Path, max_bytes: int):
    """The bytes of every text value of inputs.parquet (strings and lists of strings, not the
    id column), as uint8 arrays, at most `max_bytes` in all."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(inputs_path)
    left = max_bytes
    for group in range(parquet.num_row_groups):
        table = parquet.read_row_group(group)
        for name, column in zip(table.column_names, table.columns, strict=True):
            if name == "id":
                continue
            for chunk in column.chunks:
                while pa.types.is_list(chunk.type) or pa.types.is_large_list(chunk.type):
                    chunk = chunk.flatten()
                if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
                    continue
                if len(chunk) == 0:
                    continue
                kind = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
                offsets = np.frombuffer(chunk.buffers()[1], dtype=kind)
                offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
                data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
                data = data[offsets[0] : offsets[-1]][:left]
                left -= len(data)
                yield data
                if left <= 0:
                    return


def scrub_lines(lines: list[str], inputs_path: str | Path, width: int = QUOTE_CHARS) -> list[str]:
    """The lines that quote no run of `width` (8 to 16) characters of the text inputs of
    `inputs_path` (bytes, in UTF-8: a run of 16 characters is at least 16 bytes). Any such
    copied window holds one of the 8-byte words at the inputs' multiples of 8: those words are
    looked up (an 8 MB table by their low bits, then exactly) among every 8-byte piece of the
    lines, and each hit is compared in full. About half a second per 100 MB of text; used on
    failures only. More text than MAX_SCRUB_BYTES, or inputs that cannot be read: no line is
    kept."""
    import numpy as np

    encoded = [line.encode("utf-8", "replace") for line in lines]
    pieces: dict[int, list[tuple[int, int]]] = {}
    for index, data in enumerate(encoded):
        if len(data) >= width:
            for offset in range(len(data) - 7):
                key = int.from_bytes(data[offset : offset + 8], "little")
                pieces.setdefault(key, []).append((index, offset))
    if not pieces:
        return list(lines)
    keys = np.array(sorted(pieces), dtype=np.uint64)
    mask = np.uint64((1 << 23) - 1)
    table = np.zeros(1 << 23, dtype=bool)
    table[(keys & mask).astype(np.intp)] = True
    leaking: set[int] = set()
    checked = 0
    try:
        for data in _text_buffers(Path(inputs_path), MAX_SCRUB_BYTES + 1):
            checked += len(data)
            words = np.empty(len(data) // 8, dtype="<u8")  # aligned: unaligned views are slow
            words.view(np.uint8)[:] = data[: len(words) * 8]
            hits = np.flatnonzero(table[(words & mask).astype(np.intp)])
            hits = hits[np.isin(words[hits], keys)]
            for hit in hits.tolist():
                at = hit * 8
                for index, offset in pieces[int(words[hit])]:
                    if index not in leaking and _quoted(encoded[index], offset, data, at, width):
                        leaking.add(index)
                if len(leaking) == len(lines):
                    return []
    except Exception:  # noqa: BLE001 - unreadable inputs: show nothing that could quote them
        return []
    if checked > MAX_SCRUB_BYTES:
        return []  # too much text to check in bounded time: show nothing
    return [line for i, line in enumerate(lines) if i not in leaking]


def _quoted(line: bytes, offset: int, data, at: int, width: int) -> bool:
    """Whether a `width`-byte window of `line` holding its 8 bytes at `offset` is `data`'s
    around position `at` (where the same 8 bytes are)."""
    for shift in range(0, width - 7):
        start, position = offset - shift, at - shift
        if start < 0 or position < 0 or start + width > len(line) or position + width > len(data):
            continue
        if data[position : position + width].tobytes() == line[start : start + width]:
            return True
    return False


def _printable(line: str) -> str:
    return "".join(c if c.isprintable() else " " for c in line).strip()


def tail_lines(stderr: bytes, inputs_path: Path) -> list[str]:
    """The last MESSAGE_LINES lines of `stderr` worth showing, scrubbed of quoted inputs."""
    text = stderr.decode("utf-8", "replace")
    lines = [_printable(line)[:MESSAGE_LINE_CHARS] for line in text.splitlines()]
    lines = [line for line in lines if line.strip("^~ ")]  # not the traceback's markers
    return scrub_lines(lines[-MESSAGE_LINES:], inputs_path)


def runner_error(stderr: bytes, inputs_path: Path) -> str | None:
    """The runner's own `error: …` line (its last), scrubbed of quoted inputs."""
    text = stderr.decode("utf-8", "replace")
    for line in reversed(text.splitlines()):
        if line.startswith("error: "):
            shown = _printable(line[len("error: ") :])[: MESSAGE_LINE_CHARS * 2]
            kept = scrub_lines([shown], inputs_path)
            return kept[0] if kept else "(its message quotes the inputs and is not shown)"
    return None


def out_of_memory(stderr: bytes) -> bool:
    """Whether the run's last error output tells of a failed allocation (under RLIMIT_AS,
    loading a library or starting a thread fails that way too)."""
    return any(mark in stderr[-4096:] for mark in OUT_OF_MEMORY_MARKS)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
