"""The coordinator's gRPC servicer: decode, call CoordinatorService, encode."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from coordinator import progress
from coordinator.service import CoordinatorService
from runtime.identity import peer_identity
from runtime.signing import SHARED
from wire import coordinator_serde as codec
from wire.status import reported
from wire.v1 import coordinator_pb2, coordinator_pb2_grpc


class CoordinatorServicer(coordinator_pb2_grpc.CoordinatorServicer):
    """Thin adapter from gRPC to CoordinatorService."""

    def __init__(self, service: CoordinatorService) -> None:
        self.service = service

    def ListParties(
        self, request: coordinator_pb2.ListPartiesRequest, context: grpc.ServicerContext
    ) -> coordinator_pb2.ListPartiesResponse:
        with reported(context, "coordinator ListParties"):
            return coordinator_pb2.ListPartiesResponse(
                parties=[
                    coordinator_pb2.PartyInfo(party=p, address=a)
                    for p, a in self.service.parties().items()
                ]
            )

    def RunOverlap(
        self, request: coordinator_pb2.OverlapRequest, context: grpc.ServicerContext
    ) -> coordinator_pb2.OverlapResponse:
        with reported(context, "overlap query"):
            remaining = context.time_remaining()
            result = self.service.overlap(
                list(request.parties),
                request.id_type,
                query_id=request.query_id,
                timeout=_query_timeout(remaining),
                signed=request.signed if request.HasField("signed") else None,
                requester=peer_identity(context) or "",
                on_cancel=context.add_callback,
                psi_groups=list(request.psi_groups),
            )
            return codec.overlap_to_proto(result)

    def RunProfile(
        self, request: coordinator_pb2.ProfileRequest, context: grpc.ServicerContext
    ) -> coordinator_pb2.ProfileResponse:
        with reported(context, "profile query"):
            remaining = context.time_remaining()
            result = self.service.profile(
                request.querier,
                list(request.owners),
                list(request.attributes),
                id_type=request.id_type or "email",
                query_id=request.query_id,
                timeout=_query_timeout(remaining),
                signed=request.signed if request.HasField("signed") else None,
                requester=peer_identity(context) or "",
                on_cancel=context.add_callback,
                audience=request.audience or SHARED,
                psi_groups=list(request.psi_groups),
            )
            return codec.profile_to_proto(result)

    def WatchQuery(
        self, request: coordinator_pb2.WatchQueryRequest, context: grpc.ServicerContext
    ) -> Iterator[coordinator_pb2.QueryProgress]:
        with reported(context, "watch query"):
            for update in progress.REGISTRY.watch(request.query_id, active=context.is_active):
                yield codec.progress_to_proto(update)


def _query_timeout(remaining: float | None) -> float | None:
    """The querier's remaining time, less a margin so that the coordinator's own explanation
    (which node did not answer) reaches the querier before the querier's deadline does."""
    if remaining is None or remaining >= 1e8:
        return None
    return max(0.1, remaining - min(3.0, remaining * 0.25))
