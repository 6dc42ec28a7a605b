"""Discrete Laplace noise from OpenDP (exact integer sampling) and its 95% error bars.

Mechanism: `DiscreteLaplace(epsilon, sensitivity)` adds to each integer cell of a query an
independent Z with Pr[Z = z] proportional to exp(-|z| / scale), scale = sensitivity / epsilon.
The samples come from OpenDP's `make_laplace` over integers, which samples the discrete Laplace
exactly (Canonne, Kamath, Steinke 2020, with exact rational arithmetic from the float scale; no
floating-point leakage). OpenDP's own privacy map is checked when the mechanism is built: the
vector of cells with L1 sensitivity `sensitivity` under the stated neighbouring relation is
released epsilon-DP (the scale is nudged up by ulps until OpenDP's map, which rounds up,
agrees).

Neighbouring relation and sensitivity are the caller's to state next to its query (see
`release.overlap` for the overlap regions and `protocols.owner_noise` for a profile).

Error bars: `half_width(scales, confidence)` is the smallest integer h with
Pr[|Z_1 + ... + Z_m| > h] <= 1 - confidence for independent discrete Laplace Z_i of the given
scales. For one cell it is the closed form Pr[|Z| > h] = 2 q^(h+1) / (1 + q), q = exp(-1/scale);
for a sum (a derived total of m noised cells) the distribution is computed by convolving the
cells' probability mass functions, truncated where the tail mass is below 1e-12 (a normal
approximation with the exact variance is used only when the convolution would exceed 4 million
points). Closed forms: Pr[Z = z] = (1 - q)/(1 + q) q^|z|, Var[Z] = 2q / (1 - q)^2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist
from typing import Any, Final

import numpy as np
import opendp.prelude as dp

dp.enable_features("contrib")

MECHANISM: Final = "discrete_laplace"
"""The mechanism's name as released in results and JSON."""

MAX_SCALE: Final = float(2**50)
"""Largest scale sampled: noise of larger scale could leave the 64-bit range OpenDP samples in."""

_TAIL: Final = 1e-12
_MAX_POINTS: Final = 4_000_000


class InvalidNoiseParameter(ValueError):
    """An epsilon, sensitivity or scale outside the range the mechanism accepts."""


@dataclass(frozen=True)
class DiscreteLaplace:
    """Discrete Laplace noise calibrated to (epsilon, L1 sensitivity); scale = sensitivity/eps."""

    epsilon: float
    sensitivity: int

    def __post_init__(self) -> None:
        if not math.isfinite(self.epsilon) or self.epsilon <= 0:
            raise InvalidNoiseParameter(
                f"epsilon must be a positive finite number, got {self.epsilon}"
            )
        if isinstance(self.sensitivity, bool) or self.sensitivity < 1:
            raise InvalidNoiseParameter(
                f"sensitivity must be a positive integer, got {self.sensitivity}"
            )
        if self.scale > MAX_SCALE:
            raise InvalidNoiseParameter(
                f"noise scale {self.scale:.3g} (sensitivity {self.sensitivity} / epsilon "
                f"{self.epsilon}) exceeds 2^50; narrow the attribute's bounds or scale"
            )

    @property
    def scale(self) -> float:
        """sensitivity / epsilon, nudged up until OpenDP's privacy map gives at most epsilon."""
        return _calibrated_scale(self.sensitivity, self.epsilon)

    def noised(self, values: Sequence[int]) -> list[int]:
        """Each value plus independent noise; unclamped integers (may be negative)."""
        if not values:
            return []
        measurement = _vector_measurement(self.scale)
        return [int(v) for v in measurement([int(v) for v in values])]

    def noise(self) -> int:
        """One draw of the noise alone (to add under encryption)."""
        return self.noised([0])[0]

    def half_width(self, confidence: float = 0.95) -> int:
        """Half-width of the interval around a noised cell that holds the truth with this
        probability."""
        return half_width((self.scale,), confidence)

    @property
    def variance(self) -> float:
        """Var[Z] = 2q / (1 - q)^2."""
        q = math.exp(-1 / self.scale)
        return 2 * q / (1 - q) ** 2


def laplace_scale_for(epsilon: float, sensitivity: int = 1) -> Fraction:
    """The nominal scale sensitivity / epsilon, exact (epsilon read as the decimal it prints
    as: 0.1 is 1/10), for bounds; the sampled scale is at most a few ulps above it."""
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise InvalidNoiseParameter(f"epsilon must be a positive finite number, got {epsilon}")
    if isinstance(sensitivity, bool) or sensitivity < 1:
        raise InvalidNoiseParameter(f"sensitivity must be a positive integer, got {sensitivity}")
    return Fraction(sensitivity) / Fraction(repr(float(epsilon)))


def pmf(z: int, scale: float) -> float:
    """Pr[Z = z] for discrete Laplace noise of this scale."""
    q = math.exp(-1 / scale)
    return (1 - q) / (1 + q) * q ** abs(z)


def half_width(scales: Sequence[float], confidence: float = 0.95) -> int:
    """Smallest integer h with Pr[|sum of independent noises| > h] <= 1 - confidence."""
    if not scales:
        return 0
    if not 0 < confidence < 1:
        raise InvalidNoiseParameter(f"confidence must be in (0, 1), got {confidence}")
    return _half_width(tuple(sorted(float(s) for s in scales)), round(confidence, 12))


@lru_cache(maxsize=1024)
def _half_width(scales: tuple[float, ...], confidence: float) -> int:
    alpha = 1 - confidence
    if len(scales) == 1:
        q = math.exp(-1 / scales[0])
        # 2 q^(h+1) / (1 + q) <= alpha  <=>  h + 1 >= log(alpha (1 + q) / 2) / log q
        bound = -scales[0] * math.log(alpha * (1 + q) / 2) - 1  # log q = -1/scale exactly
        return max(0, math.ceil(bound - 1e-9))
    reaches = [_support(s) for s in scales]
    if 2 * sum(reaches) + 1 > _MAX_POINTS:
        variance = sum(2 * math.exp(-1 / s) / (1 - math.exp(-1 / s)) ** 2 for s in scales)
        return math.ceil(NormalDist().inv_cdf(1 - alpha / 2) * math.sqrt(variance))
    mass = np.array([1.0])
    for scale, reach in zip(scales, reaches, strict=True):
        z = np.arange(-reach, reach + 1)
        q = math.exp(-1 / scale)
        mass = _convolve(mass, (1 - q) / (1 + q) * q ** np.abs(z))
    mass = np.clip(mass, 0.0, None)
    centre = (len(mass) - 1) // 2
    inside = np.cumsum(mass[centre:]) + np.concatenate(([0.0], np.cumsum(mass[:centre][::-1])))
    # inside[h] = Pr[|S| <= h]
    hits = np.nonzero(inside >= confidence * mass.sum())[0]
    return int(hits[0]) if len(hits) else centre


def _convolve(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The full linear convolution of two real arrays through numpy's real FFT (what
    `scipy.signal.fftconvolve` computes, without importing scipy.signal: ~1 s per process)."""
    size = len(first) + len(second) - 1
    spectrum = np.fft.rfft(first, size) * np.fft.rfft(second, size)
    return np.fft.irfft(spectrum, size)


def _support(scale: float) -> int:
    """Where a discrete Laplace tail of this scale falls below 1e-12."""
    return max(1, math.ceil(-math.log(_TAIL) * scale))


@lru_cache(maxsize=256)
def _calibrated_scale(sensitivity: int, epsilon: float) -> float:
    scale = sensitivity / epsilon
    for _ in range(64):
        if _vector_measurement(scale).map(sensitivity) <= epsilon:
            return scale
        scale = math.nextafter(scale, math.inf)
    raise InvalidNoiseParameter(
        f"OpenDP cannot calibrate sensitivity {sensitivity} to epsilon {epsilon}"
    )


@lru_cache(maxsize=256)
def _vector_measurement(scale: float) -> Any:
    return dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), scale=scale
    )
