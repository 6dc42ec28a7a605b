"""Checks on a querier's Paillier public key, and the statement that binds it to one query.

A node that receives a querier's modulus n (an owner opening a profile session, the
coordinator's mask supply) accepts it only if ``check_querier_modulus`` passes: at least
``MIN_QUERIER_KEY_BITS`` bits, odd, no prime factor below 2^16 (one gcd with their primorial),
not prime, not a perfect power (so not p^2). These are the checks a receiver can make on n
alone; they refuse the degenerate keys a cheating party could use to read what it should not
(n = p^2, n = 3 x odd, a prime n, a short n), not a product of two primes that are merely unequal
in size, which only the key's holder could exploit against itself. The wire carries n only: the
generator is always g = n + 1 (``PaillierPublicKey.g``), so no other g can be substituted.

Binding: the querier's node signs ``key_binding_statement(query_id, n)``
(``gongying/paillier-key/v1 | query_id | SHA-256(n)``) with its party's Ed25519 query-signing
key, the key it signs queries with; owner nodes verify that signature with the querier's
verify key from their policy before they encrypt anything under n. A coordinator that puts its
own key in place of the querier's cannot produce that signature, and a signature for one query
does not carry over to another.
"""

from __future__ import annotations

from functools import cache

import gmpy2

from protocols.paillier import PaillierPublicKey

MIN_QUERIER_KEY_BITS = 2048
SMALL_PRIME_LIMIT = 1 << 16
KEY_BINDING_CONTEXT = b"gongying/paillier-key/v1"


class WeakQuerierKey(ValueError):
    """A querier's Paillier modulus fails a structural check (names the check)."""


@cache
def _small_primorial() -> int:
    """The product of every prime below ``SMALL_PRIME_LIMIT``."""
    product = gmpy2.mpz(1)
    prime = gmpy2.mpz(2)
    while prime < SMALL_PRIME_LIMIT:
        product *= prime
        prime = gmpy2.next_prime(prime)
    return int(product)


def check_querier_modulus(n: int, min_bits: int = MIN_QUERIER_KEY_BITS) -> PaillierPublicKey:
    """The key for modulus n, or ``WeakQuerierKey`` saying which check n fails."""
    if n.bit_length() < min_bits:
        raise WeakQuerierKey(f"modulus has {n.bit_length()} bits; at least {min_bits} are needed")
    if n % 2 == 0:
        raise WeakQuerierKey("modulus is even")
    shared = gmpy2.gcd(n, _small_primorial())
    if shared != 1:
        factor = _smallest_prime_factor(int(shared))
        raise WeakQuerierKey(f"modulus has the small prime factor {factor}")
    if gmpy2.is_prime(n, 40):
        raise WeakQuerierKey("modulus is prime (it must be a product of two primes)")
    if gmpy2.is_power(n):
        raise WeakQuerierKey("modulus is a perfect power (such as p^2)")
    return PaillierPublicKey(n)


def _smallest_prime_factor(shared: int) -> int:
    """The smallest prime dividing `shared`, a divisor > 1 of the small primorial."""
    prime = gmpy2.mpz(2)
    while shared % prime:
        prime = gmpy2.next_prime(prime)
    return int(prime)


def key_binding_statement(query_id: str, public_key: PaillierPublicKey) -> bytes:
    """What the querier signs to bind its key to one query: context | query id | SHA-256(n)."""
    return b"|".join(
        (KEY_BINDING_CONTEXT, query_id.encode("utf-8"), public_key.fingerprint().hex().encode())
    )
