"""Which slice cells of a hidden split may be published (docs/formats.md, "Breakdowns and
leakage rules"): no sum over fewer than `min_size` rows may follow from the published cells and
the whole split. Decided from the split's rows and the slice specs, never from predictions."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.linalg

from scoring.slices.cells import slice_cells


@dataclass(frozen=True)
class Publication:
    """What of a hidden split's slices may be shown (docs/formats.md): every nonempty cell's
    row count per slice, and the cells that may be published. It depends on the split's rows and
    the slice specs only, never on labels or predictions, so one is computed per split and
    applies to every evaluation of it."""

    sizes: dict[str, dict[str, int]]
    shown: frozenset[tuple[str, str]]


def hidden_publication(specs: Sequence[dict], gold: pa.Table, min_size: int) -> Publication:
    """The cells of `specs` that a hidden split may publish (see `publishable`). A spec whose
    cells cannot be computed, or whose name is used twice, publishes nothing.

    Row partitions (author and automatic slices, in the order given) are checked together.
    A spec with `unit: entities` partitions the split's gold entities instead: it is checked on
    its own, by the same rule over entities (types under `min_size` entities suppressed, then
    the smallest others until the suppressed ones hold `min_size` together, else all).
    Predicted-label cells depend on predictions: they have no spec and are never published."""
    names = [spec.get("name") for spec in specs]
    computed, entity_specs = [], []
    for spec, name in zip(specs, names, strict=True):
        if not isinstance(name, str) or names.count(name) != 1:
            continue
        try:
            codes, cell_names = slice_cells(spec, gold)
        except (KeyError, IndexError, TypeError, ValueError, re.error, pa.ArrowException):
            continue
        if spec.get("unit") == "entities":
            entity_specs.append((name, codes, cell_names))
        else:
            computed.append((name, codes, cell_names))
    flags = publishable([codes for _, codes, _ in computed], min_size)
    flags += [publishable([codes], min_size)[0] for _, codes, _ in entity_specs]
    sizes, shown = {}, set()
    for (name, codes, cell_names), allowed in zip(computed + entity_specs, flags, strict=True):
        counts = np.bincount(codes, minlength=len(cell_names))
        sizes[name] = {cell: int(counts[i]) for i, cell in enumerate(cell_names) if counts[i]}
        shown |= {(name, cell_names[i]) for i in np.flatnonzero(allowed[: len(cell_names)])}
    return Publication(sizes=sizes, shown=frozenset(shown))


def publishable(partitions: Sequence[np.ndarray], min_size: int) -> list[np.ndarray]:
    """Which cells of several slices of one split may be published, so that no sum over fewer
    than `min_size` rows follows from the published cells and the whole split by adding and
    subtracting (docs/formats.md, "Breakdowns and leakage rules").

    `partitions` holds one array of per-row cell codes per slice, over the same rows. Returns,
    per slice, a bool per cell code (`bincount` length): True where the cell may be shown.

    Slices are added in their order, each to what the slices before it publish: its cells under
    `min_size` rows are suppressed; then, while `_isolable_atoms` cannot rule out a small
    combination, one more of its cells that holds a row it blames (or, when the slice's
    suppressed rest holds that row, its smallest published cell, which enlarges the rest): the
    smallest whose suppression settles the matter, else the smallest. Last, its cells
    suppressed on the way that later suppressions made unnecessary are shown again, largest
    first. So a slice gives way to those before it, and the outcome depends on the partitions
    and their order alone."""
    sizes = [np.bincount(codes) if len(codes) else np.zeros(0, np.int64) for codes in partitions]
    if min_size <= 1:
        return [counts > 0 for counts in sizes]
    shown = [np.zeros(len(counts), dtype=bool) for counts in sizes]
    if not partitions or not len(partitions[0]):
        return shown
    fine = _atoms(np.stack(partitions, axis=1))
    for current, counts in enumerate(sizes):
        shown[current] = counts >= min_size
        withdrawn = []
        while candidates := _candidates(fine, shown, sizes, min_size, current):
            choice = candidates[0]
            for candidate in candidates:
                shown[current][candidate[1]] = False
                settled = not _candidates(fine, shown, sizes, min_size, current)
                shown[current][candidate[1]] = True
                if settled:
                    choice = candidate
                    break
            shown[current][choice[1]] = False
            withdrawn.append(choice)
        for _, cell in sorted(withdrawn, reverse=True):
            shown[current][cell] = True
            if _candidates(fine, shown, sizes, min_size, current):
                shown[current][cell] = False
    return shown


def _candidates(
    fine: tuple[np.ndarray, np.ndarray],
    shown: list[np.ndarray],
    sizes: list[np.ndarray],
    min_size: int,
    current: int,
) -> list[tuple[int, int]]:
    """(size, cell) of the published cells of slice `current` whose suppression may help
    against the atoms `_isolable_atoms` blames, smallest first; empty when it blames none."""
    fine_codes, fine_sizes = fine
    blocks = np.stack(
        [
            np.where(allowed[column], column, len(allowed))
            for allowed, column in zip(shown, fine_codes.T, strict=True)
        ],
        axis=1,
    )
    atoms, atom_sizes = _atoms(blocks, fine_sizes)
    # Blocks numbered densely per slice, so that a withheld slice counts as one block.
    dense = np.stack([_renumbered(column) for column in atoms.T], axis=1)
    widths = [int(column.max()) + 1 for column in dense.T]
    blamed = _isolable_atoms(dense, atom_sizes, widths, min_size)
    if not len(blamed):
        return []
    allowed = shown[current]
    cells = set(atoms[blamed, current][atoms[blamed, current] < len(allowed)].tolist())
    if (atoms[blamed, current] == len(allowed)).any() and allowed.any():
        # A blamed row in the suppressed rest: the smallest published cell enlarges the rest.
        cells.add(min(np.flatnonzero(allowed), key=lambda c: (sizes[current][c], c)))
    return sorted((int(sizes[current][c]), int(c)) for c in cells)


def _atoms(codes: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a (rows x slices) code matrix and how many rows (or how much weight)
    each stands for."""
    widths = [int(column.max()) + 1 for column in codes.T]
    if math.prod(widths) <= _DIRECT_KEYS:
        key = np.ravel_multi_index(tuple(codes.T), widths)
        counts = np.bincount(key, weights=weights, minlength=math.prod(widths))
        present = np.flatnonzero(counts)
        return np.stack(np.unravel_index(present, widths), axis=1), counts[present].astype(np.int64)
    key = np.zeros(len(codes), dtype=np.int64)
    span = 1
    for column, width in zip(codes.T, widths, strict=True):
        if span * width > _KEY_LIMIT:
            # Renumbered densely (in the same order) only when the mixed-radix key could overflow.
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1)
            span = int(key.max()) + 1
        key = key * width + column
        span *= width
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    counts = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(first))
    return codes[first], counts.astype(np.int64)


_DIRECT_KEYS = 1 << 22
_KEY_LIMIT = 1 << 62


def _renumbered(column: np.ndarray) -> np.ndarray:
    """Nonnegative codes renumbered 0, 1, ... in their order, without gaps."""
    present = np.bincount(column) > 0
    return (np.cumsum(present) - 1)[column]


def _isolable_atoms(
    atoms: np.ndarray, sizes: np.ndarray, widths: list[int], min_size: int
) -> np.ndarray:
    """Indices of atoms that some combination of published sums over fewer than `min_size`
    rows may reach; empty when no such combination exists.

    An atom is a set of rows that lie in the same block of every slice (a block: a published
    cell, or a slice's suppressed cells together, known as the whole split minus its published
    cells). Row `a` of the incidence of atoms in blocks is `r_a`; a combination of published
    sums with block coefficients `x` gives every row of atom `a` the weight `r_a . x`. Weights
    that vanish on every row except fewer than `min_size` exist exactly when removing fewer than
    `min_size` rows lowers the rank of the incidence. Large atoms (`min_size` rows or more)
    cannot be removed so cheaply, so they are contracted: only the small atoms outside their
    span, the exposed ones, are left, as elements of the quotient by it. No removal of fewer
    than `min_size` rows lowers the rank if `min_size` disjoint bases of that quotient can be
    made of exposed rows (the removal would have to hit every one); such a packing is searched
    for greedily, preferring the atoms with the most rows left, and if none is found the atoms
    whose rows ran out are blamed. (The search may miss a packing that exists: it errs on the
    side of suppressing.)

    The slice with the most blocks is kept apart: every atom has exactly one of its blocks, so
    eliminating them leaves linear algebra over the other slices' blocks only, which stays
    small when one slice has hundreds of cells."""
    small = sizes < min_size
    if not small.any():
        return np.zeros(0, dtype=np.int64)
    wide = int(np.argmax(widths))
    rest = [s for s in range(len(widths)) if s != wide]
    offsets = np.cumsum([0, *(widths[s] for s in rest)])
    vectors = np.zeros((len(atoms), int(offsets[-1])))
    for j, s in enumerate(rest):
        vectors[np.arange(len(atoms)), offsets[j] + atoms[:, s]] = 1.0
    group = atoms[:, wide]
    # Contracting a large atom identifies its wide block with minus its other blocks; any
    # further large atom of that block then ties other blocks together (the span `ties`).
    anchor = np.full(widths[wide], -1)
    large = np.flatnonzero(~small)
    anchor[group[large[::-1]]] = large[::-1]
    ties = _orthonormal_rows(vectors[large] - vectors[anchor[group[large]]])

    def reduced(rows: np.ndarray) -> np.ndarray:
        return rows - (rows @ ties) @ ties.T if ties.shape[1] else rows

    members = np.flatnonzero(small)
    free = anchor[group[members]] < 0  # wide block without a large atom: a basis element of its own
    tied = np.zeros((len(members), vectors.shape[1]))
    tied[~free] = reduced(vectors[members[~free]] - vectors[anchor[group[members[~free]]]])
    exposed = free | (np.abs(tied).max(axis=1, initial=0.0) > _TOLERANCE)
    if not exposed.any():
        return np.zeros(0, dtype=np.int64)
    members, free, tied = members[exposed], free[exposed], tied[exposed]
    blocks = group[members]
    # Within a free wide block, differences of atoms are what remains once the block's first
    # atom is a basis element; they span the same space whichever atom comes first.
    free_rows = np.flatnonzero(free)
    free_blocks, first = np.unique(blocks[free_rows], return_index=True)
    starts = free_rows[first][np.searchsorted(free_blocks, blocks[free_rows])]
    tied[free_rows] = reduced(vectors[members[free_rows]] - vectors[members[starts]])
    rank, span = _row_span(tied)
    # Every row is a difference of two atoms' incidence (less its part in `ties`, which is
    # orthogonal to `span`), so its coordinates in `span` are differences of theirs.
    coordinates = vectors @ span
    references = np.where(free, 0, anchor[group[members]])
    left = sizes[members].copy()
    lead_rows = np.zeros(len(members), dtype=np.int64)
    is_lead = np.zeros(len(members), dtype=bool)

    def differences(rows: np.ndarray) -> np.ndarray:
        # Rows of `tied`, but free atoms counted by their difference from their block's lead.
        out = tied[rows]
        on = free[rows]
        if on.any():
            rows = rows[on]
            out[on] = reduced(vectors[members[rows]] - vectors[members[lead_rows[rows]]])
        return out

    needed = min_size
    while needed > 0:
        order = np.argsort(-left, kind="stable")
        order = order[left[order] > 0]
        # The first atom of each free block in this order leads it; the rest count by their
        # difference from it.
        ordered_free = order[free[order]]
        lead_blocks, first = np.unique(blocks[ordered_free], return_index=True)
        if len(lead_blocks) < len(free_blocks):
            return _ran_out(members, left)
        leads = ordered_free[np.sort(first)]
        lead_rows[free_rows] = ordered_free[first][np.searchsorted(lead_blocks, blocks[free_rows])]
        is_lead[:] = False
        is_lead[leads] = True
        candidates = order[~is_lead[order]]
        references[free_rows] = members[lead_rows[free_rows]]

        def project(rows: np.ndarray) -> np.ndarray:
            return coordinates[members[rows]] - coordinates[references[rows]]

        chosen = _greedy_basis(differences, candidates, rank, (span, project))
        if chosen is None:
            return _ran_out(members, left)
        basis = np.concatenate([leads, chosen])
        outside = np.delete(left, basis)
        # Use this basis until its scarcest atom is no richer than the best atom outside it,
        # so that the packing stays balanced.
        uses = max(1, int(left[basis].min()) - int(outside.max(initial=0)))
        uses = min(uses, needed)
        left[basis] -= uses
        needed -= uses
    return np.zeros(0, dtype=np.int64)


_TOLERANCE = 1e-8


def _ran_out(members: np.ndarray, left: np.ndarray) -> np.ndarray:
    # Should rounding ever fail a basis with no atom used up, blame them all: never none.
    return members[left == 0] if (left == 0).any() else members


def _orthonormal_rows(rows: np.ndarray) -> np.ndarray:
    """An orthonormal basis (columns) of the span of `rows`."""
    if not len(rows) or not rows.shape[1]:
        return np.zeros((rows.shape[1], 0))
    _, singular, vt = np.linalg.svd(rows, full_matrices=False)
    return vt[singular > _TOLERANCE * max(1.0, singular.max(initial=0.0))].T


def _row_span(rows: np.ndarray) -> tuple[int, np.ndarray]:
    """The rank of `rows` (singular values over `_TOLERANCE`, as `np.linalg.matrix_rank`) and
    an orthonormal basis (columns) of their span.

    Many rows and few columns: the Gram matrix's eigenvectors split the columns' space into
    directions the rows clearly have and the rest, whose share of the rows is then measured
    exactly (singular values of the rows projected onto them), so that no direction the rows
    have beyond the tolerance is lost to the Gram matrix's rounding."""
    if not len(rows) or not rows.shape[1]:
        return 0, np.zeros((rows.shape[1], 0))
    if len(rows) <= 4 * rows.shape[1]:
        _, singular, vt = np.linalg.svd(rows, full_matrices=False)
        clear = singular > _TOLERANCE
        return int(clear.sum()), vt[clear].T
    values, vectors = np.linalg.eigh(rows.T @ rows)
    clear = values > _GRAM_CLEAR * max(values.max(initial=0.0), 1.0)
    rest = vectors[:, ~clear]
    basis = vectors[:, clear]
    if rest.shape[1]:
        # What the rows have in the rest is small next to the clear part, so its own Gram
        # matrix resolves it to well within the tolerance.
        projected = rows @ rest
        values, inner = np.linalg.eigh(projected.T @ projected)
        basis = np.hstack([basis, rest @ inner[:, values > _TOLERANCE**2]])
    return basis.shape[1], basis


_GRAM_CLEAR = 1e-9  # relative eigenvalue above which a direction is far beyond rounding


def _greedy_basis(vectors, order: np.ndarray, rank: int, span=None) -> np.ndarray | None:
    """`rank` independent rows of `vectors` taken in `order`, a block at a time (pivoted QR
    picks within a block), or None if those rows do not span that many dimensions.

    `vectors` is an array or a function giving the rows of given indices. With `span`, an
    orthonormal basis (columns) of a space holding all the rows and a function giving rows'
    coordinates in it, blocks whose rows all lie in the span of those taken so far are skipped
    without a QR: they would add none. The rows ahead are checked against what of `span` is
    left uncovered, a window at a time (doubling while nothing is found), so that a long walk
    over dependent rows costs few products."""
    rows = vectors if callable(vectors) else vectors.__getitem__
    basis: list[int] = []
    q = np.zeros((span[0].shape[0] if span is not None else vectors.shape[1], 0))
    uncovered = np.eye(span[0].shape[1]) if span is not None else None  # coordinates
    pending = np.zeros(0, dtype=np.int64)  # positions ahead whose rows may add (if stale: did)
    stale = False
    scanned, window = 0, _BLOCK
    start = 0
    while len(basis) < rank and start < len(order):
        if uncovered is not None:
            project = span[1]
            pending = pending[pending >= start]
            if stale and len(pending):
                pending = pending[_outside(project(order[pending]), uncovered)]
            stale = False
            while not len(pending) and scanned < len(order):
                low = max(scanned, start)
                high = min(len(order), low + window)
                ahead = np.arange(low, high)
                pending = ahead[_outside(project(order[ahead]), uncovered)]
                scanned = high
                window = _BLOCK if len(pending) else min(2 * window, _WINDOW)
            if not len(pending):
                break
            start += (int(pending[0]) - start) // _BLOCK * _BLOCK
        chosen = order[start : start + _BLOCK]
        block = rows(chosen).T
        residual = block - q @ (q.T @ block)
        r_q, r_r, pivots = scipy.linalg.qr(
            residual, mode="economic", pivoting=True, check_finite=False
        )
        found = min(int((np.abs(np.diag(r_r)) > _TOLERANCE).sum()), rank - len(basis))
        basis += chosen[pivots[:found]].tolist()
        if found:
            q = np.hstack([q, r_q[:, :found]])
            if uncovered is not None:
                uncovered = _uncovered(uncovered, span[0].T @ r_q[:, :found])
                stale = True
        start += _BLOCK
    return np.asarray(basis, dtype=np.int64) if len(basis) == rank else None


_BLOCK = 64
_WINDOW = 1 << 14


def _outside(coordinates: np.ndarray, uncovered: np.ndarray) -> np.ndarray:
    """Whether each row (its coordinates) has a part in the space `uncovered` (orthonormal
    columns) that a block's pivoted QR could count: far below `_TOLERANCE` is taken as none."""
    if not uncovered.shape[1]:
        return np.zeros(len(coordinates), dtype=bool)
    return np.linalg.norm(coordinates @ uncovered, axis=1) > _TOLERANCE / 16


def _uncovered(uncovered: np.ndarray, added: np.ndarray) -> np.ndarray:
    """An orthonormal basis (columns) of the part of span(`uncovered`) (orthonormal columns)
    orthogonal to the orthonormal columns `added`, which lie in it (near enough: the result
    only decides which rows are worth a QR)."""
    inside = uncovered.T @ added
    if inside.shape[1] >= inside.shape[0]:
        return uncovered[:, :0]
    basis, _ = np.linalg.qr(inside, mode="complete")
    return uncovered @ basis[:, inside.shape[1] :]


def suppress_hidden_cells(cells: list[dict], publication: Publication) -> list[dict]:
    """Stored cells of a hidden split's evaluation as they may be shown: a cell is published when
    `publication` allows it and its slice was scored with the cells it has now (every nonempty
    cell's row count as recomputed), so that cells of a slice since removed or changed are never
    shown. Cells by predicted label (`by_prediction`) have no spec, so they are never shown.
    Returns new dicts: suppressed cells get `n` and `metrics` None; every cell gets
    `suppressed`."""
    stored: dict[str, dict[str, int]] = {}
    clashes = set()
    for cell in cells:
        if cell.get("n"):
            sizes = stored.setdefault(cell["slice"], {})
            if cell["cell"] in sizes:
                clashes.add(cell["slice"])
            sizes[cell["cell"]] = cell["n"]
    current = {
        name
        for name, sizes in stored.items()
        if name not in clashes and publication.sizes.get(name) == sizes
    }
    out = []
    for cell in cells:
        key = (cell["slice"], cell["cell"])
        shown = cell["slice"] in current and key in publication.shown
        if cell.get("n") and shown and not cell.get("by_prediction"):
            out.append({**cell, "suppressed": False})
        else:
            out.append({**cell, "n": None, "metrics": None, "suppressed": True})
    return out
