"""The node's point steps of PSI: blind its own set, re-blind others' sets, unblind its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from model.errors import GovernanceRefusal
from node.governance import NodeGovernance
from node.member_cache import MAX_CACHED_POINTS, CachedMembers
from node.sessions import QuerySession, SessionStore
from node.unblinding import Unblinding
from protocols import psi
from protocols.groups import group
from runtime.executor import CryptoExecutor
from wire.streams import chunk_payloads


@dataclass(frozen=True)
class Reblinded:
    """Re-blinded points, and the owner's signature binding them to the unblinding step."""

    points: Iterator[bytes]
    signature: bytes = b""


class SetBlinding:
    """Multiplies a session's points by its key: its own set, others' sets, and back."""

    def __init__(
        self,
        executor: CryptoExecutor,
        governance: NodeGovernance,
        sessions: SessionStore,
        unblinding: Unblinding,
    ) -> None:
        self.executor = executor
        self.governance = governance
        self.sessions = sessions
        self.unblinding = unblinding

    def own_set(self, query_id: str) -> Iterator[bytes]:
        """The session's elements, hashed and blinded with its key, in its secret order.

        With the load cached, the hash-to-group points are made once and kept (in load order);
        later queries over the unchanged file only multiply them by their fresh key. In an
        overlap the coordinator noises the counts made from this set, so its epsilon is charged
        for good before the first point leaves.
        """
        session = self.sessions.get(query_id)
        if session.kind == "overlap" and session.admission is not None:
            self.governance.charge(session.admission)
        scalar = session.key.scalar
        cached: CachedMembers | None = session.cached
        if cached is None:
            return self.executor.blind_elements(session.elements, scalar, session.group)
        with cached.lock:  # the points of one group, kept by an earlier query (maybe another group)
            points = cached.points if cached.points_group == session.group else None
        if points is not None:
            rows = np.frombuffer(points, dtype=np.uint8).reshape(-1, 32)
            shuffled = rows[session.order].tobytes()
            return self.executor.blind_points(
                chunk_payloads(iter((shuffled,)), 32), scalar, session.group
            )
        order = session.order
        keep = len(order) <= MAX_CACHED_POINTS

        def blinded() -> Iterator[bytes]:
            hashed: list[bytes] = []
            for hashes, chunk in self.executor.blind_elements_keeping_hashes(
                session.elements, scalar, session.group
            ):
                if keep:
                    hashed.append(hashes)
                yield chunk
            if keep:
                in_order = np.empty((len(order), 32), dtype=np.uint8)
                in_order[order] = np.frombuffer(b"".join(hashed), dtype=np.uint8).reshape(-1, 32)
                with cached.lock:
                    cached.points = in_order.tobytes()
                    cached.points_group = session.group

        return blinded()

    def reblind(
        self,
        query_id: str,
        chunks: Iterator[bytes],
        preserve_order: bool,
        set_owner: str = "",
        unblind: bool = False,
        reblinded_by: str = "",
        reblind_signature: bytes = b"",
    ) -> Reblinded:
        """Multiply every received point by the session key; reshuffle unless told not to.

        Every point is validated in the workers. A reshuffled set is read whole (and its trailer
        checked by the caller's framing) before anything is sent back; an order-preserving one
        streams through chunk by chunk, and a bad trailer still fails the call, so the
        coordinator never completes a query from part of a set. An owner of a profile query
        signs its re-blinding of the querier's set; `unblind` takes the key off instead, only
        as node/unblinding.py allows (a refusal ends the query at this node).
        """
        session = self.sessions.get(query_id)
        if unblind:
            return Reblinded(
                self._unblind(session, chunks, set_owner, reblinded_by, reblind_signature)
            )
        admission = session.admission
        counted = _Counted(chunks)
        if admission is not None:
            counted.limit = lambda points: self.governance.check_received(
                admission, set_owner, points
            )
        blinded = self.executor.blind_points(counted, session.key.scalar, session.group)

        def checked() -> Iterator[bytes]:
            yield from blinded
            if session.admission is not None:
                self.governance.check_counterparty(session.admission, set_owner, counted.points)

        if preserve_order:
            return Reblinded(checked())
        points = psi.shuffle_points(b"".join(checked()))
        try:
            signature = self.unblinding.owner_signature(session, set_owner, points)
        except GovernanceRefusal:
            self.sessions.close(query_id)
            raise
        return Reblinded(iter((points,)), signature)

    def _unblind(
        self,
        session: QuerySession,
        chunks: Iterator[bytes],
        set_owner: str,
        owner: str,
        signature: bytes,
    ) -> Iterator[bytes]:
        """The querier's own set as `owner` re-blinded and signed it, with this node's key
        taken off and reshuffled; read whole and checked before any point is touched."""
        points = b"".join(chunks)
        try:
            self.unblinding.check(session, set_owner, owner, signature, points)
        except GovernanceRefusal:
            self.sessions.close(session.query_id)
            raise
        scalar = group(session.group).invert_scalar(session.key.scalar)
        unblinded = self.executor.blind_points(
            chunk_payloads(iter((points,)), 32), scalar, session.group
        )
        return iter((psi.shuffle_points(b"".join(unblinded)),))


class _Counted:
    """Passes chunks through, counting the 32-byte points; `limit` sees each running count
    before its chunk goes on (and raises to stop a set that is too large)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.points = 0
        self.limit: Callable[[int], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.points += len(chunk) // 32
            if self.limit is not None:
                self.limit(self.points)
            yield chunk
