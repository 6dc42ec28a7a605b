"""The node's gRPC servicer: decode, call the NodeService, encode; errors via one table."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from model.errors import QueryRefused
from node.owner_terms import SignedAggregate
from node.profile_release import ReleaseRequest
from node.profile_steps import MAX_DECRYPT_CELLS
from node.service import NodeService
from node.sessions import SessionRequest
from node.set_blinding import ReblindRequest
from protocols.paillier import PaillierPublicKey
from runtime.identity import peer_identity
from wire import node_serde as codec
from wire.status import reported
from wire.streams import point_messages, read_header, unframe
from wire.v1 import node_pb2, node_pb2_grpc, points_pb2


class PartyNodeServicer(node_pb2_grpc.PartyNodeServicer):
    """Thin adapter from gRPC to NodeService."""

    def __init__(self, service: NodeService) -> None:
        self.service = service
        self.party = service.config.party

    def Describe(
        self, request: node_pb2.DescribeRequest, context: grpc.ServicerContext
    ) -> node_pb2.DescribeResponse:
        with reported(context, f"{self.party} Describe"):
            return codec.description_to_proto(self.service.describe())

    def OpenSession(
        self, request: node_pb2.OpenSessionRequest, context: grpc.ServicerContext
    ) -> node_pb2.OpenSessionResponse:
        with reported(context, f"{self.party} OpenSession"):
            opened = self.service.open_session(
                SessionRequest(
                    query_id=request.query_id,
                    kind=codec.KIND_NAMES.get(request.kind, "unspecified"),
                    role=codec.ROLE_NAMES.get(request.role, "member"),
                    id_type=request.id_type,
                    profile_version=request.profile_version,
                    parties=tuple(request.parties),
                    attributes=tuple(request.attributes),
                    paillier_n=int.from_bytes(request.paillier_n, "big") or None,
                    signed=codec.signed_from_proto(request.signed)
                    if request.HasField("signed")
                    else None,
                    requester=peer_identity(context) or "",
                    paillier_key_signature=request.paillier_key_signature,
                    querier_set=request.querier_set_fingerprint,
                    psi_group=request.psi_group,
                )
            )
            return codec.session_opened_to_proto(opened)

    def StreamOwnSet(
        self, request: node_pb2.StreamOwnSetRequest, context: grpc.ServicerContext
    ) -> Iterator[points_pb2.PointMessage]:
        with reported(context, f"{self.party} StreamOwnSet"):
            header = points_pb2.StreamHeader(query_id=request.query_id, set_owner=self.party)
            yield from point_messages(header, self.service.own_set(request.query_id))

    def Reblind(
        self, request_iterator: Iterator[points_pb2.PointMessage], context: grpc.ServicerContext
    ) -> Iterator[points_pb2.PointMessage]:
        with reported(context, f"{self.party} Reblind"):
            header = read_header(request_iterator, f"{self.party} Reblind")
            source = f"{self.party} Reblind of {header.set_owner or 'unnamed'}'s set"
            chunks = unframe(request_iterator, 32, "points", source)
            request = ReblindRequest(
                header.query_id,
                header.set_owner,
                header.preserve_order,
                header.unblind,
                header.reblinded_by,
                header.reblind_signature,
            )
            blinded = self.service.reblind(request, chunks)
            reply = points_pb2.StreamHeader(
                query_id=header.query_id,
                set_owner=header.set_owner,
                preserve_order=header.preserve_order,
                reblind_signature=blinded.signature,
                reblinded_by=self.party if blinded.signature else "",
            )
            yield from point_messages(reply, blinded.points)

    def Aggregate(
        self, request_iterator: Iterator[node_pb2.IndicatorMessage], context: grpc.ServicerContext
    ) -> node_pb2.AggregateResponse:
        with reported(context, f"{self.party} Aggregate"):
            source = f"{self.party} Aggregate indicators"
            header = read_header(request_iterator, source)
            session = self.service.sessions.get(header.query_id)
            if session.paillier_n is None:
                raise QueryRefused(f"query {header.query_id} has no owner session here")
            public_key = PaillierPublicKey(session.paillier_n)
            chunks = unframe(request_iterator, public_key.ciphertext_width, "ciphertexts", source)
            aggregate = self.service.aggregate(header.query_id, header.key_fingerprint, chunks)
            terms, signature = self.service.owner_terms(header.query_id, aggregate)
            return codec.aggregate_to_proto(self.party, public_key, aggregate, terms, signature)

    def ReleaseProfile(
        self, request: node_pb2.ReleaseProfileRequest, context: grpc.ServicerContext
    ) -> node_pb2.ReleaseProfileResponse:
        with reported(context, f"{self.party} ReleaseProfile"):
            if self.service.querier_key is None:
                raise QueryRefused(f"{self.party} holds no Paillier key: it is no querier")
            public_key = self.service.querier_key.public_key
            try:
                aggregates = [
                    SignedAggregate(
                        codec.aggregate_from_proto(public_key, a),
                        codec.terms_from_proto(a.terms),
                        a.terms_signature,
                    )
                    for a in request.aggregates
                ]
            except ValueError as error:
                raise QueryRefused(f"{self.party} ReleaseProfile: {error}") from None
            if sum(len(a.cells) for a in request.aggregates) > MAX_DECRYPT_CELLS:
                raise QueryRefused(f"at most {MAX_DECRYPT_CELLS} aggregate cells per request")
            profiles = self.service.release_profile(
                ReleaseRequest(
                    request.query_id, request.key_fingerprint, aggregates, list(request.combined)
                )
            )
            return node_pb2.ReleaseProfileResponse(profiles_json=codec.profiles_to_json(profiles))

    def CloseSession(
        self, request: node_pb2.CloseSessionRequest, context: grpc.ServicerContext
    ) -> node_pb2.CloseSessionResponse:
        with reported(context, f"{self.party} CloseSession"):
            coordinator_head = codec.head_from_proto(request.coordinator_head, "the coordinator")
            forgotten, committed = self.service.close(
                request.query_id,
                outcome=request.outcome or "failed",
                answer_json=request.answer_json,
                released=dict(request.released),
                suppressed=request.suppressed,
                error=request.error,
                coordinator_head=coordinator_head,
            )
            witness = self.service.settle_witness(request.query_id)
            return node_pb2.CloseSessionResponse(
                forgotten=forgotten,
                committed=committed,
                head=codec.head_to_proto(witness.head if witness else None),
                epsilon=(witness.epsilon or 0.0) if witness else 0.0,
            )
