"""DataFrames from results hold exactly the result objects' numbers."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from client.frames import pairwise_frame, profile_frames, regions_frame
from model.results import ErrorBar, NumericStats, OwnerProfile, ProfileResult
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile, with_suppressed

PARTY_SETS = st.dictionaries(
    st.sampled_from(["brand", "retailer_a", "retailer_b", "retailer_c"]),
    st.sets(st.integers(0, 40), max_size=30),
    min_size=2,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(PARTY_SETS)
def test_regions_frame_equals_the_result_and_the_sets(sets: dict[str, set[int]]) -> None:
    result = overlap_from_sets(sets)
    frame = regions_frame(result)
    assert list(frame.columns) == [*result.parties, "degree", "count", "half_width", "status"]
    assert frame["half_width"].isna().all()  # exact counts carry no error bar
    assert len(frame) == len(result.regions)
    for (members, count), (name, row) in zip(result.regions, frame.iterrows(), strict=True):
        assert name == " & ".join(members)
        assert row["count"] == count
        assert row["degree"] == len(members)
        assert [bool(row[p]) for p in result.parties] == [p in members for p in result.parties]
    assert frame["count"].sum() == len(set().union(*sets.values()))
    assert str(frame["count"].dtype) == "Int64"


@settings(max_examples=60, deadline=None)
@given(PARTY_SETS)
def test_pairwise_frame_is_square_with_sizes_on_the_diagonal(sets: dict[str, set[int]]) -> None:
    result = overlap_from_sets(sets)
    frame = pairwise_frame(result)
    parties = list(sets)
    assert list(frame.index) == parties and list(frame.columns) == parties
    for a in parties:
        for b in parties:
            expected = len(sets[a]) if a == b else len(sets[a] & sets[b])
            assert frame.loc[a, b] == expected
            assert frame.loc[a, b] == (result.set_sizes[a] if a == b else result.pair(a, b))


def test_suppressed_region_is_na_in_the_frame() -> None:
    result = overlap_from_sets(demo_sets())
    frame = regions_frame(with_suppressed(result, ("brand", "retailer_b")))
    assert frame["count"].isna()["brand & retailer_b"]
    assert frame.loc["brand & retailer_b", "status"] == f"<{result.release.k}"
    assert frame.loc["brand & retailer_a", "status"] == "released"
    assert frame.loc["brand & retailer_a", "count"] == result.region("brand", "retailer_a")


def test_frames_carry_error_bars_and_tell_protective_cells_from_small_ones() -> None:
    result = overlap_from_sets(demo_sets())
    bars = tuple(
        ErrorBar(table, "discrete_laplace", 0.5, 2, 4.0, cells, half)
        for table, cells, half in (
            ("regions", 1, 11.0),
            ("set_sizes", 4, 25.0),
            ("pairwise", 2, 17.0),
        )
    )
    release = replace(
        result.release, k=10, epsilon=0.5, error_bars=bars, protective=("regions/brand+retailer_a",)
    )
    hidden = with_suppressed(
        replace(result, release=release), ("brand", "retailer_a"), ("brand", "retailer_b")
    )
    frame = regions_frame(hidden)
    assert frame.loc["brand & retailer_a", "status"] == "suppressed"
    assert frame.loc["brand & retailer_b", "status"] == "<10"
    assert frame.loc["brand", "status"] == "released"
    assert (frame["half_width"] == 11.0).all()
    assert pairwise_frame(hidden).attrs["half_width"] == {"set_sizes": 25.0, "pairwise": 17.0}
    assert hidden.release.shown(1234, table="regions") == "1,234 ± 11"


def test_profile_frames_equal_the_result() -> None:
    result = sample_profile()
    frames = profile_frames(result)
    assert list(frames) == list(result.attributes)
    for attribute in ("age_band", "gender"):
        frame = frames[attribute]
        assert list(frame.columns) == ["retailer_a", "retailer_b", "combined"]
        for owner in frame.columns:
            bins = result.profile(owner).categorical[attribute]
            assert list(frame.index) == list(bins)
            assert frame[owner].to_dict() == bins
    numeric = frames["spend_12m"]
    assert list(numeric.columns) == ["count", "sum", "mean", "std"]
    for owner in ("retailer_a", "retailer_b", "combined"):
        stats = result.profile(owner).numeric["spend_12m"]
        assert tuple(numeric.loc[owner]) == (stats.count, stats.sum, stats.mean, stats.std)


def test_attribute_not_combined_has_no_combined_column_and_undefined_mean_is_nan() -> None:
    owners = (
        OwnerProfile("retailer_a", 3, {"tier": {"1": 2, "other": 1}}, {"visits": _stats(0)}),
        OwnerProfile("retailer_b", 4, {"tier": {"1": 1, "2": 3}}, {"visits": _stats(4)}),
        OwnerProfile("combined", 7, {}, {"visits": _stats(4)}),
    )
    result = ProfileResult(
        "p",
        "brand",
        ("retailer_a", "retailer_b"),
        ("tier", "visits"),
        owners,
        not_combined={"tier": "declared differently"},
    )
    frames = profile_frames(result)
    tier = frames["tier"]
    assert list(tier.columns) == ["retailer_a", "retailer_b"]
    assert list(tier.index) == ["1", "other", "2"]
    assert tier["retailer_a"].isna()["2"] and tier.loc["2", "retailer_b"] == 3
    assert frames["visits"]["mean"].isna()["retailer_a"]
    assert frames["visits"].loc["retailer_b", "mean"] == 2.5


def _stats(count: int) -> NumericStats:
    return NumericStats(
        count, 10.0 if count else 0.0, 2.5 if count else None, 0.5 if count else None
    )
