"""Discrete Laplace noise with exact integer sampling (Canonne, Kamath, Steinke 2020).

The sampler follows "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020): Algorithm 1
draws Bernoulli(exp(-gamma)) for a rational gamma >= 0 from Bernoulli(p) coins with rational p,
and Algorithm 2 draws Z with Pr[Z = z] proportional to exp(-|z| / (t/s)) for positive integers
s and t. Every step is integer or `Fraction` arithmetic; no floating point is involved, so the
output distribution is exactly the stated one (no Mironov-style floating-point leakage).

Privacy: adding discrete_laplace(Delta / epsilon) to an integer query whose value changes by at
most Delta (L1) when one person is added or removed is epsilon-differentially private. Cells of
a histogram (Venn regions, profile bins: each person in exactly one cell) have Delta = 1 for the
whole vector, so one draw of scale 1/epsilon per cell gives epsilon-DP for all cells together.

Closed forms used by the tests, with sigma = t/s and q = exp(-1/sigma):
Pr[Z = z] = (1 - q) / (1 + q) * q^|z|, Pr[Z = 0] = (1 - q) / (1 + q), Var[Z] = 2q / (1 - q)^2.

Randomness comes from `secrets.SystemRandom` unless a `random.Random` is injected (tests only).
"""

from __future__ import annotations

import math
import random
import secrets
from fractions import Fraction
from typing import Final

_SYSTEM_RANDOM: Final = secrets.SystemRandom()
_ONE: Final = Fraction(1)


class InvalidNoiseParameter(ValueError):
    """A scale, epsilon or sensitivity outside the range the sampler accepts."""


def bernoulli(p: Fraction, rng: random.Random | None = None) -> int:
    """1 with probability p (a rational in [0, 1]), else 0; one uniform integer draw."""
    if not 0 <= p <= 1:
        raise InvalidNoiseParameter(f"Bernoulli probability must be in [0, 1], got {p}")
    source = rng or _SYSTEM_RANDOM
    return 1 if source.randrange(p.denominator) < p.numerator else 0


def bernoulli_exp(gamma: Fraction, rng: random.Random | None = None) -> int:
    """1 with probability exp(-gamma) for a rational gamma >= 0 (CKS 2020, Algorithm 1)."""
    if gamma < 0:
        raise InvalidNoiseParameter(f"bernoulli_exp needs gamma >= 0, got {gamma}")
    if gamma <= 1:
        k = 1
        while bernoulli(gamma / k, rng):
            k += 1
        return k % 2
    for _ in range(math.floor(gamma)):
        if not bernoulli_exp(_ONE, rng):
            return 0
    return bernoulli_exp(gamma - math.floor(gamma), rng)


def discrete_laplace(scale: Fraction, rng: random.Random | None = None) -> int:
    """An integer Z with Pr[Z = z] proportional to exp(-|z| / scale) (CKS 2020, Algorithm 2)."""
    if scale <= 0:
        raise InvalidNoiseParameter(f"discrete Laplace scale must be positive, got {scale}")
    t, s = scale.numerator, scale.denominator  # scale = t / s
    source = rng or _SYSTEM_RANDOM
    while True:
        u = source.randrange(t)
        if not bernoulli_exp(Fraction(u, t), source):
            continue
        v = 0
        while bernoulli_exp(_ONE, source):
            v += 1
        x = u + t * v  # geometric with parameter 1 - exp(-1/t)
        magnitude = x // s
        negative = source.randrange(2) == 1
        if negative and magnitude == 0:
            continue  # +0 and -0 would otherwise double the mass at zero
        return -magnitude if negative else magnitude


def laplace_scale_for(epsilon: float, sensitivity: int = 1) -> Fraction:
    """sensitivity / epsilon, reading epsilon as the decimal it prints as (0.1 is 1/10)."""
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise InvalidNoiseParameter(f"epsilon must be a positive finite number, got {epsilon}")
    if isinstance(sensitivity, bool) or sensitivity < 1:
        raise InvalidNoiseParameter(f"sensitivity must be a positive integer, got {sensitivity}")
    return Fraction(sensitivity) / Fraction(repr(float(epsilon)))
