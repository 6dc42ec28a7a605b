"""A query's point streams as the coordinator relays them: the live calls, each stream checked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from coordinator.node_client import Deadline, NodeClient, party_error
from coordinator.progress import REGISTRY
from model.errors import QueryCancelled, SpillFailed, StreamError
from model.progress import ROUTING
from protocols.ristretto import POINT_BYTES
from wire.streams import point_messages, read_header, unframe
from wire.v1 import points_pb2

T = TypeVar("T")


class QueryCalls:
    """The live calls of one query, so a failure (or the querier cancelling) cancels all of
    them; keeps the first cause, which is what the querier is told."""

    def __init__(self, query_id: str, deadline: Deadline) -> None:
        self.query_id = query_id  # for progress counts
        self._calls: list[grpc.Call] = []
        self._lock = threading.Lock()
        self.first_failure: Exception | None = None
        deadline.on_cancel(self._cancelled)

    def add(self, call: grpc.Call) -> grpc.Call:
        with self._lock:
            self._calls.append(call)
        return call

    def fail(self, failure: Exception) -> Exception:
        """Cancel every call; the query's first failure (this one, or an earlier cause)."""
        with self._lock:
            if self.first_failure is None:
                self.first_failure = failure
            calls, first = list(self._calls), self.first_failure
        for call in calls:
            call.cancel()
        return first

    def _cancelled(self) -> None:
        self.fail(QueryCancelled("the querier cancelled the query"))

    def failed(self, node: NodeClient, error: Exception) -> Exception:
        """`fail` with an error met reading `node`'s stream: its call failed (named with the
        node's status), or what it sent is not a well-formed stream."""
        if isinstance(error, grpc.RpcError):
            return self.fail(party_error(node.party, node.address, error))
        return self.fail(error if isinstance(error, SpillFailed) else StreamError(str(error)))


def relay(
    call: Any, node: NodeClient, header: points_pb2.StreamHeader, calls: QueryCalls
) -> Iterator[points_pb2.PointMessage]:
    """Read a node's point stream (checked) and re-frame it under a new header for the next hop."""
    source = f"stream from node {node.party}"
    try:
        read_header(call, source)
        points = unframe(call, POINT_BYTES, "points", source)
        yield from point_messages(header, REGISTRY.counted(calls.query_id, ROUTING, points))
    except Exception as error:
        calls.failed(node, error)
        raise


def collect(call: Any, node: NodeClient, calls: QueryCalls) -> bytes:
    """Read a node's final point stream completely, checking framing and trailer."""
    return collect_with_header(call, node, calls)[1]


def collect_with_header(call: Any, node: NodeClient, calls: QueryCalls) -> tuple[Any, bytes]:
    """A node's point stream read completely: its header and its points."""
    return consume_points(call, node, calls, b"".join)


def consume_points(
    call: Any, node: NodeClient, calls: QueryCalls, consume: Callable[[Iterator[bytes]], T]
) -> tuple[Any, T]:
    """A node's point stream, checked, handed chunk by chunk to `consume`: header, its result."""
    source = f"stream from node {node.party}"
    try:
        try:
            header = read_header(call, source)
            points = unframe(call, POINT_BYTES, "points", source)
            return header, consume(REGISTRY.counted(calls.query_id, ROUTING, points))
        except OSError as error:
            raise SpillFailed(
                f"the coordinator could not spill the points of {node.party} to disk "
                f"(free space in TMPDIR?): {error}"
            ) from None
    except Exception as error:
        raise calls.failed(node, error) from None
