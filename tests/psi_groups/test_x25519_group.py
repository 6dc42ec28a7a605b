"""The X25519 group: RFC 9380 known answers, commutativity with clamped scalars, validation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import elligator, x25519
from protocols.ristretto import InvalidPoint

# RFC 9380 appendix J.4.2, suite curve25519_XMD:SHA-512_ELL2_NU_: (msg, u[0], Q.x, P.x)
RFC9380_DST = b"QUUX-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_NU_"
RFC9380_NU = [
    (
        b"",
        "608d892b641f0328523802a6603427c26e55e6f27e71a91a478148d45b5093cd",
        "51125222da5e763d97f3c10fcc92ea6860b9ccbbd2eb1285728f566721c1e65b",
        "1bb913f0c9daefa0b3375378ffa534bda5526c97391952a7789eb976edfe4d08",
    ),
    (
        b"abc",
        "46f5b22494bfeaa7f232cc8d054be68561af50230234d7d1d63d1d9abeca8da5",
        "7d56d1e08cb0ccb92baf069c18c49bb5a0dcd927eff8dcf75ca921ef7f3e6eeb",
        "7c22950b7d900fa866334262fcaea47a441a578df43b894b4625c9b450f9a026",
    ),
    (
        b"abcdef0123456789",
        "235fe40c443766ce7e18111c33862d66c3b33267efa50d50f9e8e5d252a40aaa",
        "3fbe66b9c9883d79e8407150e7c2a1c8680bee496c62fabe4619a72b3cabe90f",
        "31ad08a8b0deeb2a4d8b0206ca25f567ab4e042746f792f4b7973f3ae2096c52",
    ),
    (
        b"q128_" + b"q" * 128,
        "001e92a544463bda9bd04ddbe3d6eed248f82de32f522669efc5ddce95f46f5b",
        "227e0bb89de700385d19ec40e857db6e6a3e634b1c32962f370d26f84ff19683",
        "027877759d155b1997d0d84683a313eb78bdb493271d935b622900459d52ceaa",
    ),
    (
        b"a512_" + b"a" * 512,
        "1a68a1af9f663592291af987203393f707305c7bac9c8d63d6a729bdc553dc19",
        "3bcd651ee54d5f7b6013898aab251ee8ecc0688166fce6e9548d38472f6bd196",
        "5fd892c0958d1a75f54c3182a18d286efab784e774d1e017ba2fb252998b5dc1",
    ),
]
P = elligator.P


@pytest.mark.parametrize(("msg", "u0", "qx", "px"), RFC9380_NU)
def test_rfc9380_known_answers(msg: bytes, u0: str, qx: str, px: str) -> None:
    """hash_to_field, the Elligator 2 map and the whole encoding, both implementations."""
    assert elligator.hash_to_field(msg, RFC9380_DST, 1) == [int(u0, 16)]
    assert elligator.map_to_curve_u(int(u0, 16)) == int(qx, 16)
    assert elligator.encode_reference(msg, RFC9380_DST) == int(px, 16)
    assert elligator.encode_batch([msg], RFC9380_DST) == [int(px, 16)]


def test_batch_matches_the_reference_in_order() -> None:
    messages = [b"user%d@example.com" % i for i in range(200)] + [b"", b"\x00" * 70]
    batch = elligator.encode_batch(messages, x25519.HASH_DOMAIN)
    assert batch == [elligator.encode_reference(m, x25519.HASH_DOMAIN) for m in messages]
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
    # H is the RFC encoding under our domain tag, batch path and reference alike
    assert x25519.hash_points(elements) == b"".join(
        elligator.encode_reference(e, x25519.HASH_DOMAIN).to_bytes(32, "little") for e in elements
    )


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


def test_small_order_points_give_all_zero_in_openssl() -> None:
    """The list of small-order u's is right: OpenSSL refuses each (all-zero output)."""
    key = X25519PrivateKey.from_private_bytes(x25519.random_scalar())
    for u in x25519.SMALL_ORDER:
        with pytest.raises(InvalidPoint):
            x25519._multiply(key, [u.to_bytes(32, "little")], 0)


def test_truncated_stream_is_refused() -> None:
    with pytest.raises(InvalidPoint, match="truncated"):
        x25519.blind_points(bytes(40), x25519.random_scalar())


def test_base_point_is_accepted() -> None:
    nine = (9).to_bytes(32, "little")
    x25519.validate_points(nine)
    assert len(x25519.blind_points(nine, x25519.random_scalar())) == 32
