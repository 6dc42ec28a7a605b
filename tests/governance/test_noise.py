"""Discrete Laplace sampler: exact coins, moments and mass at zero against closed forms."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.noise import (
    InvalidNoiseParameter,
    bernoulli,
    bernoulli_exp,
    discrete_laplace,
    laplace_scale_for,
)

N = 20_000
Z = 6.0  # bounds at six standard errors: a fixed seed makes the test deterministic, and a
# correct sampler would fail such a bound with probability ~1e-9 for any seed


class IntegerOnlyRandom(random.Random):
    """A seeded source that fails if the sampler asks for a floating-point draw."""

    def random(self) -> float:
        raise AssertionError("the sampler drew a float")

    def getrandbits(self, k: int, /) -> int:  # keeps randrange on integer bits only
        return super().getrandbits(k)


def pmf(z: int, scale: Fraction) -> float:
    q = math.exp(-1 / float(scale))
    return (1 - q) / (1 + q) * q ** abs(z)


@pytest.mark.parametrize("scale", [Fraction(2), Fraction(7, 3)], ids=["2", "7/3"])
def test_moments_and_zero_mass_match_closed_form(scale: Fraction) -> None:
    rng = IntegerOnlyRandom(20240611)
    samples = [discrete_laplace(scale, rng) for _ in range(N)]
    assert all(type(x) is int for x in samples)
    q = math.exp(-1 / float(scale))
    variance = 2 * q / (1 - q) ** 2
    fourth = sum(z**4 * pmf(z, scale) for z in range(-400, 401))

    mean = sum(samples) / N
    assert abs(mean) < Z * math.sqrt(variance / N)

    second = sum(x * x for x in samples) / N
    assert abs(second - variance) < Z * math.sqrt((fourth - variance**2) / N)

    p0 = (1 - q) / (1 + q)
    zeros = samples.count(0)
    assert abs(zeros - N * p0) < Z * math.sqrt(N * p0 * (1 - p0))

    positive, negative = sum(x > 0 for x in samples), sum(x < 0 for x in samples)
    assert abs(positive - negative) < Z * math.sqrt(positive + negative)

    for z in range(-4, 5):  # every small value, not only the summaries
        p = pmf(z, scale)
        assert abs(samples.count(z) - N * p) < Z * math.sqrt(N * p * (1 - p)), z


@pytest.mark.parametrize("gamma", [Fraction(0), Fraction(1, 3), Fraction(1), Fraction(5, 2)])
def test_bernoulli_exp_frequency(gamma: Fraction) -> None:
    rng = IntegerOnlyRandom(7)
    n = 5_000
    ones = sum(bernoulli_exp(gamma, rng) for _ in range(n))
    p = math.exp(-float(gamma))
    assert abs(ones - n * p) <= Z * math.sqrt(n * p * (1 - p))
    if gamma == 0:
        assert ones == n


def test_bernoulli_is_exact_on_its_support() -> None:
    rng = random.Random(1)
    assert {bernoulli(Fraction(0), rng) for _ in range(200)} == {0}
    assert {bernoulli(Fraction(1), rng) for _ in range(200)} == {1}
    with pytest.raises(InvalidNoiseParameter, match="probability"):
        bernoulli(Fraction(3, 2), rng)


@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**32))
def test_sampler_returns_integers_for_any_rational_scale(t: int, s: int, seed: int) -> None:
    rng = IntegerOnlyRandom(seed)
    values = [discrete_laplace(Fraction(t, s), rng) for _ in range(5)]
    assert all(type(v) is int for v in values)


def test_default_randomness_is_the_system_source() -> None:
    assert type(discrete_laplace(Fraction(1))) is int


@pytest.mark.parametrize("scale", [Fraction(0), Fraction(-1, 2)])
def test_non_positive_scale_is_refused(scale: Fraction) -> None:
    with pytest.raises(InvalidNoiseParameter, match="scale must be positive"):
        discrete_laplace(scale)


def test_scale_for_epsilon_is_exact() -> None:
    assert laplace_scale_for(0.1) == Fraction(10)
    assert laplace_scale_for(2.0, sensitivity=3) == Fraction(3, 2)
    assert laplace_scale_for(0.25) == Fraction(4)


@given(st.decimals(min_value="0.001", max_value="100", places=3), st.integers(1, 20))
def test_scale_times_epsilon_is_sensitivity(epsilon: object, sensitivity: int) -> None:
    eps = float(str(epsilon))
    assert laplace_scale_for(eps, sensitivity) * Fraction(repr(eps)) == sensitivity


@pytest.mark.parametrize(
    ("epsilon", "sensitivity"), [(0.0, 1), (-1.0, 1), (math.inf, 1), (math.nan, 1), (1.0, 0)]
)
def test_bad_epsilon_or_sensitivity_is_refused(epsilon: float, sensitivity: int) -> None:
    with pytest.raises(InvalidNoiseParameter):
        laplace_scale_for(epsilon, sensitivity)
