"""Crossed cells: the partitions of a split's slices combined into one code per row, so that a
scorer can count every slice's cells in a single pass over the rows and read each slice off by
summing the crossed counts over the other slices (classification: one `bincount` over
(crossed cell, gold, predicted) gives every slice's per-cell confusion matrices).

A crossing depends on the gold rows and the slice definitions only: it is built once per split
and kept beside its partitions (`scoring.evaluation.gold_crossings`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# At most this many crossed cells per crossing: partitions that would take it past go into
# another crossing (another pass over the rows), so that the counts stay a small array.
CROSSED_CELLS = 4096


@dataclass
class Crossing:
    """Partitions crossed: `codes` (read-only, 16-bit) is Σ code_i × stride_i over the members,
    row-major over `shape` (each member's number of cells); `members` are the members' own
    code arrays (by identity: a scorer finds a slice's counts by its codes)."""

    members: list[np.ndarray]
    shape: tuple[int, ...]
    codes: np.ndarray
    _scaled: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def scaled(self, factor: int) -> np.ndarray:
        """`codes * factor`, kept (a scorer adds its per-row code in [0, factor) to it)."""
        if factor not in self._scaled:
            scaled = self.codes.astype(np.int64)
            scaled *= factor
            scaled.flags.writeable = False
            self._scaled[factor] = scaled
        return self._scaled[factor]

    def marginals(self, counts: np.ndarray) -> list[np.ndarray]:
        """Each member's counts from the crossed ones: `counts` is (size, ...) per crossed cell;
        member i's is (shape[i], ...), the sum over the other members' axes."""
        rest = counts.shape[1:]
        full = counts.reshape(*self.shape, *rest)
        axes = range(len(self.shape))
        return [full.sum(axis=tuple(a for a in axes if a != i)) for i in axes]


def crossings(partitions: list[tuple[np.ndarray, int]]) -> list[Crossing]:
    """The (codes, number of cells) partitions crossed, in order, a new crossing whenever the
    crossed cells would exceed CROSSED_CELLS. Partitions whose codes are not all in
    [0, cells), or of one cell or more than CROSSED_CELLS, are left out (counted on their own)."""
    out: list[Crossing] = []
    members: list[np.ndarray] = []
    shape: list[int] = []
    n = None
    for codes, n_cells in partitions:
        if n_cells < 2 or n_cells > CROSSED_CELLS or codes.ndim != 1:
            continue
        if n is None:
            n = len(codes)
        if len(codes) != n or not len(codes):
            continue
        if codes.min() < 0 or codes.max() >= n_cells:
            continue
        if members and math.prod(shape) * n_cells > CROSSED_CELLS:
            out.append(_crossing(members, shape))
            members, shape = [], []
        members.append(codes)
        shape.append(n_cells)
    if members:
        out.append(_crossing(members, shape))
    return out


def _crossing(members: list[np.ndarray], shape: list[int]) -> Crossing:
    # In 16 bits (CROSSED_CELLS fits): a fraction of the memory traffic of 64-bit codes.
    dtype = np.uint16 if math.prod(shape) <= np.iinfo(np.uint16).max else np.int64
    codes = np.zeros(len(members[0]), dtype=dtype)
    for member, n_cells in zip(members, shape, strict=True):
        codes *= dtype(n_cells)
        codes += member if np.can_cast(member.dtype, dtype) else member.astype(dtype)
    codes.flags.writeable = False
    return Crossing(members=list(members), shape=tuple(shape), codes=codes)
