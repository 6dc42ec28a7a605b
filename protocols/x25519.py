"""The X25519 PSI group: RFC 7748 X25519 (libsodium's, through ctypes) on Elligator 2 mapped points.

Points on the wire are 32-byte little-endian Montgomery u-coordinates, as X25519 reads and
writes them. H(x) = u(map_to_curve(hash_to_field(x))) with the suite
curve25519_XMD:SHA-512_ELL2_NU_ and the domain tag `HASH_DOMAIN` (protocols/elligator.py): the
RFC 9380 encoding without its clear_cofactor step, which the clamped scalar does (below). A
party blinds with X25519(k, u).

Which X25519: libsodium's crypto_scalarmult_curve25519 (the library rbcl already brings for
ristretto255) called through ctypes on slices of one buffer, rather than OpenSSL's through
`cryptography`, whose two Python objects per point (a public key, then the exchange) cost about
3 us of a 37 us multiplication on the 2-core machine; the ladders themselves run equally fast.
The tests check both implementations against RFC 7748's vectors and against each other.

Why the cofactor needs no clearing in H: a mapped point is Q = Q_l + T, Q_l in the subgroup of
order l and T of order dividing 8. The first X25519 any party applies to it has a clamped
scalar c, a multiple of 8, so it yields c Q_l (the torsion is killed, below), the same as with
the RFC's clear_cofactor done first up to the fixed public factor 8. No party ever publishes,
compares or caches anything but X25519 outputs and its own H(x) (kept only to be multiplied
again), so every value another party sees is in the subgroup of order l.

Why blinding and re-blinding commute although X25519 clamps every scalar (RFC 7748 5): the
clamped scalar is c = 2^254 + 8m, a multiple of the cofactor 8. The curve's group is
Z/l x Z/8 (l prime, ~2^252), so any point is P = P_l + T with 8T = 0, and cP = cP_l: the
torsion part is killed and every output lies in the subgroup of order l, on which c acts as
(c mod l). Hence X25519(c2, X25519(c1, u)) = u((c2 c1 mod l) P_l) = X25519(c1, X25519(c2, u)),
and the u-coordinate is the same for Q and -Q, so dropping y loses nothing the protocol needs.
Unblinding (the querier's step of a profile query) multiplies by a scalar d with
clamp(d) = c^-1 mod l, which exists only when (c^-1 - 2^254) / 8 mod l is below 2^251;
`random_scalar` draws keys until it is (about two draws). That leaves about 2^250 keys,
uniform on their set, so the discrete logarithm still costs about 2^125 group operations.

What a received point is checked for, like ristretto255's canonical-encoding check:
- exactly 32 bytes, u < p (a canonical encoding; RFC 7748 would silently reduce and mask);
- u on the curve, not on its quadratic twist (a Jacobi symbol): twist points would be harmless
  (the twist's order is 4 l' with l' prime, so c kills its small part and a result on the twist
  can never equal an honest point on the curve), but we refuse them to keep one rule: every
  point is a point of the group;
- the points of order dividing 8 (u in `SMALL_ORDER`, on the curve or the twist) are refused
  by their u-coordinate, as ristretto255 refuses the identity; X25519 would map them to the
  all-zero output (c T = 0), which libsodium refuses as well.
A point that is P_l plus torsion is accepted and behaves exactly as P_l: it can say nothing
that P_l does not.
"""

from __future__ import annotations

import ctypes
import secrets
from collections.abc import Sequence

import gmpy2

from protocols import elligator, sodium
from protocols.ristretto import InvalidPoint

NAME = "x25519"
POINT_BYTES = 32
SCALAR_BYTES = 32
HASH_DOMAIN = b"gongying/psi/v3/" + elligator.SUITE.encode()  # v3: the map without clearing
P = elligator.P
J = elligator.J
_P = gmpy2.mpz(P)
_J = gmpy2.mpz(J)
_scalarmult = sodium.LIBRARY.crypto_scalarmult_curve25519
ORDER = 2**252 + 27742317777372353535851937790883648493  # l, the prime subgroup's order
_INV8 = pow(8, -1, ORDER)
_TOP = 1 << 254
_REASON = "not a canonical curve25519 point of the group, or of small order"
SMALL_ORDER = frozenset(
    {
        0,
        1,
        P - 1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
    }
)
"""u-coordinates of the points of order 1, 2, 4 and 8 (curve and twist; RFC 7748 7)."""


def _clamp(scalar: bytes) -> int:
    value = int.from_bytes(scalar, "little")
    return (value & ~7 & ((1 << 255) - 1)) | _TOP


def _clamped_inverse(clamped: int) -> int | None:
    """d with d clamped and d = clamped^-1 mod l, or None when no clamped scalar is that."""
    m = (pow(clamped, -1, ORDER) - _TOP) * _INV8 % ORDER
    return _TOP + 8 * m if m < 1 << 251 else None


def random_scalar() -> bytes:
    """A clamped scalar, uniform over those whose inverse mod l is a clamped scalar too."""
    while True:
        clamped = _clamp(secrets.token_bytes(SCALAR_BYTES))
        if clamped % ORDER and _clamped_inverse(clamped) is not None:
            return clamped.to_bytes(SCALAR_BYTES, "little")


def invert_scalar(scalar: bytes) -> bytes:
    """The clamped scalar whose X25519 undoes `scalar`'s on the prime-order subgroup."""
    clamped = _clamp(scalar)
    inverse = _clamped_inverse(clamped) if clamped % ORDER else None
    if inverse is None:
        raise ValueError("this scalar has no clamped inverse (draw keys with random_scalar)")
    return inverse.to_bytes(SCALAR_BYTES, "little")


def hash_points(elements: Sequence[bytes]) -> bytes:
    """H(x) for each element, 32 bytes each, concatenated in order."""
    return b"".join(
        u.to_bytes(POINT_BYTES, "little") for u in elligator.map_batch(elements, HASH_DOMAIN)
    )


def hash_to_point(element: bytes) -> bytes:
    """H(x) for one element."""
    return hash_points([element])


def _multiply(scalar: bytes, points: bytes, first_index: int) -> bytes:
    """X25519(scalar, u) for each 32-byte encoding in `points` (already checked by `_check`).

    libsodium refuses (returns -1 for) an input of small order and an all-zero output.
    """
    source = ctypes.create_string_buffer(points, len(points))
    out = ctypes.create_string_buffer(len(points))
    byref = ctypes.byref
    for offset in range(0, len(points), POINT_BYTES):
        if _scalarmult(byref(out, offset), scalar, byref(source, offset)) != 0:
            raise InvalidPoint(first_index + offset // POINT_BYTES, _REASON)
    return out.raw


def hash_and_blind(elements: Sequence[bytes], scalar: bytes, count: int) -> bytes:
    """X25519(k, H(x)) for each element, concatenated in input order."""
    if len(elements) != count:
        raise ValueError(f"{len(elements)} elements given, {count} announced")
    try:
        return _multiply(scalar, hash_points(elements), 0)
    except InvalidPoint as error:  # a point of small order: about 2^-250 per element
        raise ValueError(f"element {error.index} hashed to a point of small order") from None


def _check(points: bytes, first_index: int) -> None:
    """Raise InvalidPoint unless every 32-byte encoding is canonical and on the curve."""
    if len(points) % POINT_BYTES:
        raise InvalidPoint(first_index + len(points) // POINT_BYTES, "truncated encoding")
    jacobi, mpz, from_bytes = gmpy2.jacobi, gmpy2.mpz, int.from_bytes
    view = memoryview(points)
    for i in range(len(points) // POINT_BYTES):
        u = from_bytes(view[i * POINT_BYTES : (i + 1) * POINT_BYTES], "little")
        if u >= P or u in SMALL_ORDER:
            raise InvalidPoint(first_index + i, _REASON)
        m = mpz(u)
        if jacobi(((m + _J) * m + 1) * m, _P) != 1:
            raise InvalidPoint(first_index + i, _REASON)


def blind_points(points: bytes, scalar: bytes, first_index: int = 0) -> bytes:
    """X25519(k, u) for each 32-byte encoding in `points`, every input validated first."""
    _check(points, first_index)
    return _multiply(scalar, points, first_index)


def validate_points(points: bytes, first_index: int = 0) -> None:
    """Raise InvalidPoint for the first encoding that is not a valid point of the group.

    The points of small order are refused here by their u-coordinates (and the multiplication
    refuses them again: libsodium checks its input against them and its output for all zero).
    """
    _check(points, first_index)
