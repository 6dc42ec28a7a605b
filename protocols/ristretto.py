"""The ristretto255 group from libsodium, batched over concatenated 32-byte encodings.

The library is rbcl's full libsodium, loaded once by protocols/sodium.py.
"""

from __future__ import annotations

import ctypes
import hashlib
from collections.abc import Iterable

from protocols import sodium

POINT_BYTES = 32
SCALAR_BYTES = 32
HASH_DOMAIN = b"gongying/psi/v1/ristretto255/"
IDENTITY = bytes(POINT_BYTES)


class InvalidPoint(ValueError):
    """A received encoding is not a canonical ristretto255 point, or it is the identity."""

    def __init__(self, index: int, reason: str = "not a canonical ristretto255 point") -> None:
        super().__init__(f"point {index} is invalid: {reason}")
        self.index = index
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidPoint], tuple[int, str]]:
        return (InvalidPoint, (self.index, self.reason))


_lib = sodium.LIBRARY
_from_hash = _lib.crypto_core_ristretto255_from_hash
_scalarmult = _lib.crypto_scalarmult_ristretto255
_is_valid = _lib.crypto_core_ristretto255_is_valid_point
_scalar_random = _lib.crypto_core_ristretto255_scalar_random
_scalar_invert = _lib.crypto_core_ristretto255_scalar_invert


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar modulo the group order, from libsodium's CSPRNG."""
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    _scalar_random(out)
    return out.raw


def invert_scalar(scalar: bytes) -> bytes:
    """The multiplicative inverse of a scalar (used by tests to unblind)."""
    out = ctypes.create_string_buffer(SCALAR_BYTES)
    if _scalar_invert(out, scalar) != 0:
        raise ValueError("scalar is zero and has no inverse")
    return out.raw


def hash_to_point(element: bytes) -> bytes:
    """Map an element to a group point: from_hash(SHA-512(domain || element))."""
    out = ctypes.create_string_buffer(POINT_BYTES)
    _from_hash(out, hashlib.sha512(HASH_DOMAIN + element).digest())
    return out.raw


def hash_and_blind(elements: Iterable[bytes], scalar: bytes, count: int) -> bytes:
    """k * hash_to_point(x) for each element, concatenated in input order."""
    out = ctypes.create_string_buffer(POINT_BYTES * count)
    point = ctypes.create_string_buffer(POINT_BYTES)
    byref = ctypes.byref
    sha512 = hashlib.sha512
    written = 0
    for element in elements:
        if written == count:
            raise ValueError(f"more than the {count} elements announced")
        _from_hash(point, sha512(HASH_DOMAIN + element).digest())
        if _scalarmult(byref(out, POINT_BYTES * written), scalar, point) != 0:
            raise ValueError(f"element {written} hashed to a point that blinds to the identity")
        written += 1
    if written != count:
        raise ValueError(f"{written} elements given, {count} announced")
    return out.raw


def blind_points(points: bytes, scalar: bytes, first_index: int = 0) -> bytes:
    """k * P for each 32-byte encoding in `points`; every input is validated on the way.

    libsodium's scalar multiplication decodes its input (rejecting non-canonical encodings) and
    refuses an identity result, so one call validates and multiplies. `first_index` only makes
    error messages name the point's position in the whole stream.
    """
    if len(points) % POINT_BYTES:
        raise InvalidPoint(first_index + len(points) // POINT_BYTES, "truncated encoding")
    count = len(points) // POINT_BYTES
    out = ctypes.create_string_buffer(len(points))
    byref = ctypes.byref
    view = memoryview(points)
    for i in range(count):
        chunk = bytes(view[i * POINT_BYTES : (i + 1) * POINT_BYTES])
        if _scalarmult(byref(out, POINT_BYTES * i), scalar, chunk) != 0:
            raise InvalidPoint(first_index + i, "not a canonical ristretto255 point, or identity")
    return out.raw


def validate_points(points: bytes, first_index: int = 0) -> None:
    """Raise InvalidPoint for the first encoding that is not a valid non-identity point."""
    if len(points) % POINT_BYTES:
        raise InvalidPoint(first_index + len(points) // POINT_BYTES, "truncated encoding")
    view = memoryview(points)
    for i in range(len(points) // POINT_BYTES):
        encoding = bytes(view[i * POINT_BYTES : (i + 1) * POINT_BYTES])
        if encoding == IDENTITY or _is_valid(encoding) != 1:
            raise InvalidPoint(first_index + i, "not a canonical ristretto255 point, or identity")


def hash_points(elements: Iterable[bytes]) -> bytes:
    """hash_to_point for each element, concatenated in order."""
    return b"".join(hash_to_point(element) for element in elements)
