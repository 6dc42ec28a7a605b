"""The coordinator's matching with bounded memory: sets spilled to disk by point prefix, counted
partition by partition.

Each party's fully blinded points are appended, as they arrive, to one file per partition
(`protocols.partitions`) in a private temporary directory (`runtime.point_files`, under
`TMPDIR`), through a small buffer per partition; the directory is removed when the spill is
closed, whether the query succeeded or failed. Counting then reads one partition of every party
at a time. Memory: the buffers (2**bits x `buffer_points` x 32 bytes per party at most, 8 MiB
with the defaults) plus one partition of all parties (~3 x 32 B x total points / 2**bits while it
is counted). Disk: 32 bytes per point of all parties. The files hold fully blinded points only,
which the coordinator holds in memory anyway; the directory is created with mode 0700, and a
spill left by a coordinator that was killed is removed by the next one made in the same TMPDIR.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from protocols.matching import MAX_PARTIES, RegionCounts, count_regions
from protocols.partitions import check_partition_bits, split_by_partition, sum_region_counts
from protocols.psi import POINT_BYTES
from runtime.closing import ClosedOnExit
from runtime.point_files import BUFFER_POINTS, PointFiles, remove_orphaned

PARTITION_BITS = 8
PREFIX = "gongying-match-"


def remove_orphaned_spills(directory: str | Path | None = None) -> list[Path]:
    """Remove this user's spill directories in `directory` (default TMPDIR) whose coordinator
    process no longer runs; the ones removed."""
    return remove_orphaned(PREFIX, directory)


class PartySpill:
    """One party's points, appended by partition to the spill's files."""

    def __init__(self, files: PointFiles, index: int, bits: int) -> None:
        self._files = files
        self._index = index
        self._bits = bits
        self.count = 0

    def name(self, partition: int) -> str:
        """The file of this party's points in `partition`."""
        return f"{self._index:02d}-{partition:05d}"

    def add(self, points: bytes) -> None:
        """Append a chunk of 32-byte points (from this party's one thread)."""
        for partition, part in split_by_partition(points, self._bits):
            self._files.append(self.name(partition), part)
        self.count += len(points) // POINT_BYTES

    def read(self, partition: int) -> bytes:
        """This party's points in `partition`."""
        return self._files.read(self.name(partition))


class PointSpill(ClosedOnExit):
    """Every party's fully blinded set of one overlap query, on disk in 2**bits partitions.

    Use as a context manager: the temporary directory is removed on leaving, error or not.
    """

    def __init__(
        self,
        parties: Sequence[str],
        bits: int = PARTITION_BITS,
        buffer_points: int = BUFFER_POINTS,
        directory: str | Path | None = None,
    ) -> None:
        self.parties = tuple(parties)
        if not 2 <= len(self.parties) <= MAX_PARTIES:
            raise ValueError(f"an overlap needs 2 to {MAX_PARTIES} parties, got {len(parties)}")
        self.bits = check_partition_bits(bits)
        self._files = PointFiles(PREFIX, directory, buffer_points)
        self.folder = self._files.folder
        self._spills = {
            party: PartySpill(self._files, index, bits) for index, party in enumerate(self.parties)
        }

    def party(self, party: str) -> PartySpill:
        """The spill of one party's set (its `add` is safe to call from that party's thread)."""
        return self._spills[party]

    def add_all(self, party: str, chunks: Iterable[bytes]) -> int:
        """Spill every chunk of `party`'s set and write it out; the number of points."""
        spill = self._spills[party]
        for chunk in chunks:
            spill.add(chunk)
        self._files.flush()
        return spill.count

    @property
    def sizes(self) -> dict[str, int]:
        """Points spilled so far per party."""
        return {party: spill.count for party, spill in self._spills.items()}

    def partitions(self) -> Iterator[dict[str, bytes]]:
        """Every non-empty partition: each party's points in it (one partition in memory)."""
        self._files.flush()
        for partition in range(1 << self.bits):
            sets = {party: spill.read(partition) for party, spill in self._spills.items()}
            if any(sets.values()):
                yield sets

    def count_regions(self) -> RegionCounts:
        """The same counts as `protocols.matching.count_regions` over the whole sets."""
        return sum_region_counts(self.parties, (count_regions(sets) for sets in self.partitions()))

    def close(self) -> None:
        """Remove the directory and everything in it."""
        self._files.close()
