"""A deviating coordinator asks nodes to take their key off points they did not sign for (issue 12
#1): an owner its own list, the querier its own output, a multiple of it, a list another owner
signed, a second set; each is refused over mutual TLS and audited, while the honest profile query
through the real coordinator still equals the pandas truth."""

from __future__ import annotations

import uuid

import grpc
import pytest

from gongying.demo_profile import differences, profile_truths
from protocols import psi
from tests.adversary.deviating import (
    BRAND,
    OWNERS,
    PROFILE_ATTRIBUTES,
    RETAILER_A,
    RETAILER_B,
    Deployment,
    open_profile,
    own_set,
    reblind,
)
from wire.v1 import node_pb2, points_pb2


def _id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _owner_step(
    deployment: Deployment, query_id: str, owner: str
) -> tuple[points_pb2.StreamHeader, bytes]:
    """The honest first step: brand's set re-blinded (and signed) by `owner`."""
    mine = own_set(deployment, BRAND, query_id)
    header = points_pb2.StreamHeader(query_id=query_id, set_owner=BRAND)
    return reblind(deployment, owner, header, mine)


def _unblind_request(
    query_id: str, owner: str, signature: bytes = b"", set_owner: str = BRAND
) -> points_pb2.StreamHeader:
    return points_pb2.StreamHeader(
        query_id=query_id,
        set_owner=set_owner,
        unblind=True,
        reblinded_by=owner,
        reblind_signature=signature,
    )


def _refused(
    deployment: Deployment, party: str, header: points_pb2.StreamHeader, points: bytes
) -> str:
    """Send the request; assert it is refused (PERMISSION_DENIED) with no point coming back,
    and that `party`'s audit log holds the refusal; the refusal's message."""
    with pytest.raises(grpc.RpcError) as caught:
        reblind(deployment, party, header, points)
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    details = caught.value.details() or ""
    assert "\n" not in details
    records = deployment.records(party, header.query_id)
    decision, error = records[-1].record.decision, records[-1].record.error or ""
    assert decision == "refused" and error and details.endswith(error)
    assert records[-1].record.rule == "unblind"
    return details


def _close(deployment: Deployment, query_id: str) -> None:
    for party in deployment.nodes:
        deployment.node(party).CloseSession(
            node_pb2.CloseSessionRequest(query_id=query_id, outcome="failed", error="test over")
        )


def test_an_owner_does_not_unblind_its_own_list(deployment: Deployment) -> None:
    query_id = _id("own-list")
    open_profile(deployment, query_id, [RETAILER_A])
    listed = own_set(deployment, RETAILER_A, query_id)  # k_D * H(x), x its members
    header = _unblind_request(query_id, RETAILER_A, set_owner=RETAILER_A)
    assert "owner session" in _refused(deployment, RETAILER_A, header, listed)
    # the refusal ended the query at retailer_a: its key is gone
    with pytest.raises(grpc.RpcError) as caught:
        own_set(deployment, RETAILER_A, query_id)
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    _close(deployment, query_id)


def test_the_querier_does_not_unblind_its_own_output(deployment: Deployment) -> None:
    query_id = _id("own-output")
    open_profile(deployment, query_id, [RETAILER_A])
    mine = own_set(deployment, BRAND, query_id)  # k_Q * H(y)
    message = _refused(deployment, BRAND, _unblind_request(query_id, RETAILER_A), mine)
    assert "retailer_a signed no re-blinding" in message
    _close(deployment, query_id)


@pytest.mark.parametrize("forgery", ["own output", "multiple of own output", "owner's list"])
def test_the_querier_unblinds_nothing_the_owner_did_not_sign(
    deployment: Deployment, forgery: str
) -> None:
    """With a genuine owner signature in hand, the coordinator sends other points under it."""
    query_id = _id("forged")
    open_profile(deployment, query_id, [RETAILER_A])
    signed, _ = _owner_step(deployment, query_id, RETAILER_A)
    assert signed.reblinded_by == RETAILER_A and len(signed.reblind_signature) == 64
    mine = own_set(deployment, BRAND, query_id)
    points = {
        "own output": lambda: mine,
        "multiple of own output": lambda: psi.PsiParty.fresh().reblind(mine),
        "owner's list": lambda: own_set(deployment, RETAILER_A, query_id)[: len(mine)],
    }[forgery]()
    header = _unblind_request(query_id, RETAILER_A, signed.reblind_signature)
    assert "not those retailer_a signed" in _refused(deployment, BRAND, header, points)
    _close(deployment, query_id)


def test_a_signature_binds_its_owner_and_query(deployment: Deployment) -> None:
    """retailer_b's signature passed off as retailer_a's, and a signature from another query."""
    first, second = _id("bound"), _id("bound")
    open_profile(deployment, first, OWNERS)
    open_profile(deployment, second, OWNERS)
    by_b, points_b = _owner_step(deployment, first, RETAILER_B)
    header = _unblind_request(first, RETAILER_A, by_b.reblind_signature)
    assert "not those retailer_a signed" in _refused(deployment, BRAND, header, points_b)
    by_a, points_a = _owner_step(deployment, second, RETAILER_A)
    other = _unblind_request(first, RETAILER_A, by_a.reblind_signature)
    with pytest.raises(grpc.RpcError):  # `first` is over at brand since its refusal
        reblind(deployment, BRAND, other, points_a)
    third = _id("bound")
    open_profile(deployment, third, OWNERS)
    moved = _unblind_request(third, RETAILER_A, by_a.reblind_signature)
    assert "not those retailer_a signed" in _refused(deployment, BRAND, moved, points_a)
    for query_id in (first, second, third):
        _close(deployment, query_id)


def test_once_per_owner_and_query_at_both_ends(deployment: Deployment) -> None:
    query_id = _id("once")
    opened = open_profile(deployment, query_id, [RETAILER_A])
    signed, points = _owner_step(deployment, query_id, RETAILER_A)
    header = _unblind_request(query_id, RETAILER_A, signed.reblind_signature)
    _, unblinded = reblind(deployment, BRAND, header, points)  # the honest step
    assert len(unblinded) == 32 * opened[BRAND].set_size
    # retailer_a signs one re-blinding per query, brand unblinds one per owner
    again = points_pb2.StreamHeader(query_id=query_id, set_owner=BRAND)
    assert "once per query" in _refused(deployment, RETAILER_A, again, points)
    assert "once per owner" in _refused(deployment, BRAND, header, points)
    _close(deployment, query_id)


def test_the_honest_profile_query_equals_the_pandas_truth(deployment: Deployment) -> None:
    with deployment.client(BRAND) as client:
        result = client.profile(BRAND, list(OWNERS), list(PROFILE_ATTRIBUTES))
    truths = profile_truths(deployment.paths, BRAND, list(OWNERS), "email")
    assert differences(result, truths) == []
    for owner in OWNERS:  # exact mode needs k >= 5: the audit may hide an overlap for its bins
        shared = result.profile(owner)
        assert truths[owner].matched > 0
        if shared.overlap is None:
            assert shared.release.label("overlap") == "suppressed"
        else:
            assert shared.overlap == truths[owner].matched
    assert all(node.service.sessions.open_count() == 0 for node in deployment.nodes.values())
