"""Members and their hash-to-group points kept between queries while the source is unchanged.

Loading a million members (read, normalise, de-duplicate) and hashing each to the group
(SHA-512 then Elligator, ~14 us) do not depend on the query, only on the data. The node keeps
the last two loads in memory, at most `MAX_CACHED_BYTES` of them (a larger load is not kept),
keyed by what was loaded and by the source file's size and modification time, so a repeated
query over unchanged data skips both; a changed file is loaded afresh. Only file sources (CSV,
Parquet) are cached: a database gives no cheap change signal. Keys, orders and anything per
query are never cached. The points are the node's own members' hashes, in the node's own
memory, like the member list itself."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from connectors.members import LoadTally
from connectors.source_spec import SourceSpec
from protocols.psi import Points

MAX_ENTRIES = 2
MAX_CACHED_BYTES = 512 * 2**20  # loads kept between queries, at most (10M emails: ~350 MiB)
MAX_CACHED_POINTS = 5_000_000  # above this, hashed points are not kept (32 bytes per member)


@dataclass
class CachedMembers:
    """One load: elements and attribute columns in load order, the report, and (once made)
    the elements' hash-to-group points in the same order."""

    elements: object
    columns: dict[str, list[object]]
    report: LoadTally
    points: Points | None = None
    points_group: str = ""  # the PSI group `points` belong to
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def source_version(spec: SourceSpec) -> tuple[str, int, int] | None:
    """(path, size, mtime in ns) of a file source; None for sources that cannot be versioned."""
    if spec.kind not in ("csv", "parquet") or not spec.path:
        return None
    try:
        stat = os.stat(spec.path)
    except OSError:
        return None
    return (os.path.abspath(spec.path), stat.st_size, stat.st_mtime_ns)


def held_bytes(entry: CachedMembers) -> int:
    """What keeping `entry` costs: its packed elements, the points it may keep (32 bytes per
    member up to `MAX_CACHED_POINTS`) and 8 bytes per attribute value (the list's pointer)."""
    elements = entry.elements
    count = len(elements)  # type: ignore[arg-type]
    packed = elements.nbytes() if hasattr(elements, "nbytes") else 64 * count
    points = 32 * count if count <= MAX_CACHED_POINTS else 0
    return packed + points + 8 * sum(len(values) for values in entry.columns.values())


class MemberCache:
    """The last `MAX_ENTRIES` loads within `MAX_CACHED_BYTES`, least recently used dropped
    first (a load larger than the budget is not kept at all); thread-safe."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[object, ...], CachedMembers] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> CachedMembers | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[object, ...], entry: CachedMembers) -> None:
        with self._lock:
            self._entries.pop(key, None)
            if held_bytes(entry) > self.max_bytes:
                return
            self._entries[key] = entry
            while len(self._entries) > self.max_entries or self._held() > self.max_bytes:
                self._entries.popitem(last=False)

    def _held(self) -> int:
        return sum(held_bytes(entry) for entry in self._entries.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
