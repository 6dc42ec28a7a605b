"""Fast Paillier masks r^n mod n^2: short exponents over a fixed-base table, and a mask pool.

Method (DESIGN 3.4; Damgard, Jurik, Nielsen, "A generalization of Paillier's public-key system
with applications to electronic voting", IJIS 2010, section 4.2 "short exponent" variant):
pick x at random in Z*_n, set h = -x^2 mod n and h_s = h^n mod n^2 (once per key and table).
A mask is h_s^a mod n^2 for a random exponent a of ``exponent_bits`` bits. Every mask is an
n-th residue, i.e. a valid encryption of 0, so Enc(m) = (1 + m*n) * mask decrypts correctly.

Exponent length and security: masks are indistinguishable from r^n for uniform r under DCR
plus the short-exponent discrete-log assumption in the unknown-order group <h>. The best known
generic attack on an l-bit exponent is Pollard's lambda (kangaroo) at about 2^(l/2) group
operations, and the order of <h> is hidden by the factorisation of n, so the
van Oorschot-Wiener small-subgroup attacks do not apply. Hence l = 2*lambda bits gives lambda
bits of security, matched to the modulus (NIST SP 800-57 part 1, table 2):
n of 2048 bits -> lambda = 112 -> 224-bit exponents; n of 3072 bits -> lambda = 128 -> 256-bit
exponents (this is the setting of Ma, Xu, Xiang, "Optimized Paillier's cryptosystem with fast
encryption and decryption", ACSAC 2021). Smaller test keys use the 2048-bit setting.

Fixed-base table: the exponent is cut into 8-bit digits a = sum a_i 256^i and the table holds
``rows[i][d] = h_s^(d * 256^i)``; a mask is the product of one entry per digit, i.e.
l/8 - 1 multiplications mod n^2 (27 for 2048-bit n, 31 for 3072) instead of a full
exponentiation. The table is 2^8 * l/8 residues (3.7 MB for 2048-bit n, 6.3 MB for 3072).

The pool lives in memory only: a mask is handed out exactly once, and nothing survives a
restart, so a mask cannot be reused across queries or restarts.
"""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import gmpy2

from protocols.paillier import PaillierPublicKey

RandomBytes = Callable[[int], bytes]
"""Source of uniform random bytes; ``secrets.token_bytes`` unless a test injects one."""

WINDOW_BITS = 8
_WINDOW_SIZE = 1 << WINDOW_BITS


class MaskPoolExhausted(RuntimeError):
    """A strict mask pool was asked for more masks than it holds."""


class MaskTableMismatch(ValueError):
    """A mask table was built for a different Paillier key than the one it is used with."""


def exponent_bits_for(modulus_bits: int) -> int:
    """Short-exponent length 2*lambda for the security level lambda of an n of this size."""
    if modulus_bits >= 7680:
        return 384
    if modulus_bits >= 3072:
        return 256
    return 224


@dataclass(frozen=True)
class MaskTable:
    """Fixed-base table for h_s; plain ints only, so it pickles to worker processes."""

    n: int
    h_s: int
    exponent_bits: int
    rows: tuple[tuple[int, ...], ...]

    @cached_property
    def public_key(self) -> PaillierPublicKey:
        """The key the table belongs to."""
        return PaillierPublicKey(self.n)

    @cached_property
    def _mpz_rows(self) -> list[list[Any]]:
        return [[gmpy2.mpz(entry) for entry in row] for row in self.rows]

    def __getstate__(self) -> dict[str, Any]:
        # Ship the plain-int fields only; caches are rebuilt in the receiving process.
        return {name: self.__dict__[name] for name in ("n", "h_s", "exponent_bits", "rows")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def build_mask_table(
    public_key: PaillierPublicKey, *, random_bytes: RandomBytes = secrets.token_bytes
) -> MaskTable:
    """Draw h = -x^2 mod n, set h_s = h^n mod n^2 and precompute the 8-bit-window table."""
    n, n_square = public_key.n_mpz, public_key.n_square
    width = (public_key.bits + 7) // 8 + 8
    while True:
        x = gmpy2.mpz(int.from_bytes(random_bytes(width), "big")) % n
        if x > 1 and gmpy2.gcd(x, n) == 1:
            break
    h = (-x * x) % n
    return table_for_base(public_key, int(gmpy2.powmod(h, n, n_square)))


def table_for_base(public_key: PaillierPublicKey, h_s: int) -> MaskTable:
    """The fixed-base table of a chosen h_s (lets a worker rebuild a table from two integers)."""
    n_square = public_key.n_square
    exponent_bits = exponent_bits_for(public_key.bits)
    rows: list[tuple[int, ...]] = []
    row_base = gmpy2.mpz(h_s)
    for _ in range(exponent_bits // WINDOW_BITS):
        entry = gmpy2.mpz(1)
        row = []
        for _ in range(_WINDOW_SIZE):
            row.append(int(entry))
            entry = entry * row_base % n_square
        rows.append(tuple(row))
        row_base = entry  # row_base^256: the base of the next digit
    return MaskTable(n=public_key.n, h_s=int(h_s), exponent_bits=exponent_bits, rows=tuple(rows))


def generate_masks(
    table: MaskTable, count: int, *, random_bytes: RandomBytes = secrets.token_bytes
) -> list[int]:
    """``count`` fresh masks h_s^a mod n^2 with independent random ``exponent_bits``-bit a.

    Pure apart from the randomness: a process-pool worker can run it on a pickled table.
    """
    if count < 0:
        raise ValueError(f"mask count must be >= 0, got {count}")
    rows = table._mpz_rows
    first_row, other_rows = rows[0], rows[1:]
    n_square = table.public_key.n_square
    digits_per_mask = len(rows)
    digits = random_bytes(count * digits_per_mask)
    masks: list[int] = []
    append = masks.append
    for start in range(0, count * digits_per_mask, digits_per_mask):
        acc = first_row[digits[start]]
        for row, digit in zip(other_rows, digits[start + 1 : start + digits_per_mask], strict=True):
            acc = acc * row[digit] % n_square
        append(int(acc))
    return masks


class MaskPool:
    """Thread-safe in-memory store of masks for one key; each mask is handed out once.

    Policy when short: with a ``table`` the pool draws the shortfall fresh on demand in the
    calling thread (slower, never fails); without one it raises ``MaskPoolExhausted`` and hands
    out nothing. Fill it ahead of a query (``fill(generate_masks(...))``, e.g. from a process
    pool) so the query itself costs one multiplication per ciphertext.
    """

    def __init__(
        self,
        public_key: PaillierPublicKey,
        table: MaskTable | None = None,
        *,
        random_bytes: RandomBytes = secrets.token_bytes,
    ) -> None:
        if table is not None and table.n != public_key.n:
            raise MaskTableMismatch("mask table was built for a different Paillier key")
        self.public_key = public_key
        self._table = table
        self._random_bytes = random_bytes
        self._masks: deque[int] = deque()
        self._lock = threading.Lock()
        self.drawn_on_demand = 0
        """How many masks ``take`` had to generate because the pool ran short."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._masks)

    def fill(self, masks: Iterable[int]) -> None:
        """Add fresh masks (from ``generate_masks`` for this key); they are consumed once."""
        batch = list(masks)
        with self._lock:
            self._masks.extend(batch)

    def take(self, count: int) -> list[int]:
        """Remove and return ``count`` masks; see the class docstring for a short pool."""
        if count < 0:
            raise ValueError(f"mask count must be >= 0, got {count}")
        with self._lock:
            available = len(self._masks)
            if available < count and self._table is None:
                raise MaskPoolExhausted(
                    f"mask pool holds {available} masks, {count} requested; fill it first"
                )
            taken = [self._masks.popleft() for _ in range(min(count, available))]
            shortfall = count - len(taken)
            self.drawn_on_demand += shortfall
        if shortfall and self._table is not None:
            taken.extend(generate_masks(self._table, shortfall, random_bytes=self._random_bytes))
        return taken
