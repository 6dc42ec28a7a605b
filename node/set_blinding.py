"""The node's point steps of PSI: blind its own set, re-blind others' sets, unblind its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from model.sizes import CHUNK_ITEMS
from node.governance import NodeGovernance
from node.member_cache import MAX_CACHED_POINTS, CachedMembers
from node.reshuffle import reshuffled
from node.sessions import QuerySession, SessionStore
from node.unblinding import Unblinding
from protocols import psi
from protocols.psi import POINT_BYTES
from runtime.executor import CryptoExecutor
from wire.streams import chunk_payloads


@dataclass(frozen=True)
class ReblindRequest:
    """A Reblind stream's header: whose set it is, and whether to keep its order or unblind."""

    query_id: str
    set_owner: str = ""
    preserve_order: bool = False
    unblind: bool = False
    reblinded_by: str = ""
    reblind_signature: bytes = b""


@dataclass(frozen=True)
class Reblinded:
    """Re-blinded points, and the owner's signature binding them to the unblinding step."""

    points: Iterator[bytes]
    signature: bytes = b""


class SetBlinding:
    """Runs a session's PSI party (protocols/psi.py) over its points on the executor: its own
    set, others' sets, and its key taken off again."""

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
        party = session.psi
        blinder = party.blinder()
        cached: CachedMembers | None = session.cached
        if cached is None:
            return self.executor.blind_elements(session.elements, blinder)
        with cached.lock:  # the points of one group, kept by an earlier query (maybe another group)
            points = cached.points if cached.points_group == party.group_name else None
        if points is not None:
            shuffled = party.in_secret_order(points, CHUNK_ITEMS)
            return self.executor.blind_points(shuffled, blinder)
        if len(party.order) > MAX_CACHED_POINTS:  # too many to keep: blind without the hashes
            return self.executor.blind_elements(session.elements, blinder)

        def blinded() -> Iterator[bytes]:
            rows = party.load_order_rows()
            for hashes, chunk in self.executor.blind_elements_keeping_hashes(
                session.elements, blinder
            ):
                rows.add(hashes)
                yield chunk
            if rows.complete:
                with cached.lock:
                    cached.points = rows.rows
                    cached.points_group = party.group_name

        return blinded()

    def reblind(self, request: ReblindRequest, chunks: Iterator[bytes]) -> Reblinded:
        """Multiply every received point by the session key; reshuffle unless told not to.

        Every point is validated in the workers. A reshuffled set is read whole (and its trailer
        checked by the caller's framing) before anything is sent back, through random buckets
        spilled to disk past 32 MiB (node/reshuffle.py), unless this node signs it (a profile
        owner re-blinding the querier's set), which needs it in one piece; an order-preserving one
        streams through chunk by chunk, and a bad trailer still fails the call, so the
        coordinator never completes a query from part of a set. An owner of a profile query
        signs its re-blinding of the querier's set; `unblind` takes the key off instead, only
        as node/unblinding.py allows (a refusal there ends the query at this node).
        """
        session = self.sessions.get(request.query_id)
        if request.unblind:
            return Reblinded(self._unblind(session, request, chunks))
        admission, set_owner = session.admission, request.set_owner
        counted = _Counted(chunks)
        if admission is not None:
            counted.limit = lambda points: self.governance.check_received(
                admission, set_owner, points
            )
        blinded = self.executor.blind_points(counted, session.psi.blinder())

        def checked() -> Iterator[bytes]:
            yield from blinded
            if admission is not None:
                self.governance.check_counterparty(admission, set_owner, counted.points)

        if request.preserve_order:
            return Reblinded(checked())
        if not self.unblinding.signs(session):
            return Reblinded(reshuffled(checked()))
        points = psi.shuffle_points(b"".join(checked()))
        signature = self.unblinding.owner_signature(session, set_owner, points)
        return Reblinded(iter((points,)), signature)

    def _unblind(
        self, session: QuerySession, request: ReblindRequest, chunks: Iterator[bytes]
    ) -> Iterator[bytes]:
        """The querier's own set as `reblinded_by` re-blinded and signed it, with this node's
        key taken off and reshuffled; read whole and checked before any point is touched."""
        points = b"".join(chunks)
        self.unblinding.check(
            session, request.set_owner, request.reblinded_by, request.reblind_signature, points
        )
        unblinded = self.executor.blind_points(_chunks(points), session.psi.unblinder())
        return iter((psi.shuffle_points(b"".join(unblinded)),))


def _chunks(points: bytes) -> Iterator[bytes]:
    """A whole buffer of points cut into executor-sized chunks."""
    return chunk_payloads(iter((points,)), POINT_BYTES)


class _Counted:
    """Passes chunks through, counting the points; `limit` sees each running count
    before its chunk goes on (and raises to stop a set that is too large)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.points = 0
        self.limit: Callable[[int], None] | None = None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.points += len(chunk) // POINT_BYTES
            if self.limit is not None:
                self.limit(self.points)
            yield chunk
