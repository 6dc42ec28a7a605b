"""Multi-exponentiation and bucket products against the naive product."""

from __future__ import annotations

from functools import reduce

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.multiexp import bucket_products, marginal_products, multi_exp, product_mod

MODULI = st.sampled_from([2, 97, 2**61 - 1, 1000003 * 998244353, (2**127 - 1) ** 2])


def naive(bases: list[int], exponents: list[int], modulus: int) -> int:
    return reduce(
        lambda acc, pair: acc * pow(pair[0], pair[1], modulus) % modulus,
        zip(bases, exponents, strict=True),
        1 % modulus,
    )


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2**300), st.integers(0, 2**70)),
        max_size=60,
    ),
    modulus=MODULI,
)
def test_multi_exp_equals_naive_product(data: list[tuple[int, int]], modulus: int) -> None:
    bases = [b for b, _ in data]
    exponents = [e for _, e in data]
    assert multi_exp(bases, exponents, modulus) == naive(bases, exponents, modulus)


@settings(max_examples=50, deadline=None)
@given(
    bases=st.lists(st.integers(min_value=1, max_value=2**128), min_size=1, max_size=300),
    small=st.integers(min_value=0, max_value=3),
)
def test_multi_exp_with_small_repeated_exponents(bases: list[int], small: int) -> None:
    modulus = (2**127 - 1) ** 2
    exponents = [(i * 7 + small) % 5 for i in range(len(bases))]
    assert multi_exp(bases, exponents, modulus) == naive(bases, exponents, modulus)


@given(
    bases=st.lists(st.integers(min_value=0, max_value=2**200), max_size=50),
    keys=st.lists(st.sampled_from("abcd"), max_size=50),
)
def test_bucket_products_group_and_multiply(bases: list[int], keys: list[str]) -> None:
    size = min(len(bases), len(keys))
    bases, keys = bases[:size], keys[:size]
    modulus = 2**89 - 1
    expected: dict[str, int] = {}
    for base, key in zip(bases, keys, strict=True):
        expected[key] = expected.get(key, 1) * base % modulus
    assert {k: int(v) for k, v in bucket_products(bases, keys, modulus).items()} == expected
    assert product_mod(bases, modulus) == reduce(lambda a, b: a * b % modulus, bases, 1)


def test_multi_exp_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="exponent 1 is negative"):
        multi_exp([2, 3], [1, -1], 101)
    with pytest.raises(ValueError, match="2 bases but 1 exponents"):
        multi_exp([2, 3], [1], 101)
    with pytest.raises(ValueError, match="modulus"):
        multi_exp([2], [1], 0)
    with pytest.raises(ValueError):
        bucket_products([1, 2], ["a"], 7)
    assert multi_exp([], [], 101) == 1
    assert multi_exp([5], [0], 1) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=10**40),
    st.lists(
        st.tuples(st.integers(1, 10**30), st.integers(0, 3), st.integers(0, 2), st.integers(0, 5)),
        max_size=120,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_marginal_products_equal_one_bucketing_per_column(
    modulus: int, rows: list[tuple[int, int, int, int]], width: int
) -> None:
    """Joint bucketing gives every column's bins exactly as bucketing it alone would; rows
    repeat few code combinations here, so the joint path is taken for the larger draws."""
    bases = [gmpy2.mpz(row[0]) for row in rows]
    columns = [[row[1 + j] for row in rows] for j in range(width)]
    expected = [bucket_products(bases, column, modulus) for column in columns]
    assert marginal_products(bases, columns, modulus) == expected


def test_marginal_products_take_the_joint_path_and_agree() -> None:
    """Many rows over few combinations: the joint path runs and matches per-column buckets."""
    modulus = 2**127 - 1
    bases = [gmpy2.mpz(7 + 13 * i) for i in range(600)]
    columns = [
        [i % 3 for i in range(600)],
        [i % 4 for i in range(600)],
        [i % 5 for i in range(600)],
    ]
    keys = set(zip(*columns, strict=True))
    assert 600 + 2 * len(keys) * 3 < 600 * 3  # the joint path's condition holds
    expected = [bucket_products(bases, column, modulus) for column in columns]
    assert marginal_products(bases, columns, modulus) == expected


def test_marginal_products_refuse_a_short_column() -> None:
    with pytest.raises(ValueError, match="codes for 3 bases"):
        marginal_products([gmpy2.mpz(2)] * 3, [[0, 1, 0], [0, 1]], 97)
