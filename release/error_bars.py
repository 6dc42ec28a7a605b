"""95% error bars of released noised numbers: overlap tables and owners' profile statistics.

Overlap: the coordinator noises the exclusive regions with discrete Laplace of scale 2/epsilon
(`OVERLAP_SENSITIVITY`); a set size sums the 2^(n-1) regions holding its party, a pair the
2^(n-2) holding both, so their half-widths are those of the sum of that many independent
noises (`protocols.noise.half_width`, by convolution).

Profile: an owner noises every cell under encryption (`protocols.owner_noise.noise_plan`); the
combined profile sums one noised cell per owner. A count or bin's half-width is that of its
noise (or the sum of the owners' noises). Numeric statistics in the attribute's units are
non-linear in the noised cells (count C, encoded sum S, sum of squares Q; sum = (S + offset C) /
scale): each of the cells a statistic uses gets its interval at confidence 1 - 0.05/j (j cells,
so all hold together with probability >= 95% by the union bound) and the statistic's half-width
is its largest deviation over the corners and midpoints of that box. A mean or std whose count
interval reaches 0 has no bound and is withheld by the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from model.results import ErrorBar
from protocols.noise import MECHANISM, DiscreteLaplace, half_width
from protocols.owner_noise import OVERLAP, StatisticNoise
from protocols.paillier_attributes import Attribute, NumericAttribute
from protocols.profile import decode_numeric

OVERLAP_SENSITIVITY = 2
"""L1 sensitivity of the exclusive-region vector: adding or removing one member at one party
moves that member between two exclusive regions (two counts change by one)."""

DERIVED = "derived"
"""Mechanism name of a statistic computed from several noised cells (mean, std)."""


def bar(table: str, mechanisms: Sequence[DiscreteLaplace], confidence: float = 0.95) -> ErrorBar:
    """The error bar of a number that sums one noised cell of each mechanism."""
    first = mechanisms[0]
    return ErrorBar(
        table=table,
        mechanism=MECHANISM,
        epsilon=min(m.epsilon for m in mechanisms),
        sensitivity=max(m.sensitivity for m in mechanisms),
        scale=max(m.scale for m in mechanisms) if len(mechanisms) > 1 else first.scale,
        noised_cells=len(mechanisms),
        half_width=float(half_width([m.scale for m in mechanisms], confidence)),
    )


def overlap_bars(parties: int, epsilon: float) -> tuple[ErrorBar, ...]:
    """Error bars of regions, set sizes, pairs and the all-party count of an n-party overlap."""
    region = DiscreteLaplace(epsilon, OVERLAP_SENSITIVITY)
    return (
        bar("regions", [region]),
        bar("set_sizes", [region] * 2 ** (parties - 1)),
        bar("pairwise", [region] * 2 ** (parties - 2)),
        bar("all_parties", [region]),
        bar("union", [region] * (2**parties - 1)),
    )


def profile_bars(
    plans: Sequence[Mapping[str, StatisticNoise]],
    specs: Sequence[Attribute],
    cells: Mapping[tuple[str, str], int],
) -> tuple[tuple[ErrorBar, ...], frozenset[str]]:
    """Error bars of one profile (one owner's plan, or every owner's for the combined one), and
    the numeric attributes whose mean and std have no bound (their count may be 0)."""
    bars = [bar(OVERLAP, [p[OVERLAP].mechanism for p in plans])]
    unbounded: set[str] = set()
    for spec in specs:
        if not isinstance(spec, NumericAttribute):
            bars.append(bar(spec.name, [p[spec.name].mechanism for p in plans]))
            continue
        mech = {
            cell: [p[f"{spec.name}.{cell}"].mechanism for p in plans]
            for cell in ("count", "sum", "sum_sq")
        }
        bars.append(bar(f"{spec.name}.count", mech["count"]))
        c, s, q = (cells[(spec.name, cell)] for cell in ("count", "sum", "sum_sq"))
        hc2, hs2 = (half_width([m.scale for m in mech[x]], 1 - 0.05 / 2) for x in ("count", "sum"))
        sum_half = (hs2 + abs(spec.offset) * hc2) / spec.scale
        bars.append(_derived(f"{spec.name}.sum", mech["sum"], sum_half))
        hc, hs, hq = (
            half_width([m.scale for m in mech[x]], 1 - 0.05 / 3) for x in ("count", "sum", "sum_sq")
        )
        if c - hc <= 0:
            unbounded.add(spec.name)
            continue
        centre = decode_numeric(spec, c, s, q)
        means, stds = [], []
        for dc, ds, dq in itertools.product((-hc, 0, hc), (-hs, 0, hs), (-hq, 0, hq)):
            point = decode_numeric(spec, c + dc, s + ds, q + dq)
            means.append(abs((point.mean or 0.0) - (centre.mean or 0.0)))
            stds.append(abs((point.std or 0.0) - (centre.std or 0.0)))
        bars.append(_derived(f"{spec.name}.mean", mech["sum"], max(means)))
        bars.append(_derived(f"{spec.name}.std", mech["sum_sq"], max(stds)))
    return tuple(bars), frozenset(unbounded)


def _derived(table: str, mechanisms: Sequence[DiscreteLaplace], half: float) -> ErrorBar:
    return ErrorBar(
        table=table,
        mechanism=DERIVED,
        epsilon=min(m.epsilon for m in mechanisms),
        sensitivity=max(m.sensitivity for m in mechanisms),
        scale=max(m.scale for m in mechanisms),
        noised_cells=len(mechanisms),
        half_width=round(half, 6),
    )
