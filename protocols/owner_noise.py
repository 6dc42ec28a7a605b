"""Owner-side differential-privacy noise on a profile aggregate, added under encryption.

The owner splits its per-query epsilon evenly over the statistics it releases: the overlap
count, one histogram per categorical attribute, and count, sum and sum of squares per numeric
attribute. Each cell gets discrete Laplace noise (exact integer sampling) with scale
sensitivity / epsilon_share: 1 for counts and for a histogram's bins (adding or removing one
member changes one bin by one), the largest encoded value for a sum, and its square for a sum
of squares. The querier decrypts noised values only; a coordinator that forged indicators still
obtains noised aggregates. Sums of squares need so much noise that standard deviations are
rough at small epsilon; that is the honest price of protecting them.
"""

from __future__ import annotations

import random

from protocols.noise import discrete_laplace, laplace_scale_for
from protocols.paillier import PaillierPublicKey, add_plain
from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from protocols.profile import AttributeAggregate, OwnerAggregate


def released_statistics(aggregate: OwnerAggregate) -> int:
    """How many statistics share the epsilon: overlap + one per histogram + three per numeric."""
    return 1 + sum(
        1 if isinstance(item.attribute, CategoricalAttribute) else 3
        for item in aggregate.attributes
    )


def noised_aggregate(
    public_key: PaillierPublicKey,
    aggregate: OwnerAggregate,
    epsilon: float,
    rng: random.Random | None = None,
) -> OwnerAggregate:
    """The aggregate with integer noise added to every cell (still encrypted, not yet sealed)."""
    share = epsilon / released_statistics(aggregate)

    def noised(ciphertext: int, sensitivity: int) -> int:
        noise = discrete_laplace(laplace_scale_for(share, max(1, sensitivity)), rng)
        return add_plain(public_key, ciphertext, noise)

    attributes = []
    for item in aggregate.attributes:
        spec = item.attribute
        if isinstance(spec, NumericAttribute):
            top = max(1, spec.max_encoded)
            sensitivities = (1, top, top * top)
            cells = tuple(
                noised(c, s) for c, s in zip(item.ciphertexts, sensitivities, strict=True)
            )
        else:
            cells = tuple(noised(c, 1) for c in item.ciphertexts)
        attributes.append(AttributeAggregate(spec, cells))
    return OwnerAggregate(
        key_fingerprint=aggregate.key_fingerprint,
        rows=aggregate.rows,
        overlap=noised(aggregate.overlap, 1),
        attributes=tuple(attributes),
        sealed=False,
    )
