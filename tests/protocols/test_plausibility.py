"""The querier's plausibility check, on aggregates the real owner code computes: honest 0/1
indicators pass with and without owner noise; packed or over-weighted indicators are refused."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from protocols.masks import generate_masks
from protocols.noise import laplace_scale_for
from protocols.owner_noise import noised_aggregate
from protocols.paillier import encrypt
from protocols.plausibility import (
    MIN_EPSILON,
    NOISE_TAIL_BITS,
    DecryptionTally,
    ImplausibleAggregate,
    OwnerTerms,
    cell_names,
    noise_bound,
)
from protocols.profile import OwnerAggregate, aggregate_rows, combine_aggregates, seal_aggregate
from tests.protocols.test_paillier_support import cached_keypair, cached_table
from tests.protocols.test_profile import SPECS, make_owner

PUB, PRIV = cached_keypair()
TABLE = cached_table()
ROWS = 120
NAMES = cell_names(SPECS)


def owner_cells(
    indicator_values: list[int], seed: int, epsilon: float = 0.0
) -> tuple[list[int], OwnerAggregate]:
    """The owner's aggregate over `indicator_values` (what each indicator encrypts), noised
    with `epsilon`, sealed, then decrypted as the querier's node would."""
    frame = make_owner(len(indicator_values), seed)
    masks = generate_masks(TABLE, len(indicator_values))
    indicators = [encrypt(PUB, v, m) for v, m in zip(indicator_values, masks, strict=True)]
    values = {s.name: frame[s.name].tolist() for s in SPECS}
    aggregate = aggregate_rows(PUB, indicators, values, SPECS)
    if epsilon:
        aggregate = noised_aggregate(PUB, aggregate, epsilon)  # OpenDP: system randomness
    sealed = seal_aggregate(PUB, aggregate, generate_masks(TABLE, len(NAMES)))
    return [PRIV.decrypt_signed(c) for c in sealed.ciphertexts()], sealed


def matched(seed: int, share: float = 0.5) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(b) for b in rng.random(ROWS) < share]


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_honest_indicators_pass_with_and_without_noise(epsilon: float, seed: int) -> None:
    values, _ = owner_cells(matched(seed), seed, epsilon)
    tally = DecryptionTally(querier_size=ROWS)
    tally.check_owner(OwnerTerms("retailer_a", ROWS, epsilon), SPECS, NAMES, values)
    assert tally.owners["retailer_a"][NAMES[0]] == values[0]


def test_an_overlap_of_every_row_passes_at_the_edge() -> None:
    values, _ = owner_cells([1] * ROWS, 4)
    DecryptionTally(ROWS).check_owner(OwnerTerms("d", ROWS, 0.0), SPECS, NAMES, values)
    assert values[0] == ROWS


def test_packed_indicators_are_refused_naming_owner_and_cell() -> None:
    packed = [1 << (128 * (s % 15)) if bit else 0 for s, bit in enumerate(matched(5))]
    values, _ = owner_cells(packed, 5, epsilon=1.0)
    with pytest.raises(ImplausibleAggregate, match=r"owner 'retailer_a' cell overlap decrypts"):
        DecryptionTally(ROWS).check_owner(OwnerTerms("retailer_a", ROWS, 1.0), SPECS, NAMES, values)


def test_a_lie_about_the_owners_size_does_not_widen_the_querier_cap() -> None:
    """Indicators of 1 on every one of 120 rows against a querier set of 50: impossible."""
    values, _ = owner_cells([1] * ROWS, 6)
    with pytest.raises(ImplausibleAggregate, match="cell overlap"):
        DecryptionTally(50).check_owner(OwnerTerms("d", 10**9, 0.0), SPECS, NAMES, values)


def test_one_member_weighted_beyond_the_querier_set_is_refused() -> None:
    weights = [0] * ROWS
    weights[7] = ROWS + 1
    values, _ = owner_cells(weights, 7)
    with pytest.raises(ImplausibleAggregate):
        DecryptionTally(ROWS).check_owner(OwnerTerms("d", ROWS, 0.0), SPECS, NAMES, values)


def test_a_sum_beyond_count_times_the_upper_bound_is_refused() -> None:
    values, _ = owner_cells(matched(8), 8)
    forged = list(values)
    spend_sum = NAMES.index(("spend", "sum"))
    forged[spend_sum] = values[spend_sum - 1] * SPECS[2].max_encoded + 1
    with pytest.raises(ImplausibleAggregate, match="cell spend/sum decrypts outside"):
        DecryptionTally(ROWS).check_owner(OwnerTerms("d", ROWS, 0.0), SPECS, NAMES, forged)


def test_the_refusal_never_names_the_decrypted_value() -> None:
    values, _ = owner_cells([3] * ROWS, 9)
    with pytest.raises(ImplausibleAggregate) as caught:
        DecryptionTally(ROWS).check_owner(OwnerTerms("d", ROWS, 0.0), SPECS, NAMES, values)
    assert str(values[0]) not in str(caught.value)


def test_cells_that_the_specs_do_not_produce_are_refused() -> None:
    values, _ = owner_cells(matched(10), 10)
    shuffled = [NAMES[0], *reversed(NAMES[1:])]
    with pytest.raises(ImplausibleAggregate, match="not those its declared attributes produce"):
        DecryptionTally(ROWS).check_owner(OwnerTerms("d", ROWS, 0.0), SPECS, shuffled, values)


def test_an_epsilon_below_the_floor_is_refused() -> None:
    values, _ = owner_cells(matched(11), 11)
    with pytest.raises(ImplausibleAggregate, match="below the floor"):
        DecryptionTally(ROWS).check_owner(
            OwnerTerms("d", ROWS, MIN_EPSILON / 2), SPECS, NAMES, values
        )


def test_each_owner_once_and_combined_only_as_the_exact_sum() -> None:
    first, aggregate_a = owner_cells(matched(12), 12, epsilon=1.0)
    second, aggregate_b = owner_cells(matched(13), 13, epsilon=1.0)
    tally = DecryptionTally(ROWS)
    tally.check_owner(OwnerTerms("a", ROWS, 1.0), SPECS, NAMES, first)
    with pytest.raises(ImplausibleAggregate, match="already decrypted"):
        tally.check_owner(OwnerTerms("a", ROWS, 1.0), SPECS, NAMES, first)
    with pytest.raises(ImplausibleAggregate, match="two or more distinct owners"):
        tally.check_combined(["a", "b"], SPECS, NAMES, first)
    tally.check_owner(OwnerTerms("b", ROWS, 1.0), SPECS, NAMES, second)
    combined = combine_aggregates(PUB, [aggregate_a, aggregate_b])
    summed = [PRIV.decrypt_signed(c) for c in combined.ciphertexts()]
    forged = [*summed[:-1], summed[-1] + 1]
    with pytest.raises(ImplausibleAggregate, match="is not the sum of the owners' cells"):
        tally.check_combined(["a", "b"], SPECS, NAMES, forged)
    tally.check_combined(["a", "b"], SPECS, NAMES, summed)
    with pytest.raises(ImplausibleAggregate, match="already decrypted"):
        tally.check_combined(["a", "b"], SPECS, NAMES, summed)


@pytest.mark.parametrize("sensitivity", [1, 62, 55_000**2])
@pytest.mark.parametrize("epsilon", [0.01, 0.5, 4.0])
def test_the_noise_bound_is_exceeded_with_probability_below_two_to_minus_forty(
    epsilon: float, sensitivity: int
) -> None:
    """Closed form for the discrete Laplace tail: Pr[|Z| > B] = 2 q^(B+1) / (1 + q)."""
    bound = noise_bound(epsilon, 7, sensitivity)
    scale = laplace_scale_for(epsilon / 7, sensitivity)
    log2_tail = 1 - (bound + 1) / float(scale) / math.log(2)  # log2(2 q^(B+1)), an upper bound
    assert log2_tail <= -NOISE_TAIL_BITS
    assert bound <= math.ceil(scale * Fraction(math.log(2)) * (NOISE_TAIL_BITS + 1)) + 1
    assert noise_bound(0.0, 7, sensitivity) == 0
