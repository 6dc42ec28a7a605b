"""The overlap protocol in one process (DESIGN 3.2) against the plaintext oracle.

Each party is a `PsiParty`, the object a node's session holds: it blinds its own
(de-duplicated) set in its secret order with its fresh key; the set then visits every other
party, which re-blinds and re-shuffles it; `count_regions` counts the fully blinded sets. The
counts must equal `gongying.oracle.overlap_truth` over the plaintext sets.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongying.oracle import overlap_truth
from protocols import psi, ristretto
from protocols.group_names import KNOWN_GROUPS, LEGACY_GROUP
from protocols.groups import group
from protocols.matching import DuplicatePoints, count_regions
from protocols.psi import KeyForgotten, PsiParty
from protocols.ristretto import POINT_BYTES

NAMES = ("brand", "retailer_a", "retailer_b", "retailer_c", "retailer_d")


def _points(buffer: bytes) -> list[bytes]:
    return [buffer[i : i + POINT_BYTES] for i in range(0, len(buffer), POINT_BYTES)]


def run_protocol(
    inputs: dict[str, list[bytes]], group_name: str = LEGACY_GROUP
) -> dict[str, bytes]:
    """Every party's set after its owner's key and every other party's key (chained order)."""
    sets = {party: list(dict.fromkeys(given)) for party, given in inputs.items()}  # de-duplicate
    parties = {name: PsiParty.fresh(len(got), group_name) for name, got in sets.items()}
    order = list(inputs)
    finals: dict[str, bytes] = {}
    try:
        for index, owner in enumerate(order):
            party = parties[owner]
            points = party.blind_own_set([sets[owner][i] for i in party.order])
            for step in range(1, len(order)):
                other = parties[order[(index + step) % len(order)]]
                points = psi.shuffle_points(other.reblind(points))
            finals[owner] = points
    finally:
        for party in parties.values():
            party.forget()
    return finals


def assert_matches_oracle(inputs: dict[str, list[bytes]], group_name: str = LEGACY_GROUP) -> None:
    counts = count_regions(run_protocol(inputs, group_name))
    truth = overlap_truth({party: set(elements) for party, elements in inputs.items()})
    assert counts.sizes == truth.sizes
    assert counts.regions == truth.regions
    assert counts.pairwise() == truth.pairwise
    assert counts.intersection() == truth.all_parties


def _element(i: int) -> bytes:
    return f"email:member{i}@example.com".encode()


@st.composite
def party_sets(draw: st.DrawFn) -> dict[str, list[bytes]]:
    """2..5 parties drawing (with repeats) from a small universe, so overlaps are common."""
    count = draw(st.integers(min_value=2, max_value=5))
    universe = draw(st.integers(min_value=1, max_value=40))
    ids = st.lists(st.integers(min_value=0, max_value=universe - 1), max_size=25)
    return {NAMES[p]: [_element(i) for i in draw(ids)] for p in range(count)}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(party_sets())
def test_random_overlaps_match_oracle(inputs: dict[str, list[bytes]]) -> None:
    assert_matches_oracle(inputs)


@pytest.mark.parametrize("group_name", KNOWN_GROUPS)
def test_every_group_matches_oracle(group_name: str) -> None:
    inputs = {NAMES[p]: [_element(i) for i in range(3 * p, 3 * p + 20)] for p in range(3)}
    assert_matches_oracle(inputs, group_name)


@pytest.mark.parametrize("parties", [2, 3, 4, 5])
def test_empty_sets(parties: int) -> None:
    inputs: dict[str, list[bytes]] = {NAMES[p]: [] for p in range(parties)}
    inputs[NAMES[0]] = [_element(1), _element(2)]  # one non-empty party among empty ones
    assert_matches_oracle(inputs)
    assert_matches_oracle({NAMES[p]: [] for p in range(parties)})


@pytest.mark.parametrize("parties", [2, 3, 5])
def test_disjoint_sets(parties: int) -> None:
    inputs = {NAMES[p]: [_element(100 * p + i) for i in range(12)] for p in range(parties)}
    counts = count_regions(run_protocol(inputs))
    assert counts.intersection() == 0
    assert all(n == 0 for n in counts.pairwise().values())
    assert_matches_oracle(inputs)


@pytest.mark.parametrize("parties", [2, 3, 5])
def test_identical_sets(parties: int) -> None:
    inputs = {NAMES[p]: [_element(i) for i in range(15)] for p in range(parties)}
    counts = count_regions(run_protocol(inputs))
    assert counts.intersection() == 15
    assert counts.regions[frozenset(inputs)] == 15
    assert_matches_oracle(inputs)


def test_duplicates_in_input_follow_set_semantics() -> None:
    inputs = {
        "brand": [_element(1), _element(1), _element(2), _element(2), _element(2)],
        "retailer_a": [_element(2), _element(3), _element(3)],
        "retailer_b": [_element(2), _element(2), _element(1)],
    }
    counts = count_regions(run_protocol(inputs))
    assert counts.sizes == {"brand": 2, "retailer_a": 2, "retailer_b": 2}
    assert counts.intersection() == 1
    assert_matches_oracle(inputs)


def test_undeduplicated_input_is_caught_by_counting() -> None:
    party_a, party_b = PsiParty.fresh(), PsiParty.fresh()
    a = party_b.reblind(party_a.blind_own_set([_element(1), _element(1)]))
    b = party_a.reblind(party_b.blind_own_set([_element(1)]))
    with pytest.raises(DuplicatePoints, match="brand"):
        count_regions({"brand": a, "retailer_a": b})


def test_fully_blinded_points_do_not_depend_on_key_order() -> None:
    parties = [PsiParty.fresh() for _ in range(3)]
    elements = [_element(i) for i in range(10)]
    forward = parties[0].blind_own_set(elements)
    for party in parties[1:]:
        forward = party.reblind(forward)
    backward = parties[2].blind_own_set(elements)
    for party in (parties[1], parties[0]):
        backward = party.reblind(backward)
    assert forward == backward  # same input order, no shuffles: identical bytes


# --- keys ----------------------------------------------------------------------------------------


def test_fresh_keys_blind_the_same_element_differently() -> None:
    elements = [_element(i) for i in range(20)]
    first, second = PsiParty.fresh(), PsiParty.fresh()
    assert first.key.scalar != second.key.scalar
    one = set(_points(first.blind_own_set(elements)))
    two = set(_points(second.blind_own_set(elements)))
    assert len(one) == len(two) == 20
    assert one.isdisjoint(two)
    # the same key is deterministic, so the difference comes from the key alone
    assert set(_points(first.blind_own_set(elements))) == one


def test_forgotten_key_raises() -> None:
    party = PsiParty.fresh(3)
    points = party.blind_own_set([_element(1)])
    party.forget()
    assert not any(party.key._scalar)
    assert len(party.order) == 0
    with pytest.raises(KeyForgotten):
        _ = party.key.scalar
    with pytest.raises(KeyForgotten):
        party.blind_own_set([_element(1)])
    with pytest.raises(KeyForgotten):
        party.reblind(points)
    with pytest.raises(KeyForgotten):
        party.unblind(points)


def test_key_repr_hides_the_scalar() -> None:
    party = PsiParty.fresh()
    for shown in (party.key, party.blinder(), party.unblinder()):
        assert party.key.scalar.hex() not in repr(shown)
        assert str(list(party.key.scalar)) not in repr(shown)


# --- shuffles and unblinding --------------------------------------------------------------------


def test_shuffle_points_is_a_permutation() -> None:
    points = b"".join(ristretto.hash_to_point(_element(i)) for i in range(64))
    orders = set()
    for _ in range(5):
        shuffled = psi.shuffle_points(points)
        assert len(shuffled) == len(points)
        assert Counter(_points(shuffled)) == Counter(_points(points))
        orders.add(shuffled)
    # 64! orders: five identical draws (or all equal to the input) means no shuffling
    assert len(orders | {points}) > 2


def test_shuffle_elements_is_a_permutation() -> None:
    elements = [_element(i) for i in range(64)]
    orders = set()
    for _ in range(5):
        shuffled = psi.shuffle_elements(elements)
        assert Counter(shuffled) == Counter(elements)
        orders.add(tuple(shuffled))
    assert len(orders | {tuple(elements)}) > 2


def test_shuffle_of_tiny_buffers() -> None:
    assert psi.shuffle_points(b"") == b""
    one = ristretto.hash_to_point(_element(1))
    assert psi.shuffle_points(one) == one


def test_secure_permutation_covers_range() -> None:
    for count in (0, 1, 2, 100):
        assert sorted(psi.secure_permutation(count).tolist()) == list(range(count))


@pytest.mark.parametrize("group_name", KNOWN_GROUPS)
def test_secret_order_and_back(group_name: str) -> None:
    """The cached hash-to-group points of a load, put in the party's secret order, are its
    elements' points in that order; `in_load_order` undoes it."""
    elements = [_element(i) for i in range(50)]
    party = PsiParty.fresh(len(elements), group_name)
    hashed = group(group_name).hash_points(elements)
    shuffled = b"".join(party.in_secret_order(hashed, 7))
    assert b"".join(party.in_secret_order(hashed, 1000)) == shuffled
    in_order = [elements[i] for i in party.order]
    assert shuffled == group(group_name).hash_points(in_order)
    assert party.in_load_order(shuffled) == hashed
    assert party.blinder().blind(shuffled) == party.blind_own_set(in_order)


def test_unblinding_with_inverse_scalars_gives_back_the_hash() -> None:
    elements = [_element(i) for i in range(30)]
    parties = [PsiParty.fresh() for _ in range(3)]
    points = parties[0].blind_own_set(elements)
    for party in parties[1:]:
        points = psi.shuffle_points(party.reblind(points))
    for party in parties:
        points = party.unblind(points)
    hashed = {ristretto.hash_to_point(e) for e in elements}
    assert Counter(_points(points)) == Counter(hashed)
    # unblinding with the wrong key gives nothing recognisable
    wrong = ristretto.blind_points(points, ristretto.random_scalar())
    assert hashed.isdisjoint(_points(wrong))


def test_reblind_reports_invalid_point_position() -> None:
    party = PsiParty.fresh()
    points = bytearray(party.blind_own_set([_element(i) for i in range(4)]))
    points[2 * POINT_BYTES : 3 * POINT_BYTES] = b"\xff" * POINT_BYTES
    with pytest.raises(ristretto.InvalidPoint, match="point 102 is invalid"):
        party.reblind(bytes(points), first_index=100)


def test_count_regions_refuses_bad_input() -> None:
    one = ristretto.hash_to_point(_element(1))
    with pytest.raises(ValueError, match="2 to 16 parties"):
        count_regions({"brand": one})
    with pytest.raises(ValueError, match="multiple of 32"):
        count_regions({"brand": one, "retailer_a": one[:-1]})
