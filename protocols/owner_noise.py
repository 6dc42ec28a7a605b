"""Owner-side differential-privacy noise on a profile aggregate, added under encryption.

Neighbouring relation: two overlaps that differ by one member (one indicator of the owner's
list 0 <-> 1: the querier adds or removes one id, or a person joins or leaves the owner's data).
Sensitivities under that relation, in the encoded units the owner aggregates:

- the overlap count: 1;
- a categorical histogram: 1 for the whole vector of bins (the member is in exactly one bin,
  ``other`` included);
- a numeric attribute (values clipped to [lower, upper] and encoded as 0 <= e <= max_encoded):
  count 1 (a missing value is skipped and moves nothing), sum max_encoded, sum of squares
  max_encoded^2.

The owner splits its per-query epsilon evenly over the statistics it releases (basic
composition): the overlap count, one histogram per categorical attribute, and count, sum and
sum of squares per numeric attribute, so the whole aggregate is epsilon-DP. Every cell gets
discrete Laplace noise from OpenDP (exact integer sampling, `protocols.noise`) with scale
sensitivity / epsilon_share, added with ``add_plain`` before the aggregate is sealed: the
querier decrypts noised values only, and a coordinator that forged indicators still obtains
noised aggregates. `noise_plan` states the same mechanisms to whoever reports error bars.
Sums of squares need so much noise that standard deviations are rough at small epsilon; that
is the honest price of protecting them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from protocols.noise import DiscreteLaplace
from protocols.paillier import PaillierPublicKey, add_plain
from protocols.paillier_attributes import Attribute, CategoricalAttribute, NumericAttribute
from protocols.profile import AttributeAggregate, OwnerAggregate

OVERLAP = "overlap"
"""Statistic name of the overlap count in a noise plan."""

NUMERIC_CELLS = ("count", "sum", "sum_sq")
"""The cells of a numeric attribute, in ciphertext order."""


@dataclass(frozen=True)
class StatisticNoise:
    """The mechanism for one released statistic: `overlap`, an attribute's histogram
    (`age_band`) or one numeric cell (`spend.sum`)."""

    statistic: str
    mechanism: DiscreteLaplace


def released_statistics(specs: Iterable[Attribute]) -> int:
    """How many statistics share the epsilon: overlap + one per histogram + three per numeric."""
    return 1 + sum(1 if isinstance(spec, CategoricalAttribute) else 3 for spec in specs)


def noise_plan(specs: Iterable[Attribute], epsilon: float) -> dict[str, StatisticNoise]:
    """The mechanism of every statistic the owner releases at this per-query epsilon."""
    specs = tuple(specs)
    share = epsilon / released_statistics(specs)
    plan = {OVERLAP: StatisticNoise(OVERLAP, DiscreteLaplace(share, 1))}
    for spec in specs:
        if isinstance(spec, NumericAttribute):
            top = max(1, spec.max_encoded)
            for cell, sensitivity in zip(NUMERIC_CELLS, (1, top, top * top), strict=True):
                name = f"{spec.name}.{cell}"
                plan[name] = StatisticNoise(name, DiscreteLaplace(share, sensitivity))
        else:
            plan[spec.name] = StatisticNoise(spec.name, DiscreteLaplace(share, 1))
    return plan


def noised_aggregate(
    public_key: PaillierPublicKey, aggregate: OwnerAggregate, epsilon: float
) -> OwnerAggregate:
    """The aggregate with integer noise added to every cell (still encrypted, not yet sealed)."""
    plan = noise_plan((item.attribute for item in aggregate.attributes), epsilon)

    def noised(ciphertexts: tuple[int, ...], statistic: str) -> tuple[int, ...]:
        noises = plan[statistic].mechanism.noised([0] * len(ciphertexts))
        return tuple(add_plain(public_key, c, z) for c, z in zip(ciphertexts, noises, strict=True))

    attributes = []
    for item in aggregate.attributes:
        spec = item.attribute
        if isinstance(spec, NumericAttribute):
            cells = tuple(
                noised((c,), f"{spec.name}.{cell}")[0]
                for c, cell in zip(item.ciphertexts, NUMERIC_CELLS, strict=True)
            )
        else:
            cells = noised(item.ciphertexts, spec.name)
        attributes.append(AttributeAggregate(spec, cells))
    return OwnerAggregate(
        key_fingerprint=aggregate.key_fingerprint,
        rows=aggregate.rows,
        overlap=noised((aggregate.overlap,), OVERLAP)[0],
        attributes=tuple(attributes),
        sealed=False,
    )
