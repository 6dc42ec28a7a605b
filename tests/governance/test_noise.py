"""Discrete Laplace from OpenDP: released noise against the declared distribution, error bars.

Draws come from the operating system's randomness (OpenDP cannot be seeded), so every bound is
six standard errors wide: a correct mechanism fails one with probability about 2e-9.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from protocols.noise import (
    DiscreteLaplace,
    InvalidNoiseParameter,
    half_width,
    laplace_scale_for,
    pmf,
)
from protocols.owner_noise import OVERLAP, noise_plan, noised_aggregate, released_statistics
from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from protocols.profile import aggregate_rows
from protocols.profile_parties import ProfileQuerier
from tests.protocols.test_paillier_support import cached_keypair, cached_table, encrypt_indicators

PUB, PRIV = cached_keypair()
TABLE = cached_table()

N = 20_000
Z = 6.0


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(0.5, 1), (0.25, 2), (1.3, 3)])
def test_noise_matches_the_declared_discrete_laplace(epsilon: float, sensitivity: int) -> None:
    mechanism = DiscreteLaplace(epsilon, sensitivity)
    scale = mechanism.scale
    assert scale == pytest.approx(sensitivity / epsilon, rel=1e-12)
    truth = 1000
    noise = [v - truth for v in mechanism.noised([truth] * N)]
    assert all(type(v) is int for v in noise)
    variance = mechanism.variance
    q = math.exp(-1 / scale)
    assert variance == pytest.approx(2 * q / (1 - q) ** 2)
    fourth = sum(z**4 * pmf(z, scale) for z in range(-4000, 4001))
    mean = sum(noise) / N
    assert abs(mean) < Z * math.sqrt(variance / N)
    second = sum(z * z for z in noise) / N
    assert abs(second - variance) < Z * math.sqrt((fourth - variance**2) / N)
    for z in range(-3, 4):
        p = pmf(z, scale)
        assert abs(noise.count(z) - N * p) < Z * math.sqrt(N * p * (1 - p)), z
    for t in (round(scale), round(3 * scale)):  # tails: Pr[|Z| > t] = 2 q^(t+1) / (1 + q)
        p = 2 * q ** (t + 1) / (1 + q)
        beyond = sum(abs(z) > t for z in noise)
        assert abs(beyond - N * p) < Z * math.sqrt(N * p * (1 - p)), t


def test_half_width_is_the_95_percent_quantile() -> None:
    scale = DiscreteLaplace(0.5, 2).scale
    h = half_width([scale])
    q = math.exp(-1 / scale)
    assert 2 * q ** (h + 1) / (1 + q) <= 0.05 < 2 * q**h / (1 + q)
    # a sum of four noised regions: exact convolution against brute force
    pmf1 = {z: pmf(z, scale) for z in range(-200, 201)}
    total = dict(pmf1)
    for _ in range(3):
        nxt: dict[int, float] = {}
        for a, pa in total.items():
            if pa < 1e-14:
                continue
            for b, pb in pmf1.items():
                nxt[a + b] = nxt.get(a + b, 0.0) + pa * pb
        total = nxt
    h4 = half_width([scale] * 4)
    inside = sum(p for z, p in total.items() if abs(z) <= h4)
    inside_less = sum(p for z, p in total.items() if abs(z) <= h4 - 1)
    assert inside >= 0.95 - 1e-9 > inside_less
    assert h4 > h


def test_half_width_covers_released_sums() -> None:
    mechanism = DiscreteLaplace(0.3, 2)
    h = half_width([mechanism.scale] * 4)
    sums = [sum(mechanism.noised([0] * 4)) for _ in range(4000)]
    coverage = sum(abs(s) <= h for s in sums) / len(sums)
    assert coverage >= 0.95 - Z * math.sqrt(0.05 * 0.95 / len(sums))


@pytest.mark.parametrize(("epsilon", "sensitivity"), [(0.0, 1), (-1.0, 1), (math.inf, 1), (1.0, 0)])
def test_bad_epsilon_or_sensitivity_is_refused(epsilon: float, sensitivity: int) -> None:
    with pytest.raises(InvalidNoiseParameter):
        DiscreteLaplace(epsilon, sensitivity)


def test_owner_plan_states_sensitivities_and_splits_epsilon() -> None:
    specs = (
        CategoricalAttribute("gender", ("f", "m")),
        NumericAttribute("spend", 0.0, 500.0, 100),
    )
    assert released_statistics(specs) == 1 + 1 + 3
    plan = noise_plan(specs, 1.0)
    share = 1.0 / 5
    top = 500 * 100
    expected = {OVERLAP: 1, "gender": 1, "spend.count": 1, "spend.sum": top, "spend.sum_sq": top**2}
    assert {name: s.mechanism.sensitivity for name, s in plan.items()} == expected
    assert all(s.mechanism.epsilon == pytest.approx(share) for s in plan.values())
    assert sum(s.mechanism.epsilon for s in plan.values()) == pytest.approx(1.0)


def test_a_scale_beyond_64_bit_sampling_is_refused_with_the_fix() -> None:
    with pytest.raises(InvalidNoiseParameter, match="narrow the attribute's bounds"):
        DiscreteLaplace(1e-9, 2**45)


def test_owner_noise_is_added_under_encryption_within_its_error_bars() -> None:
    """An owner's aggregate decrypts to the truth plus noise of the declared scales: over many
    noised copies of one aggregate, each cell's noise stays inside its 95% interval about 95%
    of the time, and sums of squares get the far larger noise their sensitivity asks for."""
    specs = (CategoricalAttribute("tier", ("gold",)), NumericAttribute("visits", 0.0, 20.0, 1))
    rows = 40
    tiers = ["gold" if i % 3 else None for i in range(rows)]
    visits = [float(i % 21) for i in range(rows)]
    indicators = encrypt_indicators(PUB, TABLE, [i % 2 == 0 for i in range(rows)])
    raw = aggregate_rows(PUB, indicators, {"tier": tiers, "visits": visits}, specs)
    querier = ProfileQuerier(PRIV)
    truth = querier.decrypt_profile(raw, specs)
    plan = noise_plan(specs, 2.0)
    outside = {name: 0 for name in plan}
    trials = 200
    for _ in range(trials):
        noised = noised_aggregate(PUB, raw, 2.0)
        assert not noised.sealed
        got = querier.decrypt_profile(noised, specs)
        errors = {
            OVERLAP: got.overlap - truth.overlap,
            "tier": got.categorical["tier"]["gold"] - truth.categorical["tier"]["gold"],
            "visits.count": got.numeric["visits"].count - truth.numeric["visits"].count,
            "visits.sum": int(got.numeric["visits"].sum - truth.numeric["visits"].sum),
        }
        for name, error in errors.items():
            outside[name] += abs(error) > plan[name].mechanism.half_width()
    for name in (OVERLAP, "tier", "visits.count", "visits.sum"):
        assert outside[name] / trials <= 0.05 + Z * math.sqrt(0.05 * 0.95 / trials), name
    assert plan["visits.sum_sq"].mechanism.scale == 20 * 20 * plan[OVERLAP].mechanism.scale


def test_nominal_scale_is_exact_and_the_sampled_one_at_most_ulps_above() -> None:
    assert laplace_scale_for(0.1) == Fraction(10)
    assert laplace_scale_for(2.0, sensitivity=3) == Fraction(3, 2)
    for epsilon, sensitivity in ((0.1, 1), (0.25, 2), (0.3, 7)):
        nominal = float(laplace_scale_for(epsilon, sensitivity))
        sampled = DiscreteLaplace(epsilon, sensitivity).scale
        assert nominal <= sampled <= nominal * (1 + 1e-12)
