"""Paillier cryptosystem on gmpy2 integers: keys, raw homomorphic operations, checks, bytes.

Standard Paillier with g = n + 1, so Enc(m; r) = (1 + m*n) * r^n mod n^2. Functions here take
the *mask* ``r^n mod n^2`` rather than ``r``: masks are produced ahead of time by
``protocols.masks`` (DESIGN 3.4), so encryption and rerandomisation cost one multiplication.
Keys are generated here on gmpy2 (no GPL code at run time); keys and ciphertexts interoperate
with ``phe`` (python-paillier) in both directions, which the tests check with ``phe`` as oracle.

Security notes: plaintexts live in Z_n; callers that need negative values (noise) use
``decode_signed``. Ciphertexts that arrive from the wire must pass ``check_ciphertext`` (range,
unit of Z_n^2, bound to the key they claim) before any homomorphic use.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import gmpy2

PRODUCTION_KEY_BITS = (2048, 3072)
"""Modulus sizes allowed outside tests: 3072 by default, 2048 allowed by policy (DESIGN 3.4)."""

DEFAULT_KEY_BITS = 3072
TEST_KEY_MIN_BITS = 512
_PRIVATE_KEY_FORMAT = "gongying-paillier-private-key"
_PRIVATE_KEY_VERSION = 1


class PaillierError(ValueError):
    """Base class of the Paillier errors; never raised itself."""


class InvalidCiphertext(PaillierError):
    """A ciphertext is out of range, not a unit mod n^2, or bound to another key."""


class InvalidKey(PaillierError):
    """Key material is malformed, inconsistent, or of a size that is not allowed."""


@dataclass(frozen=True)
class PaillierPublicKey:
    """A Paillier public key: the modulus n (g is fixed to n + 1)."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 15 or self.n % 2 == 0:
            raise InvalidKey(f"Paillier modulus must be an odd integer >= 15, got {self.n}")

    @cached_property
    def n_mpz(self) -> Any:
        """n as a gmpy2 ``mpz`` (cached)."""
        return gmpy2.mpz(self.n)

    @cached_property
    def n_square(self) -> Any:
        """n^2 as a gmpy2 ``mpz`` (cached); ciphertexts live in Z*_{n^2}."""
        return self.n_mpz * self.n_mpz

    @property
    def bits(self) -> int:
        """Bit length of n."""
        return self.n.bit_length()

    @property
    def g(self) -> int:
        """The generator, fixed to n + 1."""
        return self.n + 1

    @property
    def ciphertext_width(self) -> int:
        """Length in bytes of a ciphertext encoded by ``ciphertext_to_bytes``."""
        return (int(self.n_square).bit_length() + 7) // 8

    @property
    def max_signed(self) -> int:
        """Largest positive value ``decode_signed`` returns; larger residues are negative."""
        return self.n // 2

    def fingerprint(self) -> bytes:
        """SHA-256 of n's big-endian bytes; binds ciphertexts and aggregates to this key."""
        return hashlib.sha256(self.to_bytes()).digest()

    def to_bytes(self) -> bytes:
        """n as minimal big-endian bytes."""
        return self.n.to_bytes((self.n.bit_length() + 7) // 8, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> PaillierPublicKey:
        """Decode a key written by ``to_bytes``."""
        if not data or data[0] == 0:
            raise InvalidKey("public key bytes are empty or not minimal big-endian")
        return cls(int.from_bytes(data, "big"))


class PaillierPrivateKey:
    """A Paillier private key (p, q) with the CRT constants for fast decryption."""

    __slots__ = ("_hp", "_hq", "_p", "_p_inverse", "_p_square", "_q", "_q_square", "public_key")

    def __init__(self, public_key: PaillierPublicKey, p: int, q: int) -> None:
        if p == q or p < 3 or q < 3 or p * q != public_key.n:
            raise InvalidKey("private key primes p, q do not factor the public modulus n")
        if p > q:
            p, q = q, p
        self.public_key = public_key
        self._p = gmpy2.mpz(p)
        self._q = gmpy2.mpz(q)
        self._p_square = self._p * self._p
        self._q_square = self._q * self._q
        try:
            self._p_inverse = gmpy2.invert(self._p, self._q)
            self._hp = self._h_function(self._p, self._p_square)
            self._hq = self._h_function(self._q, self._q_square)
        except ZeroDivisionError as exc:
            raise InvalidKey("private key primes p, q are not coprime") from exc

    @property
    def p(self) -> int:
        """The smaller prime factor of n."""
        return int(self._p)

    @property
    def q(self) -> int:
        """The larger prime factor of n."""
        return int(self._q)

    def __repr__(self) -> str:
        fingerprint = self.public_key.fingerprint().hex()[:16]
        return f"PaillierPrivateKey(bits={self.public_key.bits}, fingerprint={fingerprint})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PaillierPrivateKey)
            and self.public_key == other.public_key
            and self._p == other._p
        )

    def __hash__(self) -> int:
        return hash(self.public_key)

    def _h_function(self, x: Any, x_square: Any) -> Any:
        # h(x) = L_x(g^(x-1) mod x^2)^-1 mod x, with L_x(u) = (u - 1) / x.
        g_power = gmpy2.powmod(self.public_key.g, x - 1, x_square)
        return gmpy2.invert((g_power - 1) // x, x)

    def decrypt(self, ciphertext: int) -> int:
        """Decrypt to the residue m in [0, n) with CRT (two half-size exponentiations)."""
        c = gmpy2.mpz(ciphertext)
        m_p = (gmpy2.powmod(c, self._p - 1, self._p_square) - 1) // self._p * self._hp % self._p
        m_q = (gmpy2.powmod(c, self._q - 1, self._q_square) - 1) // self._q * self._hq % self._q
        u = (m_q - m_p) * self._p_inverse % self._q
        return int(m_p + u * self._p)

    def decrypt_signed(self, ciphertext: int) -> int:
        """Decrypt and map residues above n/2 to negatives (see ``decode_signed``)."""
        return decode_signed(self.public_key, self.decrypt(ciphertext))

    def to_json(self) -> str:
        """Serialise for the querier's node to keep on disk (the caller protects the file)."""
        return json.dumps(
            {
                "format": _PRIVATE_KEY_FORMAT,
                "version": _PRIVATE_KEY_VERSION,
                "fingerprint": self.public_key.fingerprint().hex(),
                "n": format(self.public_key.n, "x"),
                "p": format(int(self._p), "x"),
                "q": format(int(self._q), "x"),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> PaillierPrivateKey:
        """Load a key written by ``to_json``; checks format, version, factors and fingerprint."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidKey(f"private key file is not JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != _PRIVATE_KEY_FORMAT:
            raise InvalidKey(f"private key file does not have format {_PRIVATE_KEY_FORMAT!r}")
        if doc.get("version") != _PRIVATE_KEY_VERSION:
            raise InvalidKey(f"private key file has unsupported version {doc.get('version')!r}")
        try:
            public_key = PaillierPublicKey(int(doc["n"], 16))
            p, q = int(doc["p"], 16), int(doc["q"], 16)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidKey(f"private key file field is missing or not hex: {exc}") from exc
        if doc.get("fingerprint") != public_key.fingerprint().hex():
            raise InvalidKey("private key file fingerprint does not match its modulus n")
        return cls(public_key, p, q)


def generate_keypair(
    bits: int = DEFAULT_KEY_BITS, *, insecure_test_size: bool = False
) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """Generate a key pair on gmpy2; only 2048 or 3072-bit moduli unless testing.

    p and q are independent primes of exactly bits/2 bits each (random odd candidates from
    ``secrets``, top two bits set so that n has exactly ``bits`` bits, then ``gmpy2.next_prime``,
    redrawn if it leaves the size), p != q; g = n + 1. ``insecure_test_size=True`` admits any even
    size >= 512 bits so tests can use small keys; such keys offer no security and must never
    leave a test.
    """
    if bits not in PRODUCTION_KEY_BITS:
        if not insecure_test_size:
            raise InvalidKey(
                f"Paillier key size {bits} bits is not allowed: use 3072 (default) or 2048"
            )
        if bits < TEST_KEY_MIN_BITS or bits % 2:
            raise InvalidKey(f"test key size {bits} bits must be even and >= {TEST_KEY_MIN_BITS}")
    half = bits // 2
    while True:
        p, q = _random_prime(half), _random_prime(half)
        n = p * q
        if p != q and n.bit_length() == bits:
            break
    public_key = PaillierPublicKey(n)
    return public_key, PaillierPrivateKey(public_key, p, q)


def _random_prime(bits: int) -> int:
    """A uniformly drawn prime of exactly `bits` bits with its top two bits set."""
    top = (1 << (bits - 1)) | (1 << (bits - 2))
    while True:
        candidate = secrets.randbits(bits) | top | 1
        prime = gmpy2.next_prime(candidate)
        if prime.bit_length() == bits and gmpy2.is_prime(prime, 50):
            return int(prime)


def decode_signed(public_key: PaillierPublicKey, residue: int) -> int:
    """Map a residue in [0, n) to (-n/2, n/2]: values above n/2 are negatives."""
    if not 0 <= residue < public_key.n:
        raise ValueError(f"residue must be in [0, n), got a {residue.bit_length()}-bit value")
    return residue - public_key.n if residue > public_key.max_signed else residue


def encrypt(public_key: PaillierPublicKey, plaintext: int, mask: int) -> int:
    """Enc(m) = (1 + (m mod n) * n) * mask mod n^2, for a mask r^n mod n^2 from ``masks``."""
    n = public_key.n_mpz
    return int((1 + plaintext % n * n) * mask % public_key.n_square)


def add(public_key: PaillierPublicKey, c1: int, c2: int) -> int:
    """Enc(m1 + m2) from Enc(m1), Enc(m2)."""
    return int(gmpy2.mpz(c1) * c2 % public_key.n_square)


def add_plain(public_key: PaillierPublicKey, ciphertext: int, plaintext: int) -> int:
    """Enc(m + k) from Enc(m) and a plaintext k (negative allowed); the owner-side noise hook.

    Deterministic: rerandomise before the result leaves the party.
    """
    n = public_key.n_mpz
    return int((1 + plaintext % n * n) * ciphertext % public_key.n_square)


def mul_plain(public_key: PaillierPublicKey, ciphertext: int, scalar: int) -> int:
    """Enc(k * m) from Enc(m) and a plaintext k (negative allowed, via the inverse)."""
    try:
        return int(gmpy2.powmod(ciphertext, scalar, public_key.n_square))
    except ZeroDivisionError as exc:
        raise InvalidCiphertext("ciphertext is not invertible mod n^2") from exc


def rerandomise(public_key: PaillierPublicKey, ciphertext: int, mask: int) -> int:
    """Same plaintext, fresh randomness: multiply by a mask (an encryption of 0)."""
    return int(gmpy2.mpz(ciphertext) * mask % public_key.n_square)


def check_ciphertext(public_key: PaillierPublicKey, ciphertext: int, fingerprint: bytes) -> None:
    """Raise ``InvalidCiphertext`` unless c is a unit of Z_{n^2} bound to ``public_key``."""
    if fingerprint != public_key.fingerprint():
        raise InvalidCiphertext("ciphertext encrypted against a different key")
    if not 0 < ciphertext < public_key.n_square:
        raise InvalidCiphertext("ciphertext out of range: must satisfy 0 < c < n^2")
    if gmpy2.gcd(ciphertext, public_key.n_mpz) != 1:
        raise InvalidCiphertext("ciphertext is not a unit: gcd(c, n) != 1")


def check_ciphertexts(
    public_key: PaillierPublicKey, ciphertexts: Sequence[int], fingerprint: bytes
) -> None:
    """Batch form of ``check_ciphertext``: range per item, then one gcd over the product mod n.

    A product mod n shares a factor with n exactly when some factor does, so one gcd suffices;
    the error then names the first offending index.
    """
    if fingerprint != public_key.fingerprint():
        raise InvalidCiphertext("ciphertext encrypted against a different key")
    n, n_square = public_key.n_mpz, public_key.n_square
    product = gmpy2.mpz(1)
    for index, c in enumerate(ciphertexts):
        if not 0 < c < n_square:
            raise InvalidCiphertext(f"ciphertext {index} out of range: must satisfy 0 < c < n^2")
        product = product * c % n
    if gmpy2.gcd(product, n) != 1:
        for index, c in enumerate(ciphertexts):
            if gmpy2.gcd(c, n) != 1:
                raise InvalidCiphertext(f"ciphertext {index} is not a unit: gcd(c, n) != 1")


def ciphertext_to_bytes(public_key: PaillierPublicKey, ciphertext: int) -> bytes:
    """Fixed-width big-endian encoding (width = bytes of n^2)."""
    if not 0 <= ciphertext < public_key.n_square:
        raise InvalidCiphertext("ciphertext out of range: must satisfy 0 < c < n^2")
    return int(ciphertext).to_bytes(public_key.ciphertext_width, "big")


def ciphertext_from_bytes(public_key: PaillierPublicKey, data: bytes) -> int:
    """Decode ``ciphertext_to_bytes`` output; the width must match the key exactly."""
    if len(data) != public_key.ciphertext_width:
        raise InvalidCiphertext(
            f"ciphertext is {len(data)} bytes, expected {public_key.ciphertext_width} for this key"
        )
    return int.from_bytes(data, "big")
