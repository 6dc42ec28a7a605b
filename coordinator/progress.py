"""Progress of running queries: named steps with (done, total) counts, for `WatchQuery`.

The coordinator registers a query when it starts (`begin`), its protocol code counts work as it
passes (`add`, one call per chunk; a no-op for a query that is not registered), and the service
marks it finished when the answer is released or the query fails. Finished entries are dropped
`keep_seconds` later. Only counts are kept here: no identifiers, points or ciphertexts.

Steps and their totals:
- open sessions: parties whose OpenSession answered, of the parties queried.
- blinding and routing: points the coordinator received from nodes (to relay or to keep), of
  the points the protocol routes. An overlap of N parties with set sizes s_i sends every set
  through N hops, so N * sum(s_i); a profile receives the querier's set once plus once per owner,
  and each owner's list twice (to the querier, and back fully blinded):
  s_q * (1 + owners) + 2 * sum(s_owner).
- indicator encryption: owner-list positions encrypted, of the owners' set sizes together.
- mask generation: Paillier masks ready for the query (from the warm pool or made now), of the
  masks the indicators need (one per owner-list position).
- owner aggregation: owners whose encrypted aggregate came back, of the owners.
- decryption: the querier's node decrypting and releasing the profiles (one request).

What leaves the coordinator (`to_proto`, the `WatchQuery` stream): the counts of steps that
follow set sizes (routing, indicators, masks) would tell a watcher other parties' exact set
sizes (N * sum(s_i) minus its own), which the release rules only release noised. They leave as
fractions in thousandths (`total` 1000, `done` the share done, rounded down); the counts of
parties, owners and decryptions are public and leave as they are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from model.errors import UnknownQuery as UnknownQuery  # raised by `watch`; re-exported
from model.progress import INDICATORS, MASKS, ROUTING, QueryProgress, StepProgress

KEEP_SECONDS = 30.0
POINT_BYTES = 32


class _Entry:
    def __init__(self, steps: Sequence[str]) -> None:
        self.counts: dict[str, list[int]] = {name: [0, 0] for name in steps}
        self.finished = False
        self.failed = False
        self.finished_at = 0.0


class ProgressRegistry:
    """Thread-safe progress of the queries running at one coordinator (or in one process)."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._entries: dict[str, _Entry] = {}
        self._changed = threading.Condition()

    def _purge(self, now: float) -> None:
        expired = [
            query_id
            for query_id, entry in self._entries.items()
            if entry.finished and now - entry.finished_at >= self.keep_seconds
        ]
        for query_id in expired:
            del self._entries[query_id]

    def begin(
        self, query_id: str, steps: Sequence[str], totals: Mapping[str, int] | None = None
    ) -> None:
        """Register a query with its steps in order and the totals known up front (replacing
        an entry of the same id)."""
        entry = _Entry(steps)
        for step, total in (totals or {}).items():
            entry.counts.setdefault(step, [0, 0])[1] = total
        with self._changed:
            self._purge(time.monotonic())
            self._entries[query_id] = entry
            self._changed.notify_all()

    def set_total(self, query_id: str, step: str, total: int) -> None:
        """The units `step` needs; a no-op for an unregistered query."""
        with self._changed:
            entry = self._entries.get(query_id)
            if entry is not None and not entry.finished:
                entry.counts.setdefault(step, [0, 0])[1] = total

    def add(self, query_id: str, step: str, n: int = 1) -> None:
        """`n` more units of `step` done; a no-op for an unregistered query."""
        with self._changed:
            entry = self._entries.get(query_id)
            if entry is not None and not entry.finished:
                entry.counts.setdefault(step, [0, 0])[0] += n

    def counted(
        self, query_id: str, step: str, chunks: Iterable[bytes], width: int = POINT_BYTES
    ) -> Iterator[bytes]:
        """Pass `chunks` through, adding each chunk's item count (len // width) to `step`."""
        for chunk in chunks:
            self.add(query_id, step, len(chunk) // width)
            yield chunk

    def track(self, query_id: str, step: str, futures: Iterable[Future[Any]]) -> None:
        """Add one unit of `step` as each future completes without an exception."""
        for future in futures:
            future.add_done_callback(
                lambda f: self.add(query_id, step) if f.exception() is None else None
            )

    def profile_totals(self, query_id: str, sizes: Mapping[str, int], querier: str) -> None:
        """Totals of a profile query's steps once every session is open (set sizes by party)."""
        owners = sum(size for party, size in sizes.items() if party != querier)
        # the querier's set arrives once, then per owner twice more (re-blinded by the owner,
        # unblinded by the querier); each owner's list arrives once
        routed = sizes[querier] * (1 + 2 * (len(sizes) - 1)) + owners
        for step, total in ((ROUTING, routed), (INDICATORS, owners), (MASKS, owners)):
            self.set_total(query_id, step, total)

    def finish(self, query_id: str, failed: bool = False) -> None:
        """The query was answered (or failed); its entry is kept `keep_seconds` more."""
        with self._changed:
            entry = self._entries.get(query_id)
            if entry is not None and not entry.finished:
                entry.finished, entry.failed = True, failed
                entry.finished_at = time.monotonic()
            self._changed.notify_all()

    def snapshot(self, query_id: str) -> QueryProgress | None:
        """The query's progress now, or None if it is not registered (or has expired)."""
        with self._changed:
            self._purge(time.monotonic())
            return self._snapshot(query_id)

    def _snapshot(self, query_id: str) -> QueryProgress | None:
        entry = self._entries.get(query_id)
        if entry is None:
            return None
        return QueryProgress(
            query_id,
            tuple(StepProgress(name, done, total) for name, (done, total) in entry.counts.items()),
            entry.finished,
            entry.failed,
        )

    def running(self) -> list[str]:
        """Ids of the registered queries, finished ones included until they expire."""
        with self._changed:
            self._purge(time.monotonic())
            return list(self._entries)

    def watch(
        self,
        query_id: str,
        interval: float = 0.3,
        wait_registered: float = 5.0,
        active: Callable[[], bool] = lambda: True,
    ) -> Iterator[QueryProgress]:
        """Snapshots of the query whenever it changed, checked every `interval` seconds (and at
        once when it finishes), ending with the finished one or when `active()` turns false.

        Waits up to `wait_registered` seconds for a query that is not registered yet (a watcher
        may connect before the query starts); then raises UnknownQuery.
        """
        give_up = time.monotonic() + wait_registered
        with self._changed:
            while (current := self._snapshot(query_id)) is None:
                left = give_up - time.monotonic()
                if left <= 0 or not active():
                    raise UnknownQuery(query_id)
                self._changed.wait(min(left, interval))
        last: QueryProgress | None = None
        while True:
            if current != last:
                yield current
                last = current
            if current.finished or not active():
                return
            with self._changed:
                entry = self._entries.get(query_id)
                if entry is not None and not entry.finished:
                    self._changed.wait(interval)
                latest = self._snapshot(query_id)
            if latest is None:  # expired while the watcher was away
                return
            current = latest


REGISTRY = ProgressRegistry()
"""The registry the coordinator's protocol code reports to (one per process)."""
