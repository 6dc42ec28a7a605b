"""Campaign lift over real nodes with mutual TLS: each group profiled by its own signed query,
equal to a pandas oracle in exact mode, within the noise's bounds when noised; each group is a
separate querier set to the owners' protections (minimum set size, cached answers)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from client.lift import CampaignLift, Z
from client.sdk import QueryError
from model.results import ErrorBar
from protocols.noise import half_width
from runtime.signing import Segment
from tests.privacy.conftest import BRAND, RETAILER_A, Arena

pytestmark = pytest.mark.slow  # noised and exact lift over a mutual-TLS deployment

OUTCOMES = ["converted", "spend"]


def matched(arena: Arena, owner: str) -> pd.DataFrame:
    """The owner's members the brand holds, with the brand's group: the oracle's input."""
    members = pd.read_csv(arena.root / "data" / f"{owner}.csv")
    brand = pd.read_csv(arena.root / "data" / f"{BRAND}.csv")[["email", "group"]]
    return members.drop(columns="group").merge(brand, on="email")


def oracle(arena: Arena, outcome: str) -> dict[str, tuple[int, float, float]]:
    """Per group: members matched, outcome per member, sampling half-width."""
    out = {}
    for name, rows in matched(arena, RETAILER_A).groupby("group"):
        values = rows[outcome].fillna(0).astype(float)
        n = len(values)
        out[str(name)] = (n, float(values.mean()), Z * math.sqrt(values.var(ddof=0) / n))
    return out


def run_lift(arena: Arena) -> CampaignLift:
    with arena.client() as client:
        return client.lift(BRAND, [RETAILER_A], OUTCOMES, column="group")


def test_exact_lift_equals_the_pandas_oracle(exact_lift: Arena) -> None:
    result = run_lift(exact_lift)
    frame = result.to_frame().set_index("outcome")
    assert result.exposed.query_id != result.holdout.query_id
    for outcome in OUTCOMES:
        truth = oracle(exact_lift, outcome)
        row = frame.loc[outcome]
        assert row["owner"] == RETAILER_A
        assert row["exposed_members"] == truth["exposed"][0] == 180
        assert row["holdout_members"] == truth["holdout"][0] == 180
        assert row["exposed"] == pytest.approx(truth["exposed"][1])
        assert row["holdout"] == pytest.approx(truth["holdout"][1])
        assert row["exposed_half_width"] == pytest.approx(truth["exposed"][2])
        assert row["holdout_half_width"] == pytest.approx(truth["holdout"][2])
        lift = truth["exposed"][1] - truth["holdout"][1]
        assert row["lift"] == pytest.approx(lift)
        half = math.hypot(truth["exposed"][2], truth["holdout"][2])
        assert row["lift_high"] - row["lift"] == pytest.approx(half)
        assert row["relative_lift"] == pytest.approx(truth["exposed"][1] / truth["holdout"][1] - 1)
        assert row["exposed_query_id"] == result.exposed.query_id
    # 3 in 5 exposed converted, 1 in 5 held out: clearly significant
    assert frame.loc["converted", "exposed"] == pytest.approx(0.6)
    assert bool(frame.loc["converted", "significant"])


def _limit(bar: ErrorBar | None) -> float:
    """The interval holding a number's noise with probability 1 - 1e-6."""
    assert bar is not None
    return float(half_width([bar.scale] * bar.noised_cells, 1 - 1e-6))


def test_noised_lift_lies_within_the_noise_bounds(noised_lift: Arena) -> None:
    result = run_lift(noised_lift)
    frame = result.to_frame().set_index("outcome")
    outcomes = {(r.outcome, g.group): g for r in result.rows() for g in (r.exposed, r.holdout)}
    for outcome in OUTCOMES:
        truth = oracle(noised_lift, outcome)
        row = frame.loc[outcome]
        for group, answer in (("exposed", result.exposed), ("holdout", result.holdout)):
            profile = answer.profile(RETAILER_A)
            n, per_member = truth[group][0], truth[group][1]
            h_n = _limit(profile.release.error_bar("overlap"))
            h_s = _limit(profile.release.error_bar(f"{outcome}.sum"))
            assert abs(row[f"{group}_members"] - n) <= h_n
            stats = profile.numeric.get(outcome)
            got = row[group]
            if stats is None:  # its noised count fell below k: withheld, and said so
                assert outcome in profile.suppressed_numeric and pd.isna(got), row["why"]
                continue
            assert abs(stats.sum - n * per_member) <= h_s + 1e-6  # the released sum
            if pd.isna(got):
                # withheld as documented: only when a noised count's 95% interval reaches 0,
                # either the members matched (noise of scale 28 takes 180 under 84 about once
                # in 60 groups) or the outcome's own count
                why = outcomes[outcome, group].why
                bar = profile.release.error_bar("overlap")
                assert bar is not None
                if why == "members matched may be 0":
                    assert row[f"{group}_members"] - bar.half_width <= 0
                else:
                    assert stats.mean is None and "withheld (its count may be 0)" in why, why
                first = outcomes[outcome, "exposed"].why  # a row names its first unknown group
                assert row["why"] == (f"exposed: {first}" if first else f"{group}: {why}")
                continue
            total = row[f"{group}_members"] * got
            # the released per-member value is within the box the noise allows around the truth
            assert abs(total - n * per_member) <= h_s + 1e-6
            # its 95% interval is wider than the sampling part alone: the noise is in it
            assert row[f"{group}_half_width"] > truth[group][2]
        if not pd.isna(row["lift"]):
            assert row["lift_low"] < row["lift"] < row["lift_high"]


def test_a_group_below_the_owners_minimum_set_is_refused(noised_lift: Arena) -> None:
    with noised_lift.client() as client, pytest.raises(QueryError) as refused:
        client.profile(BRAND, [RETAILER_A], ["spend"], segment=Segment("group", "pilot"))
    assert refused.value.code == "FAILED_PRECONDITION"
    assert "will not intersect with the set of brand (30 members)" in str(refused.value)


def test_a_repeated_group_gets_its_own_cached_answer_not_the_other_groups(
    noised_lift: Arena,
) -> None:
    first, second = run_lift(noised_lift), run_lift(noised_lift)
    assert second.exposed.from_cache and second.holdout.from_cache
    assert second.exposed.profile(RETAILER_A) == first.exposed.profile(RETAILER_A)
    assert second.holdout.profile(RETAILER_A) == first.holdout.profile(RETAILER_A)
    assert first.exposed.profile(RETAILER_A) != first.holdout.profile(RETAILER_A)


def test_an_unknown_column_or_value_is_one_clear_error(exact_lift: Arena) -> None:
    with exact_lift.client() as client:
        with pytest.raises(QueryError) as missing:
            client.profile(BRAND, [RETAILER_A], ["spend"], segment=Segment("grp", "exposed"))
        with pytest.raises(QueryError) as empty:
            client.profile(BRAND, [RETAILER_A], ["spend"], segment=Segment("group", "expsed"))
    assert "brand's list has no column 'grp' to select the group 'exposed'" in str(missing.value)
    assert "no member of brand's list has group = 'expsed'" in str(empty.value)
    assert "'exposed', 'holdout', 'pilot'" in str(empty.value)
