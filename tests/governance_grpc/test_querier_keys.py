"""A querier's Paillier key over real gRPC with mTLS: weak or substituted keys are refused by the
owner, packed indicators by the querier's node; every refusal audited, nothing released."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import gmpy2
import grpc
import pytest

from client.sdk import QueryError
from coordinator import profile_run as coordinator_profile
from protocols.paillier import PaillierPrivateKey, PaillierPublicKey, encrypt, generate_keypair
from protocols.querier_keys import key_binding_statement
from runtime.certs import COORDINATOR
from runtime.signing import load_signing_key
from tests.governance_grpc.conftest import (
    BRAND,
    PARTIES,
    RETAILER_A,
    Expected,
    Governed,
    open_request,
    rpc_code,
)
from wire.node_serde import int_to_bytes
from wire.v1 import node_pb2

ATTRIBUTES = ["age_band", "gender"]


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _prime(bits: int, seed: int) -> int:
    """A prime of `bits` bits with its top two bits set (so products keep their full size)."""
    return int(gmpy2.next_prime(gmpy2.mpz(3) << (bits - 2) | seed))


def details(error: grpc.RpcError) -> str:
    assert isinstance(error, grpc.Call)
    return str(error.details())


@pytest.fixture(scope="module")
def coordinator_key() -> PaillierPublicKey:
    return generate_keypair(2048)[0]


P = _prime(1024, 12345)
WEAK = {
    "n = p^2": (P * P, "perfect power"),
    "n = 3 x odd": (3 * _prime(2047, 4242), "small prime factor 3"),
    "a prime n": (_prime(2048, 999), "is prime"),
    "a 1024-bit n": (_prime(512, 1) * _prime(512, 3), "1024 bits; at least 2048"),
}


def brand_key(governed: Governed) -> PaillierPrivateKey:
    return PaillierPrivateKey.from_json((governed.root / "brand.paillier.json").read_text())


def owner_request(
    governed: Governed, query_id: str, modulus: int, signed_by: str | None = BRAND
) -> node_pb2.OpenSessionRequest:
    """The owner's OpenSession for a brand profile, with `modulus` signed by `signed_by`."""
    request = open_request(query_id, [BRAND, RETAILER_A])
    request.kind = node_pb2.QUERY_KIND_PROFILE
    request.role = node_pb2.SESSION_ROLE_OWNER
    request.attributes.extend(ATTRIBUTES)
    request.paillier_n = int_to_bytes(modulus)
    request.signed.CopyFrom(
        governed.signer(BRAND).sign(
            query_id,
            "profile",
            [BRAND, RETAILER_A],
            "email",
            owners=[RETAILER_A],
            attributes=ATTRIBUTES,
        )
    )
    if signed_by is not None:
        key = load_signing_key(governed.certs.parties[signed_by].sign_key)
        statement = key_binding_statement(query_id, PaillierPublicKey(modulus))
        request.paillier_key_signature = key.sign(statement)
    return request


def assert_key_refused(governed: Governed, query_id: str) -> str:
    """retailer_a refused with `code`, logged `refused` under rule querier_key, kept nothing."""
    records = governed.records(RETAILER_A, query_id)
    assert [r.record.decision for r in records] == ["refused"]
    assert records[0].record.rule == "querier_key"
    assert governed.open_sessions() == {p: 0 for p in PARTIES}
    governed.expect(
        Expected(
            query_id,
            (BRAND, RETAILER_A),
            "refused",
            (RETAILER_A,),
            "querier_key",
            via_coordinator=False,
        )
    )
    return records[0].record.error or ""


@pytest.mark.parametrize("label", list(WEAK))
def test_a_weak_key_is_refused_by_the_owner(governed: Governed, label: str) -> None:
    modulus, reason = WEAK[label]
    query_id = new_id("weak-key")
    stub = governed.node_stub(RETAILER_A)
    with pytest.raises(grpc.RpcError) as caught:
        stub.OpenSession(owner_request(governed, query_id, modulus), timeout=30)
    assert rpc_code(caught.value) == grpc.StatusCode.FAILED_PRECONDITION
    message = details(caught.value)
    assert reason in message and "querier 'brand'" in message and "retailer_a" in message
    assert modulus.bit_length() >= 1024
    assert reason in assert_key_refused(governed, query_id)


@pytest.mark.parametrize("signer", [COORDINATOR, None], ids=["coordinator-signed", "unsigned"])
def test_the_coordinators_own_key_in_place_of_the_queriers_is_refused(
    governed: Governed, coordinator_key: PaillierPublicKey, signer: str | None
) -> None:
    """A sound 2048-bit key, but the coordinator's: it can sign it only with its own key."""
    query_id = new_id("substituted-key")
    request = owner_request(governed, query_id, coordinator_key.n, signed_by=signer)
    with pytest.raises(grpc.RpcError) as caught:
        governed.node_stub(RETAILER_A).OpenSession(request, timeout=30)
    assert rpc_code(caught.value) == grpc.StatusCode.PERMISSION_DENIED
    expected = "not the one querier 'brand' signed" if signer else "carries no signature"
    assert expected in details(caught.value)
    assert expected in assert_key_refused(governed, query_id)


def test_the_queriers_key_signed_for_another_query_is_refused(governed: Governed) -> None:
    key = brand_key(governed)
    query_id = new_id("moved-key")
    request = owner_request(governed, query_id, key.public_key.n)
    other = owner_request(governed, new_id("other"), key.public_key.n)
    request.paillier_key_signature = other.paillier_key_signature
    with pytest.raises(grpc.RpcError) as caught:
        governed.node_stub(RETAILER_A).OpenSession(request, timeout=30)
    assert rpc_code(caught.value) == grpc.StatusCode.PERMISSION_DENIED
    assert "signed for query" in assert_key_refused(governed, query_id)


def test_the_queriers_own_signed_key_is_accepted(governed: Governed) -> None:
    """The control: the same request with the querier's key, signed by the querier, opens."""
    query_id = new_id("good-key")
    stub = governed.node_stub(RETAILER_A)
    opened = stub.OpenSession(
        owner_request(governed, query_id, brand_key(governed).public_key.n), timeout=30
    )
    assert opened.party == RETAILER_A and opened.set_size > 0
    stub.CloseSession(
        node_pb2.CloseSessionRequest(query_id=query_id, outcome="failed", error="test"),
        timeout=30,
    )
    governed.expect(Expected(query_id, (BRAND, RETAILER_A), "failed", via_coordinator=False))


@pytest.fixture
def packed_indicators(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A modified coordinator: Enc(2^(128 s)) for the s-th member instead of Enc(1)."""

    def packed(public_key: PaillierPublicKey, matched: object, masks: list[int]) -> bytes:
        width = public_key.ciphertext_width
        out = bytearray()
        for slot, mask in enumerate(masks):
            value = 1 << (128 * (slot % 15))
            out += encrypt(public_key, value, mask).to_bytes(width, "big")
        return bytes(out)

    monkeypatch.setattr(coordinator_profile, "encrypt_indicators", packed)
    yield


@pytest.mark.usefixtures("packed_indicators")
def test_packed_indicators_are_refused_by_the_queriers_node(governed: Governed) -> None:
    query_id = new_id("packed")
    with governed.client(BRAND) as client, pytest.raises(QueryError) as caught:
        client.profile(BRAND, [RETAILER_A], ATTRIBUTES, query_id=query_id)
    assert caught.value.code == "FAILED_PRECONDITION"
    message = str(caught.value)
    assert "brand releases nothing" in message and "owner 'retailer_a'" in message
    assert "overlap decrypts outside its plausible range" in message
    refusals = governed.records(BRAND, query_id)
    assert [(r.record.decision, r.record.rule) for r in refusals] == [("refused", "plausibility")]
    for party in (*PARTIES, COORDINATOR):
        records = governed.records(party, query_id)
        assert all(r.record.decision != "released" and not r.record.released for r in records)
    assert governed.open_sessions() == {p: 0 for p in PARTIES}
    governed.expect(Expected(query_id, (BRAND, RETAILER_A), "refused", (BRAND,), "plausibility"))
