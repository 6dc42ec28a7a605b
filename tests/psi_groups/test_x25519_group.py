"""The X25519 group: RFC 9380 known answers, commutativity with clamped scalars, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import elligator, x25519
from protocols.ristretto import InvalidPoint

VECTORS = Path(__file__).parent.parent / "protocols" / "vectors" / "curve25519_ell2_nu_kat.json"
KAT: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
RFC9380_DST = KAT["dst"].encode()
# RFC 7748 section 5.2, first vector: scalar, input u, output u (little-endian hex)
RFC7748 = (
    "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
)
# its second vector's input has the top bit set: RFC 7748 masks it, we refuse it
RFC7748_MASKED_INPUT = "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"
P = elligator.P


@pytest.mark.parametrize("case", KAT["vectors"], ids=lambda c: c["msg"][:8] or "empty")
def test_rfc9380_known_answers(case: dict[str, str]) -> None:
    """hash_to_field, the Elligator 2 map and the whole encoding, both implementations."""
    msg = case["msg"].encode()
    assert elligator.hash_to_field(msg, RFC9380_DST, 1) == [int(case["u0"], 16)]
    assert elligator.map_to_curve_u(int(case["u0"], 16)) == int(case["qx"], 16)
    assert elligator.map_reference(msg, RFC9380_DST) == int(case["qx"], 16)
    assert elligator.map_batch([msg], RFC9380_DST) == [int(case["qx"], 16)]
    assert elligator.encode_reference(msg, RFC9380_DST) == int(case["px"], 16)


def test_vector_file_domain_matches_code() -> None:
    assert KAT["hash_domain"].encode() == x25519.HASH_DOMAIN
    assert len(KAT["vectors"]) == 5


@pytest.mark.parametrize("case", KAT["own_elements"], ids=lambda c: c["element"][:12] or "empty")
def test_our_hash_to_point_known_answers(case: dict[str, str]) -> None:
    point = x25519.hash_to_point(case["element"].encode())
    assert point.hex() == case["point_hex"]
    x25519.validate_points(point)


def test_rfc7748_scalar_multiplication_through_blind_points() -> None:
    scalar, u, out = (bytes.fromhex(h) for h in RFC7748)
    assert x25519.blind_points(u, scalar) == out
    with pytest.raises(InvalidPoint):
        x25519.blind_points(bytes.fromhex(RFC7748_MASKED_INPUT), scalar)


def test_batch_matches_the_reference_in_order() -> None:
    messages = [b"user%d@example.com" % i for i in range(200)] + [b"", b"\x00" * 70]
    batch = elligator.map_batch(messages, x25519.HASH_DOMAIN)
    assert batch == [elligator.map_reference(m, x25519.HASH_DOMAIN) for m in messages]
    assert len(set(batch)) == len(batch)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=8, unique=True))
def test_blinding_commutes_with_clamped_scalars(elements: list[bytes]) -> None:
    a, b = x25519.random_scalar(), x25519.random_scalar()
    under_a = x25519.hash_and_blind(elements, a, len(elements))
    under_b = x25519.hash_and_blind(elements, b, len(elements))
    assert x25519.blind_points(under_a, b) == x25519.blind_points(under_b, a)
    # the querier's unblinding: its inverse takes its key off again
    assert x25519.blind_points(x25519.blind_points(under_b, a), x25519.invert_scalar(a)) == under_b
    # H is the RFC map under our domain tag, batch path and reference alike
    assert x25519.hash_points(elements) == b"".join(
        elligator.map_reference(e, x25519.HASH_DOMAIN).to_bytes(32, "little") for e in elements
    )
    # skipping clear_cofactor changes nothing a party sees but the public factor 8: blinding
    # the RFC's encoding equals blinding the map and then multiplying by 8
    encoded = b"".join(
        elligator.encode_reference(e, x25519.HASH_DOMAIN).to_bytes(32, "little") for e in elements
    )
    assert x25519.blind_points(encoded, a) == _times_eight(under_a)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_keys_are_clamped_and_invertible(seed: bytes) -> None:
    key = x25519.random_scalar()
    value = int.from_bytes(key, "little")
    assert value & 7 == 0 and value >> 254 == 1
    inverse = int.from_bytes(x25519.invert_scalar(key), "little")
    assert inverse & 7 == 0 and inverse >> 254 == 1
    assert value * inverse % x25519.ORDER == 1
    # an arbitrary clamped scalar has an inverse about half the time; never a wrong one
    try:
        other = int.from_bytes(x25519.invert_scalar(seed), "little")
    except ValueError:
        return
    assert x25519._clamp(seed) * other % x25519.ORDER == 1


def _twist_point() -> int:
    u = 2
    while elligator.is_square((u * u * u + elligator.J * u * u + u) % P):
        u += 1
    return u


@pytest.mark.parametrize(
    ("encoding", "why"),
    [
        (bytes(32), "all zero (order 2)"),
        ((1).to_bytes(32, "little"), "order 4"),
        ((P - 1).to_bytes(32, "little"), "order 4 on the twist"),
        *[
            (u.to_bytes(32, "little"), "order 8")
            for u in sorted(x25519.SMALL_ORDER)
            if u > 1 and u != P - 1
        ],
        ((P + 9).to_bytes(32, "little"), "non-canonical 9"),
        ((9 | 1 << 255).to_bytes(32, "little"), "top bit set"),
        (_twist_point().to_bytes(32, "little"), "on the twist"),
    ],
)
def test_bad_points_are_refused(encoding: bytes, why: str) -> None:
    good = x25519.hash_to_point(b"someone@example.com")
    stream = good + encoding
    with pytest.raises(InvalidPoint) as refused:
        x25519.blind_points(stream, x25519.random_scalar(), first_index=10)
    assert refused.value.index == 11, why
    with pytest.raises(InvalidPoint):
        x25519.validate_points(stream)


def _times_eight(points: bytes) -> bytes:
    """u(8 Q) for each u(Q): three x-only doublings (the RFC's clear_cofactor)."""
    out = b""
    for i in range(0, len(points), 32):
        u = int.from_bytes(points[i : i + 32], "little")
        for _ in range(3):
            u = elligator.double_u(u)
        out += u.to_bytes(32, "little")
    return out


def test_small_order_points_give_all_zero_in_both_libraries() -> None:
    """The list of small-order u's is right: libsodium and OpenSSL refuse each (all-zero output)."""
    scalar = x25519.random_scalar()
    key = X25519PrivateKey.from_private_bytes(scalar)
    for u in x25519.SMALL_ORDER:
        with pytest.raises(InvalidPoint):
            x25519._multiply(scalar, u.to_bytes(32, "little"), 0)
        with pytest.raises(ValueError):
            key.exchange(X25519PublicKey.from_public_bytes(u.to_bytes(32, "little")))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=16, unique=True))
def test_libsodium_and_openssl_agree(elements: list[bytes]) -> None:
    """The multiplication the protocol runs (libsodium) equals OpenSSL's X25519 point by point."""
    scalar = x25519.random_scalar()
    hashed = x25519.hash_points(elements)
    key = X25519PrivateKey.from_private_bytes(scalar)
    expected = b"".join(
        key.exchange(X25519PublicKey.from_public_bytes(hashed[i : i + 32]))
        for i in range(0, len(hashed), 32)
    )
    assert x25519.blind_points(hashed, scalar) == expected
    assert x25519.hash_and_blind(elements, scalar, len(elements)) == expected


def test_truncated_stream_is_refused() -> None:
    with pytest.raises(InvalidPoint, match="truncated"):
        x25519.blind_points(bytes(40), x25519.random_scalar())


def test_base_point_is_accepted() -> None:
    nine = (9).to_bytes(32, "little")
    x25519.validate_points(nine)
    assert len(x25519.blind_points(nine, x25519.random_scalar())) == 32
