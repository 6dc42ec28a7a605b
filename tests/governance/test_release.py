"""Release rules: k-suppression (k-1, 0), secondary suppression of Venn totals, integer noise."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.release import (
    InvalidReleaseRule,
    Suppressed,
    add_noise,
    release_counts,
    venn_totals,
)


def region(*parties: str) -> frozenset[str]:
    return frozenset(parties)


def test_cohort_of_k_minus_one_is_suppressed_and_k_is_released() -> None:
    released = release_counts({"a": 9, "b": 10, "c": 250}, k=10)
    assert released.cells == {"a": Suppressed(10), "b": 10, "c": 250}
    assert str(released.cells["a"]) == "<10"
    assert released.display() == {"a": "<10", "b": 10, "c": 250}
    assert (released.suppressed, released.released) == (1, 2)
    assert released.primary == {"a"} and released.secondary == frozenset()


def test_zero_and_negative_counts_are_suppressed_too() -> None:
    released = release_counts({"zero": 0, "negative": -3, "big": 40}, k=5)
    assert released.display() == {"zero": "<5", "negative": "<5", "big": 40}


def test_k_zero_releases_everything() -> None:
    assert release_counts({"a": 0, "b": 1}, k=0).display() == {"a": 0, "b": 1}


def test_single_suppressed_region_pulls_the_smallest_complement() -> None:
    # Two parties: |A| = a_only + ab is released, so a lone hidden a_only would be |A| - ab.
    cells = {region("A"): 4, region("B"): 50, region("A", "B"): 30}
    released = release_counts(cells, k=10, totals=venn_totals(cells, ["A", "B"]))
    assert released.primary == {region("A")}
    # union: hide the smaller other (A n B = 30); then |B| = b_only + ab has one hidden: hide b_only
    assert released.secondary == {region("A", "B"), region("B")}
    assert released.suppressed == 3 and released.released == 0


def test_secondary_suppression_picks_smallest_other_region() -> None:
    cells = {"x": 3, "y": 80, "z": 20, "w": 500}
    released = release_counts(cells, k=10, totals=[("x", "y", "z")])
    assert released.display() == {"x": "<10", "y": 80, "z": "<10", "w": 500}
    assert released.secondary == {"z"}


def test_two_suppressed_in_a_group_need_no_more() -> None:
    cells = {"x": 3, "y": 4, "z": 20}
    released = release_counts(cells, k=10, totals=[("x", "y", "z")])
    assert released.secondary == frozenset()


def test_total_over_unknown_cells_is_refused() -> None:
    with pytest.raises(InvalidReleaseRule, match="not given"):
        release_counts({"a": 1}, k=2, totals=[("a", "b")])
    with pytest.raises(InvalidReleaseRule, match="non-negative"):
        release_counts({"a": 1}, k=-1)


def test_venn_totals_for_three_parties() -> None:
    parties = ["A", "B", "C"]
    regions = [
        frozenset(c)
        for c in (("A",), ("B",), ("C",), ("A", "B"), ("A", "C"), ("B", "C"), ("A", "B", "C"))
    ]
    groups = venn_totals(regions, parties)
    assert frozenset(regions) in groups  # the union
    assert frozenset(r for r in regions if "A" in r) in groups  # |A|
    assert frozenset({region("A", "B"), region("A", "B", "C")}) in groups  # |A n B|
    assert len(groups) == 1 + 3 + 3


venn_cells = st.dictionaries(
    st.frozensets(st.sampled_from("ABCD"), min_size=1), st.integers(0, 60), min_size=1
)


@given(venn_cells, st.integers(0, 30))
def test_no_total_ever_has_exactly_one_hidden_cell(
    cells: dict[frozenset[str], int], k: int
) -> None:
    groups = venn_totals(cells)
    released = release_counts(cells, k, groups)
    hidden = {key for key, v in released.cells.items() if isinstance(v, Suppressed)}
    for group in groups:
        assert len(hidden & group) != 1
    for key, value in released.cells.items():
        if isinstance(value, int):
            assert value == cells[key] and value >= k  # shown cells are exact and at least k
        else:
            assert value == Suppressed(k)
    assert {key for key, count in cells.items() if count < k} == released.primary
    assert released.suppressed == len(hidden)


def test_add_noise_is_integer_unclamped_and_seeded() -> None:
    cells = {"a": 0, "b": 5, "c": 1000}
    first = add_noise(cells, epsilon=0.1, rng=random.Random(3))
    assert first == add_noise(cells, epsilon=0.1, rng=random.Random(3))
    assert set(first) == set(cells) and all(type(v) is int for v in first.values())
    draws = [add_noise({"a": 0}, epsilon=0.5, rng=random.Random(s))["a"] for s in range(200)]
    assert min(draws) < 0  # never clamped at 0 ...
    shown = release_counts({"a": min(draws)}, k=1).display()
    assert shown == {"a": "<1"}  # ... and release_counts never shows a negative value


def test_add_noise_refuses_non_positive_epsilon() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        add_noise({"a": 1}, epsilon=0.0)
