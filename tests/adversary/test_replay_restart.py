"""Replays after restart (issue 12 #6): a node keeps the nonces of signed queries in its ledger
database, so a signed query replayed after every node restarted is refused (and audited) until
it expires, while a freshly signed one still runs."""

from __future__ import annotations

import uuid

import grpc
import pytest

from client.sdk import QuerySigner
from tests.adversary.deviating import BRAND, PARTIES, RETAILER_A, Deployment
from wire.v1 import coordinator_pb2, node_pb2


def _overlap(deployment: Deployment, query_id: str) -> coordinator_pb2.OverlapRequest:
    signer = QuerySigner.from_file(BRAND, deployment.certs.parties[BRAND].sign_key)
    parties = [BRAND, RETAILER_A]
    return coordinator_pb2.OverlapRequest(
        query_id=query_id,
        parties=parties,
        id_type="email",
        signed=signer.sign(query_id, "overlap", parties, "email"),
    )


def _restart_every_node(deployment: Deployment) -> None:
    for party in PARTIES:
        deployment.stop_node(party)
    for party in PARTIES:
        deployment.start_node(party)  # same config, ports, ledger and audit log


def test_a_signed_query_replayed_after_a_restart_is_refused(deployment: Deployment) -> None:
    query_id = f"replayed-{uuid.uuid4().hex[:8]}"
    request = _overlap(deployment, query_id)
    stub = deployment.coordinator_stub(BRAND)
    first = stub.RunOverlap(request, timeout=60)
    assert first.all_parties > 0
    _restart_every_node(deployment)
    for party in (BRAND, RETAILER_A):  # the restarted nodes read the nonce from their ledger
        assert len(deployment.nodes[party].service.governance.replays) > 0
    with pytest.raises(grpc.RpcError) as caught:
        deployment.coordinator_stub(BRAND).RunOverlap(request, timeout=60)
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "was already used" in (caught.value.details() or "")
    refused = [r for r in deployment.records(BRAND, query_id) if r.record.decision == "refused"]
    assert [(r.record.rule, r.record.requester) for r in refused] == [("signed_query", BRAND)]
    # replayed straight at a restarted node, as a deviating coordinator would: refused too
    opening = node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=node_pb2.QUERY_KIND_OVERLAP,
        id_type="email",
        profile_version=deployment.nodes[RETAILER_A].config.normalisation.label(),
        parties=[BRAND, RETAILER_A],
        role=node_pb2.SESSION_ROLE_MEMBER,
        signed=request.signed,
    )
    with pytest.raises(grpc.RpcError) as direct:
        deployment.node(RETAILER_A).OpenSession(opening)
    assert isinstance(direct.value, grpc.Call)
    assert direct.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # (the coordinator's replay stopped at brand's node, opened first as the querier's: this
    # direct replay is the only one retailer_a saw)
    decisions = [r.record.decision for r in deployment.records(RETAILER_A, query_id)]
    assert decisions == ["released", "refused"]
    # the restarted deployment answers a freshly signed query
    fresh = deployment.coordinator_stub(BRAND).RunOverlap(
        _overlap(deployment, f"fresh-{uuid.uuid4().hex[:8]}"), timeout=60
    )
    assert fresh.all_parties == first.all_parties
