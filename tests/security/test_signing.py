"""Signed queries: round trip, tampering, wrong key or signer, expiry, replay, the proto."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.certs import CertSet
from runtime.signing import (
    BadSignature,
    MalformedQuery,
    QueryExpired,
    QueryFields,
    QueryReplayed,
    ReplayGuard,
    SignedQuery,
    load_signing_key,
    load_verify_key,
    new_query_fields,
    sign_query,
    verify_query,
)
from wire.v1 import query_pb2

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def _fields(**changes: object) -> QueryFields:
    fields = new_query_fields(
        "q-1",
        "profile",
        "brand",
        ["brand", "retailer_a", "retailer_b"],
        "email",
        owners=["retailer_a", "retailer_b"],
        attributes=["age_band", "spend_12m"],
        now=NOW,
    )
    return dataclasses.replace(fields, **changes)  # type: ignore[arg-type]


def test_round_trip_returns_the_signed_fields() -> None:
    fields = _fields()
    signed = sign_query(fields, KEY)
    assert signed.signer == "brand"
    assert verify_query(signed, KEY.public_key(), NOW) == fields


def test_canonical_bytes_are_deterministic_and_sorted() -> None:
    fields = _fields()
    assert fields.canonical_bytes() == fields.canonical_bytes()
    document = json.loads(fields.canonical_bytes())
    assert list(document) == sorted(document)
    assert document["v"] == "gongying.query.v1"
    assert document["expires_at"].endswith("+00:00")
    assert document["parties"] == ["brand", "retailer_a", "retailer_b"]


def test_fresh_nonces_differ() -> None:
    assert _fields().nonce != new_query_fields("q", "overlap", "b", ["b", "r"], "email").nonce


@pytest.mark.parametrize(
    "edit",
    [
        ("attributes", ["age_band", "spend_12m", "income"]),
        ("owners", ["retailer_a"]),
        ("parties", ["brand", "retailer_a"]),
        ("kind", "overlap"),
        ("id_type", "phone"),
        ("query_id", "q-2"),
    ],
)
def test_tampered_payload_is_refused(edit: tuple[str, object]) -> None:
    signed = sign_query(_fields(), KEY)
    document = json.loads(signed.payload)
    document[edit[0]] = edit[1]
    forged = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(BadSignature, match="'brand'"):
        verify_query(SignedQuery(forged, signed.signature, "brand"), KEY.public_key(), NOW)


def test_flipped_bit_is_refused() -> None:
    signed = sign_query(_fields(), KEY)
    flipped = bytes([signed.payload[0] ^ 1]) + signed.payload[1:]
    with pytest.raises(BadSignature):
        verify_query(SignedQuery(flipped, signed.signature, "brand"), KEY.public_key(), NOW)


def test_wrong_key_is_refused() -> None:
    signed = sign_query(_fields(), KEY)
    with pytest.raises(BadSignature, match="does not verify"):
        verify_query(signed, Ed25519PrivateKey.generate().public_key(), NOW)


def test_signer_other_than_querier_is_refused() -> None:
    signed = sign_query(_fields(), KEY)
    with pytest.raises(BadSignature, match="signed by 'retailer_a' but names querier 'brand'"):
        verify_query(dataclasses.replace(signed, signer="retailer_a"), KEY.public_key(), NOW)


def test_expired_query_is_refused() -> None:
    signed = sign_query(_fields(), KEY)
    expires = _fields().expires_at
    assert verify_query(signed, KEY.public_key(), expires - timedelta(microseconds=1))
    with pytest.raises(QueryExpired, match="query 'q-1' from 'brand' expired"):
        verify_query(signed, KEY.public_key(), expires)
    with pytest.raises(QueryExpired):
        verify_query(signed, KEY.public_key(), NOW + timedelta(days=1))


def test_expiry_too_far_ahead_is_refused() -> None:
    signed = sign_query(_fields(expires_at=NOW + timedelta(days=30)), KEY)
    with pytest.raises(MalformedQuery, match="more than"):
        verify_query(signed, KEY.public_key(), NOW)


def test_naive_expiry_cannot_be_signed() -> None:
    with pytest.raises(MalformedQuery, match="timezone-aware"):
        sign_query(_fields(expires_at=datetime(2030, 1, 1)), KEY)


def test_non_canonical_but_signed_payload_is_refused() -> None:
    document = json.loads(_fields().canonical_bytes())
    loose = json.dumps(document, indent=1).encode()
    with pytest.raises(MalformedQuery, match="canonical"):
        verify_query(SignedQuery(loose, KEY.sign(loose), "brand"), KEY.public_key(), NOW)
    not_json = b"\xff"
    with pytest.raises(MalformedQuery, match="JSON"):
        verify_query(SignedQuery(not_json, KEY.sign(not_json), "brand"), KEY.public_key(), NOW)


def test_replay_is_refused_until_expiry() -> None:
    guard = ReplayGuard()
    fields = verify_query(sign_query(_fields(), KEY), KEY.public_key(), NOW)
    guard.check(fields, NOW)
    with pytest.raises(QueryReplayed, match="query 'q-1' from 'brand' was already used"):
        guard.check(fields, NOW + timedelta(minutes=1))
    other = _fields(nonce=b"\x01" * 16)
    guard.check(other, NOW)
    assert len(guard) == 2
    guard.check(_fields(nonce=b"\x02" * 16, expires_at=NOW + timedelta(hours=2)), fields.expires_at)
    assert len(guard) == 1  # both earlier nonces were forgotten at their expiry


def test_replay_guard_is_thread_safe() -> None:
    guard = ReplayGuard()
    fields = _fields()
    accepted: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(16)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            guard.check(fields, NOW)
            accepted.append(index)
        except QueryReplayed:
            refused.append(index)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 1
    assert len(refused) == 15


def test_proto_envelope_round_trip() -> None:
    fields = _fields()
    signed = sign_query(fields, KEY)
    wire = query_pb2.SignedQuery(
        payload=signed.payload, signature=signed.signature, signer=signed.signer
    ).SerializeToString()
    back = query_pb2.SignedQuery.FromString(wire)
    received = SignedQuery(back.payload, back.signature, back.signer)
    assert verify_query(received, KEY.public_key(), NOW) == fields


def test_keys_from_certs_init(certs: CertSet) -> None:
    brand = certs.parties["brand"]
    signed = sign_query(_fields(), load_signing_key(brand.sign_key))
    assert verify_query(signed, load_verify_key(brand.sign_pub), NOW).querier == "brand"
    with pytest.raises(BadSignature):
        verify_query(signed, load_verify_key(certs.parties["retailer_a"].sign_pub), NOW)
