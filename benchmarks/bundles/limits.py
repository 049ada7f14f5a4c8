"""What a bundle may hold (docs/formats.md, "Benchmark bundles"): the caps that keep a hostile
bundle (an author's upload, or a stolen author account's) from exhausting the process that
imports it. Sizes are checked from metadata before anything is decoded where the format has it,
and counted while decoding otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

MB = 1 << 20
# benchmark.yaml: a few kilobytes for real bundles (a thousand label names is 30 KB).
MAX_SPEC_BYTES = 1 * MB
# Values of benchmark.yaml once its aliases (*name) are expanded: an alias counts as every value
# of the node it repeats, so that nine aliases of nine aliases (a "billion laughs") cannot stand
# for a billion values that the checks, the database and every export would walk.
MAX_SPEC_VALUES = 100_000
# Nesting of benchmark.yaml and of the values of a data file. Real specs nest six levels and
# real data (lists of tags, SQuAD answers) three; the parsers and checks recurse per level.
MAX_DEPTH = 32
# A CSV header names the columns on its first line.
MAX_CSV_HEADER_BYTES = 64 << 10
# A JSON line holds one row (a long document at most); checking it builds its values in Python
# (and a line may take at most a 32nd of the decoded-size cap).
MAX_JSON_LINE_BYTES = 8 * MB
# The Parquet footer has an entry per row group and column: kilobytes for real files, a few
# megabytes for Hub exports written in groups of a hundred rows.
MAX_PARQUET_FOOTER_BYTES = 8 * MB
# Nested fields (of JSON objects, Parquet structs), per top-level column allowed.
NESTED_FIELDS_PER_COLUMN = 10


@dataclass(frozen=True)
class BundleLimits:
    """`max_decoded_bytes` caps a bundle's data decoded: the sum of a zip's entries as unpacked,
    and, separately, the sum of its data files as read (after gzip; Parquet as its columns
    decode; images; Hub splits as Arrow); `max_rows` and `max_columns` one split;
    `max_files` the entries of a zip."""

    max_decoded_bytes: int = 500 * MB
    max_rows: int = 1_000_000
    max_columns: int = 50
    max_files: int = 10_000


def bundle_limits() -> BundleLimits:
    """The limits the settings give (config/settings.py)."""
    return BundleLimits(
        max_decoded_bytes=settings.MAX_BUNDLE_DECODED_MB * MB,
        max_rows=settings.MAX_SPLIT_ROWS,
        max_columns=settings.MAX_SPLIT_COLUMNS,
        max_files=settings.MAX_BUNDLE_FILES,
    )


class DecodedBudget:
    """What is left of `max_decoded_bytes` as a bundle's data files are read one after
    another."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def take(self, n: int) -> None:
        self.used += n

    def room(self) -> str:
        whole = f"{megabytes(self.limit)} a bundle's data may hold in all (MAX_BUNDLE_DECODED_MB)"
        return f"the {megabytes(self.left)} left of the {whole}" if self.used else f"the {whole}"

    def exceeded(self) -> str:
        """Why a file that does not fit in what is left is refused."""
        return f"decodes to more than {self.room()}"


def megabytes(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= 10 * MB else f"{n / MB:.1f} MB"
