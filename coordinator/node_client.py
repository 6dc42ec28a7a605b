"""A partner node as the coordinator sees it: its stub, and errors that name the party."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from model.errors import (
    DeadlinePassed,
    PartyFailed,
    PartyMisconfigured,
    QueryCancelled,
    QueryRefused,
)
from model.node import SessionOpened
from runtime.audit import SignedHead, Witness
from runtime.serving import channel
from runtime.tls import TLSFiles
from wire import node_serde as node_codec
from wire.v1 import node_pb2, node_pb2_grpc, points_pb2


@dataclass(frozen=True)
class Settlement:
    """A node's answer to the settle: whether it charged and logged a release, and its signed
    audit-log head after logging the settle (None when its log cannot sign)."""

    committed: bool
    witness: Witness | None


class Deadline:
    """The time left for a query; every call gets the remaining part. Cancelling it (the
    querier cancelled) runs the registered listeners and fails every later call."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds
        self.cancelled = False
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def on_cancel(self, listener: Callable[[], None]) -> None:
        """Run `listener` when the query is cancelled (at once if it already is)."""
        with self._lock:
            if not self.cancelled:
                self._listeners.append(listener)
                return
        listener()

    def cancel(self) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.cancelled = True
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener()

    def remaining(self) -> float:
        if self.cancelled:
            raise QueryCancelled("the querier cancelled the query")
        left = self.expires - time.monotonic()
        if left <= 0:
            raise DeadlinePassed("the query's deadline passed")
        return left


def party_error(party: str, address: str, error: grpc.RpcError) -> PartyFailed:
    """A node's RPC failure naming the party and what went wrong, with the node's status."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    if code == grpc.StatusCode.UNAVAILABLE:
        return PartyFailed(code.name, f"node {party} at {address} is unreachable: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return PartyFailed(
            code.name, f"node {party} at {address} did not answer within the deadline"
        )
    return PartyFailed(code.name, f"node {party} at {address} failed: {details}")


class NodeClient:
    """Calls one partner node; every error names that node."""

    def __init__(self, party: str, address: str, tls: TLSFiles | None = None) -> None:
        """With `tls`, the node's certificate must name `party` and ours is presented."""
        self.party = party
        self.address = address
        self._channel = channel(address, tls, server_name=party)
        self._stub = node_pb2_grpc.PartyNodeStub(self._channel)

    def describe(self, deadline: Deadline) -> node_pb2.DescribeResponse:
        try:
            response: node_pb2.DescribeResponse = self._stub.Describe(
                node_pb2.DescribeRequest(), timeout=deadline.remaining()
            )
        except grpc.RpcError as error:
            raise party_error(self.party, self.address, error) from None
        return response

    def open_session(
        self, request: node_pb2.OpenSessionRequest, deadline: Deadline
    ) -> SessionOpened:
        try:
            response = self._stub.OpenSession(request, timeout=deadline.remaining())
        except grpc.RpcError as error:
            raise party_error(self.party, self.address, error) from None
        if response.party != self.party:
            raise PartyMisconfigured(
                f"node at {self.address} says it is {response.party!r}, expected {self.party!r}"
            )
        return SessionOpened(
            self.party,
            response.set_size,
            node_codec.load_report_from_proto(response.load_report),
            paillier_n=int.from_bytes(response.paillier_n, "big") or None,
            attributes=tuple(node_codec.attribute_from_proto(a) for a in response.attributes),
            min_cohort=response.min_cohort,
            epsilon=response.epsilon,
            cached_answer=response.cached_answer,
            paillier_key_signature=response.paillier_key_signature,
            set_fingerprint=response.set_fingerprint,
            labels=node_codec.labels_from_proto(response.labels),
        )

    def stream_own_set(self, query_id: str, deadline: Deadline) -> grpc.Call:
        call: grpc.Call = self._stub.StreamOwnSet(
            node_pb2.StreamOwnSetRequest(query_id=query_id), timeout=deadline.remaining()
        )
        return call

    def reblind(self, messages: Iterator[points_pb2.PointMessage], deadline: Deadline) -> grpc.Call:
        call: grpc.Call = self._stub.Reblind(messages, timeout=deadline.remaining())
        return call

    def aggregate(
        self, messages: Iterator[node_pb2.IndicatorMessage], deadline: Deadline
    ) -> node_pb2.AggregateResponse:
        try:
            response: node_pb2.AggregateResponse = self._stub.Aggregate(
                messages, timeout=deadline.remaining()
            )
        except grpc.RpcError as error:
            raise party_error(self.party, self.address, error) from None
        return response

    def release_profile(
        self, request: node_pb2.ReleaseProfileRequest, deadline: Deadline
    ) -> node_pb2.ReleaseProfileResponse:
        try:
            response: node_pb2.ReleaseProfileResponse = self._stub.ReleaseProfile(
                request, timeout=deadline.remaining()
            )
        except grpc.RpcError as error:
            raise party_error(self.party, self.address, error) from None
        return response

    def settle(
        self,
        query_id: str,
        outcome: str,
        deadline: Deadline,
        answer_json: str = "",
        released: dict[str, int] | None = None,
        suppressed: int = 0,
        error: str = "",
        head: SignedHead | None = None,
    ) -> Settlement:
        """Tell the node how the query ended, with the coordinator's signed audit-log `head`;
        for a release, whether it charged and logged it, and the node's signed head after."""
        request = node_pb2.CloseSessionRequest(
            query_id=query_id,
            outcome=outcome,
            answer_json=answer_json,
            released=released or {},
            suppressed=suppressed,
            error=error,
            coordinator_head=node_codec.head_to_proto(head),
        )
        try:
            response = self._stub.CloseSession(request, timeout=min(30.0, deadline.remaining()))
            witness = node_codec.settle_witness_from_proto(response, f"node {self.party}")
        except grpc.RpcError as error_:
            raise party_error(self.party, self.address, error_) from None
        except QueryRefused as refused:
            raise PartyMisconfigured(str(refused)) from None
        if witness is not None and witness.head.party != self.party:
            raise PartyMisconfigured(
                f"node {self.party} at {self.address} signed its audit-log head as "
                f"{witness.head.party!r}",
            )
        return Settlement(bool(response.committed), witness)

    def close_session(self, query_id: str) -> None:
        """Best effort: ask the node to forget the query (it also expires idle sessions)."""
        with contextlib.suppress(grpc.RpcError):
            self._stub.CloseSession(node_pb2.CloseSessionRequest(query_id=query_id), timeout=10)

    def close(self) -> None:
        self._channel.close()
