"""Prospects, complementarity and the partner mix from a real overlap query (gRPC, mutual TLS):
exact answers equal a pandas oracle over the parties' files; noised ones lie within their error
bars of it."""

from __future__ import annotations

import pandas as pd
import pytest

from client.joint_frames import (
    complementarity_frame,
    complementarity_heatmap,
    coverage_frame,
    prospects_frame,
)
from client.prospects import RegionSums
from model.results import OverlapResult
from protocols.noise import half_width
from tests.analytics.conftest import plaintext_sets
from tests.privacy.conftest import BRAND, EPSILON, PARTIES, RETAILER_A, RETAILER_B, Arena

pytestmark = pytest.mark.slow  # mutual-TLS arenas of three nodes


def membership(arena: Arena) -> pd.DataFrame:
    """One row per person anyone holds, a bool column per party."""
    sets = plaintext_sets(arena)
    people = sorted(set().union(*sets.values()))
    return pd.DataFrame({p: [x in sets[p] for x in people] for p in PARTIES}, index=people)


def oracle_prospects(table: pd.DataFrame, querier: str) -> pd.Series:
    others = [p for p in PARTIES if p != querier]
    return pd.Series({p: int((table[p] & ~table[querier]).sum()) for p in others})


def oracle_adds_share(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {b: {a: (table[b] & ~table[a]).sum() / table[b].sum() for a in PARTIES} for b in PARTIES}
    )


def oracle_jaccard(table: pd.DataFrame, a: str, b: str) -> float:
    return float((table[a] & table[b]).sum() / (table[a] | table[b]).sum())


def overlap(arena: Arena) -> OverlapResult:
    arena.brand_list(list(range(0, 600, 3)))
    with arena.client() as client:
        return client.overlap(list(PARTIES), "email")


def test_exact_answers_equal_the_pandas_oracle(exact_arena: Arena) -> None:
    result = overlap(exact_arena)
    table = membership(exact_arena)
    # the careful policy hides every region here; the released sizes and pairs still give
    # each pool and each ratio exactly
    assert all(count is None for _, count in result.regions)
    frame = prospects_frame(result, BRAND)
    truth = oracle_prospects(table, BRAND).sort_values(ascending=False, kind="stable")
    assert list(frame.index) == list(truth.index)
    assert list(frame["prospects"]) == list(truth)
    assert list(frame["half_width"]) == [0.0, 0.0]
    assert list(frame["share"]) == pytest.approx([truth[p] / table[p].sum() for p in truth.index])
    heat = complementarity_heatmap(result)
    oracle = oracle_adds_share(table)
    for a in PARTIES:
        for b in PARTIES:
            if a != b:
                assert heat.loc[a, b] == pytest.approx(oracle.loc[a, b])
    pairs = complementarity_frame(result)
    assert pairs.loc[(RETAILER_A, RETAILER_B), "jaccard"] == pytest.approx(
        oracle_jaccard(table, RETAILER_A, RETAILER_B)
    )
    # the greedy's first pick rests on released sizes and pairs; its second needs a hidden
    # region, so it stops there and says which
    steps = coverage_frame(result, 2, BRAND)
    assert list(steps["partner"]) == [truth.index[0]]
    assert list(steps["gain"]) == [truth.iloc[0]]
    assert "step 2 cannot rank the partners" in steps.attrs["stopped"]
    assert "hidden region" in steps.attrs["stopped"]


def test_noised_answers_lie_within_their_error_bars(noised_arena: Arena) -> None:
    result = overlap(noised_arena)
    table = membership(noised_arena)
    scale = 2 / EPSILON
    bar = result.release.error_bar("regions")
    assert bar is not None and bar.scale == scale
    frame = prospects_frame(result, BRAND)
    truth = oracle_prospects(table, BRAND)
    stated = float(half_width([scale] * 2))  # each pool sums 2 of the 3-party regions
    for party, row in frame.iterrows():
        assert row["half_width"] == stated
        # four times the 95% half-width (about 12 noise scales): a miss has probability about
        # 1e-5 per number, so the ten numbers checked here all hold in all but ~1e-4 of runs
        assert abs(row["prospects"] - truth[str(party)]) <= 4 * stated
    pairs = complementarity_frame(result)
    oracle = oracle_adds_share(table)
    for (a, b), row in zip(pairs.index, (r for _, r in pairs.iterrows()), strict=True):
        if row["adds"] is pd.NA:
            assert row["why"]
            continue
        exact_adds = (table[b] & ~table[a]).sum()
        assert abs(row["adds"] - exact_adds) <= 4 * row["adds_half_width"]
        assert row["adds_share_low"] <= row["adds_share"] <= row["adds_share_high"]
        assert row["jaccard_low"] <= row["jaccard"] <= row["jaccard_high"]
        assert 0 < row["adds_share_high"] - row["adds_share_low"] < 1
        assert oracle.loc[a, b] == pytest.approx(row["adds_share"], abs=0.2)
    # the greedy steps follow the released regions, never a hidden one
    sums = RegionSums(result)
    steps = coverage_frame(result, 2, BRAND)
    if steps.attrs["stopped"]:
        assert "hidden region" in steps.attrs["stopped"]
    cells = {1: 2, 2: 3}  # regions outside the brand held by the first partner, then either
    for step, row in steps.iterrows():
        assert row["reach_half_width"] == sums.half_width(cells[int(str(step))])
        reached = [steps.loc[s, "partner"] for s in steps.index if s <= step]
        exact_reach = (table[reached].any(axis=1) & ~table[BRAND]).sum()
        assert abs(row["reach"] - exact_reach) <= 4 * row["reach_half_width"]
