"""The coordinator's matching with bounded memory: sets spilled to disk by point prefix, counted
partition by partition.

Each party's fully blinded points are appended, as they arrive, to one file per partition
(`protocols.partitions`) in a private temporary directory (under `TMPDIR`), through a small buffer
per partition; the directory is removed when the spill is closed, whether the query succeeded or
failed. Counting then reads one partition of every party at a time. Memory: the buffers
(2**bits x `buffer_points` x 32 bytes per party at most, 8 MiB with the defaults) plus one
partition of all parties (~3 x 32 B x total points / 2**bits while it is counted). Disk: 32 bytes
per point of all parties. The files hold fully blinded points only, which the coordinator holds
in memory anyway; the directory is created with mode 0700. Its name carries the coordinator's
process id: a coordinator that was killed (SIGKILL) cannot remove its spill, so the next spill
made in the same TMPDIR removes those whose process is gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType

from protocols.matching import MAX_PARTIES, RegionCounts, count_regions
from protocols.partitions import check_partition_bits, split_by_partition, sum_region_counts
from protocols.ristretto import POINT_BYTES

PARTITION_BITS = 8
BUFFER_POINTS = 1024
PREFIX = "gongying-match-"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's live process
        return False
    return False


def remove_orphaned_spills(directory: str | Path | None = None) -> list[Path]:
    """Remove this user's spill directories in `directory` (default TMPDIR) whose coordinator
    process no longer runs; the ones removed."""
    removed = []
    for path in Path(directory or tempfile.gettempdir()).glob(PREFIX + "*-*"):
        pid = path.name.removeprefix(PREFIX).partition("-")[0]
        if not pid.isdigit() or not path.is_dir() or path.stat().st_uid != os.getuid():
            continue
        if _process_gone(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class PartySpill:
    """One party's points, buffered per partition and appended to that partition's file."""

    def __init__(self, folder: Path, index: int, bits: int, buffer_points: int) -> None:
        self._folder = folder
        self._index = index
        self._bits = bits
        self._limit = buffer_points * POINT_BYTES
        self._buffers: dict[int, bytearray] = {}
        self._lock = threading.Lock()
        self.count = 0

    def path(self, partition: int) -> Path:
        """The file of this party's points in `partition` (it may not exist: none there)."""
        return self._folder / f"{self._index:02d}-{partition:05d}.points"

    def add(self, points: bytes) -> None:
        """Append a chunk of 32-byte points."""
        with self._lock:
            for partition, part in split_by_partition(points, self._bits):
                buffer = self._buffers.setdefault(partition, bytearray())
                buffer += part
                if len(buffer) >= self._limit:
                    self._flush(partition)
            self.count += len(points) // POINT_BYTES

    def finish(self) -> None:
        """Write every buffered point out."""
        with self._lock:
            for partition in list(self._buffers):
                self._flush(partition)

    def read(self, partition: int) -> bytes:
        """This party's points in `partition` (after `finish`)."""
        path = self.path(partition)
        return path.read_bytes() if path.exists() else b""

    def _flush(self, partition: int) -> None:
        buffer = self._buffers.pop(partition)
        if buffer:
            with self.path(partition).open("ab") as file:
                file.write(buffer)


class PointSpill:
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
        remove_orphaned_spills(directory)
        self._temporary = tempfile.TemporaryDirectory(
            prefix=f"{PREFIX}{os.getpid()}-", dir=directory
        )
        self.folder = Path(self._temporary.name)
        self._spills = {
            party: PartySpill(self.folder, index, bits, buffer_points)
            for index, party in enumerate(self.parties)
        }

    def __enter__(self) -> PointSpill:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def party(self, party: str) -> PartySpill:
        """The spill of one party's set (its `add` is safe to call from that party's thread)."""
        return self._spills[party]

    def add_all(self, party: str, chunks: Iterable[bytes]) -> int:
        """Spill every chunk of `party`'s set and write it out; the number of points."""
        spill = self._spills[party]
        for chunk in chunks:
            spill.add(chunk)
        spill.finish()
        return spill.count

    @property
    def sizes(self) -> dict[str, int]:
        """Points spilled so far per party."""
        return {party: spill.count for party, spill in self._spills.items()}

    def partitions(self) -> Iterator[dict[str, bytes]]:
        """Every non-empty partition: each party's points in it (one partition in memory)."""
        for partition in range(1 << self.bits):
            sets = {party: spill.read(partition) for party, spill in self._spills.items()}
            if any(sets.values()):
                yield sets

    def count_regions(self) -> RegionCounts:
        """The same counts as `protocols.matching.count_regions` over the whole sets."""
        for spill in self._spills.values():
            spill.finish()
        return sum_region_counts(self.parties, (count_regions(sets) for sets in self.partitions()))

    def close(self) -> None:
        """Remove the directory and everything in it."""
        self._temporary.cleanup()
