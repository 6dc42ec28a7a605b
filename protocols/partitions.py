"""Splitting fully blinded points into partitions by prefix, and adding up per-partition counts.

Equal points have equal prefixes, so every membership region is the sum of that region over the
partitions: matching can hold one partition at a time. The key is taken from bytes 1 and 2 of a
point, not byte 0: a ristretto255 encoding is a non-negative field element, so the low bit of
byte 0 is always zero and half the byte-0 partitions would stay empty. Bytes 1..30 of a fully
blinded point are uniform (the point is a random group element to anyone without both keys), so
the partitions are even in size, and a party that sends crafted points only makes its own
partitions larger, never the answer different.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations

import numpy as np

from protocols.matching import RegionCounts
from protocols.ristretto import POINT_BYTES

MAX_PARTITION_BITS = 16


def check_partition_bits(bits: int) -> int:
    """`bits` if 0 <= bits <= 16 (2**bits partitions), else a ValueError naming the range."""
    if not 0 <= bits <= MAX_PARTITION_BITS:
        raise ValueError(f"partition bits must be 0 to {MAX_PARTITION_BITS}, got {bits}")
    return bits


def partition_keys(points: bytes, bits: int) -> np.ndarray:
    """The partition (0 .. 2**bits - 1) of every 32-byte point of `points`, in order."""
    check_partition_bits(bits)
    if len(points) % POINT_BYTES:
        raise ValueError("point buffer is not a multiple of 32 bytes")
    rows = np.frombuffer(points, dtype=np.uint8).reshape(-1, POINT_BYTES)
    prefix = (rows[:, 1].astype(np.uint32) << 8) | rows[:, 2]
    return prefix >> (16 - bits)


def split_by_partition(points: bytes, bits: int) -> Iterator[tuple[int, bytes]]:
    """(partition, its points in their original order) for every partition `points` touches."""
    return split_by_key(points, partition_keys(points, bits))


def split_by_key(points: bytes, keys: np.ndarray) -> Iterator[tuple[int, bytes]]:
    """(key, the points with that key in their original order) for every key in `keys`, one
    key per 32-byte point of `points`, in ascending key order."""
    if len(keys) != len(points) // POINT_BYTES or len(points) % POINT_BYTES:
        raise ValueError("need one key per 32-byte point")
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    rows = np.frombuffer(points, dtype=np.uint8).reshape(-1, POINT_BYTES)[order]
    ordered = keys[order]
    bounds = np.flatnonzero(np.diff(ordered)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(ordered)]))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        yield int(ordered[start]), rows[start:end].tobytes()


def sum_region_counts(parties: Sequence[str], parts: Iterable[RegionCounts]) -> RegionCounts:
    """The counts over all partitions: set sizes and every region added up."""
    sizes = dict.fromkeys(parties, 0)
    regions: dict[frozenset[str], int] = {
        frozenset(members): 0
        for r in range(1, len(parties) + 1)
        for members in combinations(parties, r)
    }
    for part in parts:
        if part.parties != tuple(parties):
            raise ValueError(f"partition counted over {part.parties}, expected {tuple(parties)}")
        for party, size in part.sizes.items():
            sizes[party] += size
        for members, count in part.regions.items():
            regions[members] += count
    return RegionCounts(tuple(parties), sizes, regions)
