"""Products of many residues raised to small exponents: bucketed (Pippenger) multi-exponentiation.

``multi_exp`` computes prod b_i^{e_i} mod m. Per window of c exponent bits every base is
multiplied into the bucket of its digit (one multiplication), and the buckets are folded with a
running product, so the cost is about ceil(bits/c) * (N + 2^c) multiplications plus ``bits``
squarings instead of N full exponentiations. ``bucket_products`` is the categorical special case
(each base goes to exactly one bucket, exponent 1): one multiplication per base.
``marginal_products`` does it for several categorical columns over the same bases: each base is
multiplied once into the cell of its joint codes, and the columns' bins are read off the
occupied cells, so k columns cost about N + 2 * cells multiplications instead of k * N.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import gmpy2

Key = TypeVar("Key", bound=Hashable)

_MAX_WINDOW_BITS = 20


def product_mod(values: Iterable[int], modulus: int) -> int:
    """prod values mod modulus (1 for no values)."""
    m = gmpy2.mpz(modulus)
    acc = gmpy2.mpz(1)
    for value in values:
        acc = acc * value % m
    return int(acc % m)


def bucket_products(bases: Iterable[Any], keys: Iterable[Key], modulus: int) -> dict[Key, Any]:
    """Group bases by key and multiply each group mod ``modulus``: {key: prod of its bases}.

    Returns gmpy2 ``mpz`` values (keys absent from ``keys`` are absent from the result); this is
    the inner loop of the owner-side aggregation, so it stays in mpz.
    """
    m = gmpy2.mpz(modulus)
    groups: dict[Key, Any] = {}
    get = groups.get
    for base, key in zip(bases, keys, strict=True):
        acc = get(key)
        groups[key] = base if acc is None else acc * base % m
    return {key: gmpy2.mpz(value) % m for key, value in groups.items()}


def marginal_products(
    bases: Sequence[Any], columns: Sequence[Sequence[int]], modulus: int
) -> list[dict[int, Any]]:
    """``[bucket_products(bases, column, modulus) for column in columns]``, computed jointly.

    The bases are first multiplied into one product per occupied combination of codes (one
    multiplication per base); then, repeatedly, the column with the most distinct codes is read
    off the current table and dropped from it, which merges its cells (two multiplications per
    cell). Used only when the occupied combinations are few enough to save work; otherwise each
    column is bucketed on its own.
    """
    for column in columns:
        if len(column) != len(bases):
            raise ValueError(f"a column has {len(column)} codes for {len(bases)} bases")
    if len(columns) < 2:
        return [bucket_products(bases, column, modulus) for column in columns]
    keys = list(zip(*columns, strict=True))
    cells = len(set(keys))
    if len(bases) + 2 * cells * len(columns) >= len(bases) * len(columns):
        return [bucket_products(bases, column, modulus) for column in columns]
    table: dict[tuple[int, ...], Any] = bucket_products(bases, keys, modulus)
    remaining = list(range(len(columns)))  # positions of the key tuple, by column index
    result: list[dict[int, Any]] = [{} for _ in columns]
    while remaining:
        widest = max(remaining, key=lambda j: len({key[remaining.index(j)] for key in table}))
        at = remaining.index(widest)
        result[widest] = bucket_products(table.values(), [key[at] for key in table], modulus)
        remaining.pop(at)
        if remaining:
            table = bucket_products(
                table.values(), [key[:at] + key[at + 1 :] for key in table], modulus
            )
    return result


def _window_bits(count: int, bits: int) -> int:
    """Window c minimising ceil(bits/c) * (count + 2 * min(2^c, count)) multiplications."""
    best_c, best_cost = 1, None
    for c in range(1, min(bits, _MAX_WINDOW_BITS) + 1):
        windows = -(-bits // c)
        cost = windows * (count + 2 * min((1 << c) - 1, count))
        if best_cost is None or cost < best_cost:
            best_c, best_cost = c, cost
    return best_c


def _fold_buckets(buckets: Mapping[int, Any], m: Any) -> Any:
    """prod_d B_d^d mod m, by a running product over the occupied digits in descending order."""
    digits = sorted(buckets, reverse=True)
    running = gmpy2.mpz(1)
    acc = gmpy2.mpz(1)
    for index, digit in enumerate(digits):
        running = running * buckets[digit] % m
        gap = digit - (digits[index + 1] if index + 1 < len(digits) else 0)
        acc = acc * (running if gap == 1 else gmpy2.powmod(running, gap, m)) % m
    return acc


def multi_exp(bases: Sequence[int], exponents: Sequence[int], modulus: int) -> int:
    """prod bases[i]^exponents[i] mod modulus, exponents >= 0, by Pippenger's bucket method."""
    if len(bases) != len(exponents):
        raise ValueError(f"multi_exp got {len(bases)} bases but {len(exponents)} exponents")
    if modulus < 1:
        raise ValueError(f"multi_exp modulus must be >= 1, got {modulus}")
    m = gmpy2.mpz(modulus)
    pairs: list[tuple[Any, int]] = []
    max_exponent = 0
    for index, (base, exponent) in enumerate(zip(bases, exponents, strict=True)):
        if exponent < 0:
            raise ValueError(f"multi_exp exponent {index} is negative ({exponent})")
        if exponent:
            pairs.append((base, int(exponent)))
            max_exponent = max(max_exponent, int(exponent))
    if not pairs:
        return int(gmpy2.mpz(1) % m)
    bits = max_exponent.bit_length()
    c = _window_bits(len(pairs), bits)
    digit_mask = (1 << c) - 1
    result = gmpy2.mpz(1)
    for window in reversed(range(-(-bits // c))):
        if result != 1:
            result = gmpy2.powmod(result, 1 << c, m)
        shift = window * c
        buckets: dict[int, Any] = {}
        get = buckets.get
        for base, exponent in pairs:
            digit = (exponent >> shift) & digit_mask
            if digit:
                acc = get(digit)
                buckets[digit] = gmpy2.mpz(base) % m if acc is None else acc * base % m
        if buckets:
            result = result * _fold_buckets(buckets, m) % m
    return int(result % m)
