"""Running an overlap query: open sessions, route every set through every other node, count.

Schedule: party i's set leaves node i blinded once, then visits nodes i+1, i+2, ... (mod N), each
multiplying by its key; all N chains run at once, so every node is busy with a different set.
The coordinator relays streams between nodes, checking each stream's framing and trailer; a
failure anywhere cancels every call of the query and nothing is released. The final sets are
spilled to disk by point prefix as they arrive and counted one partition at a time
(`coordinator.spill`), so the coordinator's memory does not grow with the sets.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial

from coordinator.cached import reusable_answer
from coordinator.node_client import Deadline, NodeClient
from coordinator.progress import REGISTRY
from coordinator.relay import QueryCalls, consume_points, relay
from coordinator.spill import PointSpill
from model.errors import ProtocolViolation
from model.node import SessionOpened
from model.outcomes import OverlapOutcome
from model.progress import OPEN, ROUTING
from protocols.matching import RegionCounts
from wire.v1 import node_pb2, points_pb2, query_pb2


@dataclass(frozen=True)
class _Routing:
    """One overlap's routing: every party's set through every other node, spilled as it arrives."""

    order: list[str]
    nodes: Mapping[str, NodeClient]
    deadline: Deadline
    calls: QueryCalls
    spill: PointSpill

    def chain(self, index: int) -> int:
        """Party order[index]'s set: own blinding, then every other node in turn, then spilled
        to disk by partition as it arrives; the number of points."""
        order, calls, query_id = self.order, self.calls, self.calls.query_id
        owner = order[index]
        current = self.nodes[owner]
        call = calls.add(current.stream_own_set(query_id, self.deadline))
        for step in range(1, len(order)):
            nxt = self.nodes[order[(index + step) % len(order)]]
            header = points_pb2.StreamHeader(query_id=query_id, set_owner=owner)
            call = calls.add(nxt.reblind(relay(call, current, header, calls), self.deadline))
            current = nxt
        return consume_points(call, current, calls, partial(self.spill.add_all, owner))[1]

    def count(
        self, opened: Mapping[str, SessionOpened], threads: ThreadPoolExecutor
    ) -> RegionCounts:
        """Run every party's chain into the spill, check the set sizes, count partition by
        partition."""
        futures = [threads.submit(self.chain, i) for i in range(len(self.order))]
        wait(futures)  # every chain has stopped writing to the spill before it can be removed
        for future in futures:
            try:
                future.result()
            except Exception as failure:
                self.calls.fail(failure)
        if self.calls.first_failure is not None:
            raise self.calls.first_failure
        for party, count in self.spill.sizes.items():
            if count != opened[party].set_size:
                raise ProtocolViolation(
                    f"the set of {party} came back with {count} points, "
                    f"but {party} announced {opened[party].set_size}"
                )
        return self.spill.count_regions()


def _open_sessions(
    nodes: Mapping[str, NodeClient],
    order: list[str],
    request: node_pb2.OpenSessionRequest,
    signed: query_pb2.SignedQuery | None,
    deadline: Deadline,
    threads: ThreadPoolExecutor,
) -> dict[str, SessionOpened]:
    """Open every party's session: the querier's first, whose fingerprint of its set goes to
    the others (the key of cached answers covers the querier's set); then the others at once.
    Every OpenSession is waited for before any failure is raised, so the settling that follows
    never races a session still being opened (it would stay open until it expires)."""
    querier = signed.signer if signed is not None and signed.signer in order else ""
    opened: dict[str, SessionOpened] = {}
    if querier:
        opened[querier] = nodes[querier].open_session(request, deadline)
        REGISTRY.add(request.query_id, OPEN)
        followed = node_pb2.OpenSessionRequest()
        followed.CopyFrom(request)
        followed.querier_set_fingerprint = opened[querier].set_fingerprint
        request = followed
    rest = [p for p in order if p != querier]
    opening = [threads.submit(nodes[p].open_session, request, deadline) for p in rest]
    REGISTRY.track(request.query_id, OPEN, opening)
    wait(opening)
    opened.update({p: future.result() for p, future in zip(rest, opening, strict=True)})
    return {p: opened[p] for p in order}


def run_overlap(
    nodes: Mapping[str, NodeClient],
    query_id: str,
    id_type: str,
    profile_version: str,
    deadline: Deadline,
    signed: query_pb2.SignedQuery | None = None,
    psi_group: str = "",
) -> OverlapOutcome:
    """Run the whole overlap protocol across `nodes` (in the given party order).

    Sessions stay open afterwards: the caller settles them (release or failure) on every node.
    When every node that noises the query holds the same cached answer for an identical earlier
    query (the querier's own node keeps none), the protocol is skipped and `cached` carries it:
    no node's set leaves it, so none is charged again.
    """
    started = time.monotonic()
    order = list(nodes)
    request = node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=node_pb2.QUERY_KIND_OVERLAP,
        id_type=id_type,
        profile_version=profile_version,
        parties=order,
        role=node_pb2.SESSION_ROLE_MEMBER,
        signed=signed,
        psi_group=psi_group,
    )
    calls = QueryCalls(query_id, deadline)
    with ThreadPoolExecutor(max_workers=max(2, len(order))) as threads:
        opened = _open_sessions(nodes, order, request, signed, deadline, threads)
        REGISTRY.set_total(query_id, ROUTING, len(order) * sum(s.set_size for s in opened.values()))
        answer = reusable_answer((s.epsilon, s.cached_answer) for s in opened.values())
        if answer is not None:
            return OverlapOutcome(
                query_id, id_type, None, opened, time.monotonic() - started, answer
            )
        with PointSpill(order) as spill:
            counts = _Routing(order, nodes, deadline, calls, spill).count(opened, threads)
    return OverlapOutcome(query_id, id_type, counts, opened, time.monotonic() - started)
