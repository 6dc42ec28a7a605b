"""A set of points in a fresh secret order without holding it all: random buckets, each shuffled.

A node re-blinding another party's set sends it back reshuffled, so the coordinator cannot line
its points up with the ones it sent. Shuffling a 10M-point set in one piece holds it several
times over (the received chunks, the joined buffer, the permuted copy: ~1 GiB); here each point
goes, as it arrives, to one of `buckets` buckets drawn independently and uniformly from a
CSPRNG-keyed generator, and once the whole set is in, every bucket in turn is permuted with
`protocols.psi.shuffle_points` and sent. That is the Rao-Sandelius shuffle: since the bucket
draws are independent and uniform and each bucket's permutation is uniform, every order of the
whole set is equally likely, as with one permutation of it. Buckets stay in memory up to
`memory_points` points; past that they are appended to files (`runtime.point_files`) in a
private temporary directory, removed when the stream ends or fails. The files hold only the
re-blinded points this node is about to send to the coordinator (which it can make again from
what it received and its own key): nothing on disk that was not in the stream. Memory:
`memory_points` x 32 bytes plus about one bucket (set size / `buckets` x 32 bytes) twice while it
is permuted; disk: 32 bytes per point of the set once it is past `memory_points`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from protocols import psi
from protocols.partitions import split_by_key
from protocols.psi import POINT_BYTES
from runtime.point_files import PointFiles

BUCKETS = 256
MEMORY_POINTS = 1 << 20  # 32 MiB of points kept in memory before the buckets go to disk
PREFIX = "gongying-shuffle-"


def reshuffled(
    chunks: Iterable[bytes],
    buckets: int = BUCKETS,
    memory_points: int = MEMORY_POINTS,
    directory: str | Path | None = None,
) -> Iterator[bytes]:
    """Every point of `chunks` in a fresh uniformly random secret order, in pieces of about one
    bucket. Nothing is yielded before the last chunk is read (so an error in the input, a bad
    trailer or a refused size, ends the stream before any point of it is sent back)."""
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")
    generator = psi.secure_generator()
    held: list[bytearray] = [bytearray() for _ in range(buckets)]
    held_bytes = 0
    files: PointFiles | None = None
    try:
        for chunk in chunks:
            keys = generator.integers(0, buckets, len(chunk) // POINT_BYTES)
            for bucket, points in split_by_key(chunk, keys):
                held[bucket] += points
            held_bytes += len(chunk)
            if held_bytes > memory_points * POINT_BYTES:
                files = files or PointFiles(PREFIX, directory, buffer_points=0)
                for bucket, kept in enumerate(held):
                    if kept:
                        files.append(str(bucket), bytes(kept))
                        held[bucket] = bytearray()
                held_bytes = 0
        for bucket in range(buckets):
            points = bytes(held[bucket])
            held[bucket] = bytearray()
            if files is not None:
                points = files.read(str(bucket)) + points
                files.remove(str(bucket))
            if points:
                yield psi.shuffle_points(points)
    finally:
        if files is not None:
            files.close()
