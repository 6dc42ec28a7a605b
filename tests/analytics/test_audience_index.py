"""Audience index (TGI) against a pandas oracle over real prospect and base profiles (exact), and
its noised intervals holding the true index at least 95% of the time."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from client.audience_index import audience_index, audience_index_frame
from model.results import ErrorBar, OwnerProfile, ReleaseInfo
from protocols.noise import DiscreteLaplace
from tests.analytics.test_prospect_profile_grpc import owner_frame, profile
from tests.privacy.conftest import RETAILER_A, Arena

pytestmark = pytest.mark.slow  # mutual-TLS arenas of three nodes


def test_exact_index_equals_the_pandas_oracle(exact_audiences: Arena) -> None:
    prospects = profile(exact_audiences, RETAILER_A, "prospects").profile(RETAILER_A)
    base = profile(exact_audiences, RETAILER_A, "base").profile(RETAILER_A)
    members = owner_frame(exact_audiences, RETAILER_A)
    share_p = members[~members["shared"]]["age_band"].value_counts(normalize=True)
    share_b = members["age_band"].value_counts(normalize=True)
    oracle = (share_p / share_b * 100).dropna()
    frame = audience_index_frame(prospects, base, "age_band")
    lows, highs = frame["low"].to_dict(), frame["high"].to_dict()
    for band, expected in ((str(b), float(v)) for b, v in oracle.items()):
        assert frame.loc[band, "index"] == pytest.approx(expected)
        assert lows[band] == highs[band] == pytest.approx(expected)
        assert bool(frame.loc[band, "significant"]) == (abs(expected - 100) > 1e-9)
    assert frame.loc["other", "why"] == "a denominator may be 0"  # no member in it


def noised_profile(bins: dict[str, int], epsilon: float) -> OwnerProfile:
    mechanism = DiscreteLaplace(epsilon, 1)
    bar = [
        ErrorBar(t, "discrete_laplace", epsilon, 1, mechanism.scale, 1, 0.0)
        for t in ("overlap", "band")
    ]
    noisy: dict[str, int | None] = dict(
        zip(bins, mechanism.noised(list(bins.values())), strict=True)
    )
    return OwnerProfile(
        owner="retailer",
        overlap=mechanism.noised([sum(bins.values())])[0],
        categorical={"band": noisy},
        numeric={},
        release=ReleaseInfo(k=0, epsilon=epsilon, error_bars=tuple(bar)),
    )


def test_noised_intervals_hold_the_true_index_at_least_95_percent_of_the_time() -> None:
    audience = {"young": 300, "middle": 200, "old": 100}
    base = {"young": 1000, "middle": 1000, "old": 1000}
    truth = {b: 100 * (audience[b] / 600) / (base[b] / 3000) for b in audience}
    trials, hits = 300, {b: 0 for b in audience}
    for _ in range(trials):
        rows = audience_index(noised_profile(audience, 0.2), noised_profile(base, 0.2), "band")
        for row in rows:
            assert row.low is not None and row.high is not None
            hits[row.bin] += row.low <= truth[row.bin] <= row.high
    slack = 3 * math.sqrt(0.05 * 0.95 / trials)
    assert all(h / trials >= 0.95 - slack for h in hits.values()), hits
    frame = audience_index_frame(noised_profile(audience, 0.2), noised_profile(base, 0.2), "band")
    assert bool(frame.loc["young", "significant"]) and bool(frame.loc["old", "significant"])
    assert isinstance(frame, pd.DataFrame)


def test_a_hidden_bin_is_unknown_not_zero() -> None:
    audience = noised_profile({"young": 300, "old": 100}, 1.0)
    hidden = OwnerProfile(
        audience.owner,
        audience.overlap,
        {"band": {"young": None, "old": 100}},
        {},
        release=audience.release,
    )
    rows = {r.bin: r for r in audience_index(hidden, audience, "band")}
    assert rows["young"].index is None and rows["young"].why == "a count it needs is hidden"
    assert rows["old"].index is not None
