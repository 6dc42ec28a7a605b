"""Counting membership patterns of fully blinded sets: Venn regions, pairs, the N-way overlap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from protocols.ristretto import POINT_BYTES

MAX_PARTIES = 16


class DuplicatePoints(ValueError):
    """A party's fully blinded set holds the same point twice (not a set: protocol violation)."""


@dataclass(frozen=True)
class RegionCounts:
    """Counts of fully blinded elements per exact membership pattern over `parties`."""

    parties: tuple[str, ...]
    sizes: dict[str, int]
    regions: dict[frozenset[str], int]

    def pairwise(self) -> dict[tuple[str, str], int]:
        """|A ∩ B| for every unordered pair (a, b) with a before b in `parties`."""
        return {
            (a, b): sum(n for members, n in self.regions.items() if {a, b} <= members)
            for a, b in combinations(self.parties, 2)
        }

    def intersection(self, subset: Sequence[str] | None = None) -> int:
        """Count of elements held by every party of `subset` (default: all parties)."""
        wanted = set(subset if subset is not None else self.parties)
        return sum(n for members, n in self.regions.items() if wanted <= members)


def _as_rows(points: bytes) -> np.ndarray:
    count = len(points) // POINT_BYTES
    return np.frombuffer(points, dtype=np.uint64).reshape(count, POINT_BYTES // 8)


def count_regions(sets: Mapping[str, bytes]) -> RegionCounts:
    """Count every exclusive membership region of the parties' fully blinded point sets.

    Memory: about 3 x 32 bytes per point (the concatenated rows, their sorted copy, and keys).
    """
    parties = tuple(sets)
    if not 2 <= len(parties) <= MAX_PARTIES:
        raise ValueError(f"an overlap needs 2 to {MAX_PARTIES} parties, got {len(parties)}")
    for party, points in sets.items():
        if len(points) % POINT_BYTES:
            raise ValueError(f"party {party!r}: point buffer is not a multiple of 32 bytes")
    sizes = {party: len(points) // POINT_BYTES for party, points in sets.items()}
    rows = np.concatenate([_as_rows(sets[p]) for p in parties]) if sum(sizes.values()) else None
    regions: dict[frozenset[str], int] = {
        frozenset(members): 0
        for r in range(1, len(parties) + 1)
        for members in combinations(parties, r)
    }
    if rows is None:
        return RegionCounts(parties, sizes, regions)
    bits = np.concatenate(
        [np.full(sizes[p], 1 << i, dtype=np.uint32) for i, p in enumerate(parties)]
    )
    order = np.lexsort(rows.T[::-1])
    rows, bits = rows[order], bits[order]
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    del rows
    group_starts = np.flatnonzero(starts)
    masks = np.bitwise_or.reduceat(bits, group_starts)
    members_per_group = np.add.reduceat(np.ones_like(bits), group_starts)
    popcounts = np.array([bin(m).count("1") for m in range(1 << len(parties))])
    if np.any(members_per_group != popcounts[masks]):
        bad = int(np.flatnonzero(members_per_group != popcounts[masks])[0])
        mask = int(masks[bad])
        culprits = [p for i, p in enumerate(parties) if mask >> i & 1]
        raise DuplicatePoints(
            f"a fully blinded point appears more than once in the set of {', '.join(culprits)}"
        )
    counts = np.bincount(masks, minlength=1 << len(parties))
    for mask in range(1, 1 << len(parties)):
        members = frozenset(p for i, p in enumerate(parties) if mask >> i & 1)
        regions[members] = int(counts[mask])
    return RegionCounts(parties, sizes, regions)


def sorted_reference(reference: bytes) -> np.ndarray:
    """A fully blinded set as a sorted array of 32-byte keys, for `matched_positions`."""
    if len(reference) % POINT_BYTES:
        raise ValueError("reference point buffer is not a multiple of 32 bytes")
    return np.sort(np.frombuffer(reference, dtype=f"S{POINT_BYTES}"))


def matched_positions(points: bytes, reference: np.ndarray) -> np.ndarray:
    """For each point of `points` (in its order), whether it occurs in the sorted `reference`.

    Used by the profile query: `points` is (a chunk of) an owner's fully blinded list in the
    owner's order, `reference` the querier's fully blinded set under the same two keys.
    """
    keys = np.frombuffer(points, dtype=f"S{POINT_BYTES}")
    if len(keys) == 0 or len(reference) == 0:
        return np.zeros(len(keys), dtype=bool)
    found = np.minimum(np.searchsorted(reference, keys), len(reference) - 1)
    return np.asarray(reference[found] == keys)
