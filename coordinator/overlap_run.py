"""Running an overlap query: open sessions, route every set through every other node, count.

Schedule: party i's set leaves node i blinded once, then visits nodes i+1, i+2, ... (mod N), each
multiplying by its key; all N chains run at once, so every node is busy with a different set.
The coordinator relays streams between nodes, checking each stream's framing and trailer; a
failure anywhere cancels every call of the query and nothing is released. The final sets are
spilled to disk by point prefix as they arrive and counted one partition at a time
(`coordinator.spill`), so the coordinator's memory does not grow with the sets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

import grpc

from coordinator.cached import reusable_answer
from coordinator.node_client import Deadline, NodeClient, party_error
from coordinator.progress import REGISTRY
from coordinator.spill import PointSpill
from model.node import SessionOpened
from model.outcomes import OverlapOutcome
from model.progress import OPEN, ROUTING
from protocols.matching import RegionCounts
from wire.status import QueryFailed
from wire.streams import point_messages, read_header, unframe
from wire.v1 import node_pb2, points_pb2, query_pb2

T = TypeVar("T")


class _QueryCalls:
    """The live calls of one query, so a failure can cancel all of them; keeps the first cause."""

    def __init__(self, query_id: str = "") -> None:
        self.query_id = query_id  # for progress counts
        self._calls: list[grpc.Call] = []
        self._lock = threading.Lock()
        self.first_failure: QueryFailed | None = None

    def add(self, call: grpc.Call) -> grpc.Call:
        with self._lock:
            self._calls.append(call)
        return call

    def fail(self, failure: QueryFailed) -> None:
        with self._lock:
            if self.first_failure is None:
                self.first_failure = failure
            calls = list(self._calls)
        for call in calls:
            call.cancel()


def _relay(
    call: Any,
    node: NodeClient,
    header: points_pb2.StreamHeader,
    calls: _QueryCalls,
) -> Iterator[points_pb2.PointMessage]:
    """Read a node's point stream (checked) and re-frame it under a new header for the next hop."""
    source = f"stream from node {node.party}"
    try:
        read_header(call, source)
        points = REGISTRY.counted(calls.query_id, ROUTING, unframe(call, 32, "points", source))
        yield from point_messages(header, points)
    except grpc.RpcError as error:
        calls.fail(party_error(node.party, node.address, error))
        raise
    except Exception as error:
        calls.fail(QueryFailed(grpc.StatusCode.INVALID_ARGUMENT, str(error)))
        raise


def _collect(call: Any, node: NodeClient, calls: _QueryCalls) -> bytes:
    """Read a node's final point stream completely, checking framing and trailer."""
    return _collect_with_header(call, node, calls)[1]


def _collect_with_header(call: Any, node: NodeClient, calls: _QueryCalls) -> tuple[Any, bytes]:
    """A node's point stream read completely: its header and its points."""
    return _consume_points(call, node, calls, b"".join)


def _consume_points(
    call: Any, node: NodeClient, calls: _QueryCalls, consume: Callable[[Iterator[bytes]], T]
) -> tuple[Any, T]:
    """A node's point stream, checked, handed chunk by chunk to `consume`: header, its result."""
    source = f"stream from node {node.party}"
    try:
        header = read_header(call, source)
        return header, consume(
            REGISTRY.counted(calls.query_id, ROUTING, unframe(call, 32, "points", source))
        )
    except grpc.RpcError as error:
        calls.fail(party_error(node.party, node.address, error))
        raise calls.first_failure or party_error(node.party, node.address, error) from None
    except QueryFailed:
        raise
    except OSError as error:
        failure = QueryFailed(
            grpc.StatusCode.INTERNAL,
            f"the coordinator could not spill the points of {node.party} to disk "
            f"(free space in TMPDIR?): {error}",
        )
        calls.fail(failure)
        raise calls.first_failure or failure from None
    except Exception as error:
        failure = QueryFailed(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        calls.fail(failure)
        raise calls.first_failure or failure from None


def _chain(
    index: int,
    order: list[str],
    nodes: Mapping[str, NodeClient],
    query_id: str,
    deadline: Deadline,
    calls: _QueryCalls,
    spill: PointSpill,
) -> int:
    """Party order[index]'s set: own blinding, then every other node in turn, then spilled to
    disk by partition as it arrives; the number of points."""
    owner = order[index]
    current = nodes[owner]
    call = calls.add(current.stream_own_set(query_id, deadline))
    for step in range(1, len(order)):
        nxt = nodes[order[(index + step) % len(order)]]
        header = points_pb2.StreamHeader(query_id=query_id, set_owner=owner)
        call = calls.add(nxt.reblind(_relay(call, current, header, calls), deadline))
        current = nxt
    return _consume_points(call, current, calls, partial(spill.add_all, owner))[1]


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


def _count_chains(
    order: list[str],
    nodes: Mapping[str, NodeClient],
    query_id: str,
    deadline: Deadline,
    calls: _QueryCalls,
    spill: PointSpill,
    opened: Mapping[str, SessionOpened],
    threads: ThreadPoolExecutor,
) -> RegionCounts:
    """Run every party's chain into `spill`, check the set sizes, count partition by partition."""
    futures = [
        threads.submit(_chain, i, order, nodes, query_id, deadline, calls, spill)
        for i in range(len(order))
    ]
    wait(futures)  # every chain has stopped writing to the spill before it can be removed
    for future in futures:
        try:
            future.result()
        except QueryFailed as failure:
            calls.fail(failure)
    if calls.first_failure is not None:
        raise calls.first_failure
    for party, count in spill.sizes.items():
        if count != opened[party].set_size:
            raise QueryFailed(
                grpc.StatusCode.INTERNAL,
                f"the set of {party} came back with {count} points, "
                f"but {party} announced {opened[party].set_size}",
            )
    return spill.count_regions()


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
    calls = _QueryCalls(query_id)
    deadline.on_cancel(
        lambda: calls.fail(
            QueryFailed(grpc.StatusCode.CANCELLED, "the querier cancelled the query")
        )
    )
    with ThreadPoolExecutor(max_workers=max(2, len(order))) as threads:
        opened = _open_sessions(nodes, order, request, signed, deadline, threads)
        REGISTRY.set_total(query_id, ROUTING, len(order) * sum(s.set_size for s in opened.values()))
        answer = reusable_answer((s.epsilon, s.cached_answer) for s in opened.values())
        if answer is not None:
            return OverlapOutcome(
                query_id, id_type, None, opened, time.monotonic() - started, answer
            )
        with PointSpill(order) as spill:
            counts = _count_chains(order, nodes, query_id, deadline, calls, spill, opened, threads)
    return OverlapOutcome(query_id, id_type, counts, opened, time.monotonic() - started)
