"""The Python client for a coordinator: run queries, get plain result objects back."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from coordinator import codec
from coordinator.results import OverlapResult, ProfileResult
from gongying.certs import COORDINATOR
from gongying.serving import channel
from gongying.tls import ClientTLS as ClientTLS  # re-exported: the SDK's TLS files
from gongying.v1 import coordinator_pb2, coordinator_pb2_grpc


class QueryError(RuntimeError):
    """A query failed at the coordinator or a node; `code` is the gRPC status name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CoordinatorClient:
    """A connection to a coordinator at HOST:PORT; mutual TLS when `tls` is given.

    With `tls`, the coordinator's certificate must name `server_name`, and the querier's own
    certificate (a party or a `clients` name in coordinator.toml) is presented.
    """

    def __init__(
        self, address: str, tls: ClientTLS | None = None, server_name: str = COORDINATOR
    ) -> None:
        self.address = address
        self._channel = channel(address, tls, server_name=server_name)
        self._stub = coordinator_pb2_grpc.CoordinatorStub(self._channel)

    def __enter__(self) -> CoordinatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _failure(self, error: grpc.RpcError) -> QueryError:
        if not isinstance(error, grpc.Call):
            return QueryError("UNKNOWN", str(error))
        code = error.code()
        if code == grpc.StatusCode.UNAVAILABLE and "coordinator" not in (error.details() or ""):
            details = error.details() or ""
            if "node " not in details:
                return QueryError(
                    code.name, f"coordinator at {self.address} is unreachable: {details}"
                )
        return QueryError(code.name, error.details() or code.name)

    def parties(self, timeout: float = 10.0) -> dict[str, str]:
        """The parties the coordinator knows, with their node addresses."""
        try:
            response = self._stub.ListParties(coordinator_pb2.ListPartiesRequest(), timeout=timeout)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        return {p.party: p.address for p in response.parties}

    def overlap(
        self,
        parties: Sequence[str],
        id_type: str = "email",
        query_id: str = "",
        timeout: float = 900.0,
    ) -> OverlapResult:
        """How many members the parties share: every exclusive region, pairs and all parties."""
        request = coordinator_pb2.OverlapRequest(
            query_id=query_id, parties=list(parties), id_type=id_type
        )
        try:
            response = self._stub.RunOverlap(request, timeout=timeout)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        return codec.overlap_from_proto(response)

    def profile(
        self,
        querier: str,
        owners: Sequence[str],
        attributes: Sequence[str],
        id_type: str = "email",
        query_id: str = "",
        timeout: float = 900.0,
    ) -> ProfileResult:
        """Who the shared audience is: bins and numeric statistics per owner and combined."""
        request = coordinator_pb2.ProfileRequest(
            query_id=query_id,
            querier=querier,
            owners=list(owners),
            attributes=list(attributes),
            id_type=id_type,
        )
        try:
            response = self._stub.RunProfile(request, timeout=timeout)
        except grpc.RpcError as error:
            raise self._failure(error) from None
        return codec.profile_from_proto(response, tuple(owners), tuple(attributes))

    def close(self) -> None:
        self._channel.close()
