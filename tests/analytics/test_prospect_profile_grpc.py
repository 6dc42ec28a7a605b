"""Profiles of the prospects (the owner's members the brand lacks) and of the owner's whole
base, over real nodes with mutual TLS: equal to a pandas oracle in exact mode, within the error
bars under noise, refused (and audited) where the owner's policy does not allow the audience."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from client.sdk import QueryError
from gongying.cli import app
from model.results import ErrorBar, ProfileResult
from protocols.noise import half_width
from tests.analytics.test_prospects_cli import tls_options
from tests.privacy.conftest import AGE_BANDS, BRAND, RETAILER_A, RETAILER_B, Arena

pytestmark = pytest.mark.slow  # mutual-TLS arenas of three nodes


def owner_frame(arena: Arena, owner: str) -> pd.DataFrame:
    frame = pd.read_csv(arena.root / "data" / f"{owner}.csv")
    brand = set(pd.read_csv(arena.root / "data" / f"{BRAND}.csv")["email"])
    return frame.assign(shared=frame["email"].isin(brand))


def profile(arena: Arena, owner: str, audience: str) -> ProfileResult:
    arena.brand_list(list(range(0, 600, 3)))
    with arena.client() as client:
        return client.profile(BRAND, [owner], ["age_band", "spend"], audience=audience)


@pytest.mark.parametrize("audience", ["prospects", "base", "shared"])
def test_exact_profiles_equal_the_pandas_oracle(exact_audiences: Arena, audience: str) -> None:
    result = profile(exact_audiences, RETAILER_A, audience)
    assert result.audience == audience
    members = owner_frame(exact_audiences, RETAILER_A)
    wanted = {"prospects": ~members["shared"], "base": members["shared"] | True}.get(
        audience, members["shared"]
    )
    audience_rows = members[wanted]
    got = result.profile(RETAILER_A)
    assert got.overlap == len(audience_rows)
    bins = audience_rows["age_band"].value_counts()
    assert got.categorical["age_band"] == {b: int(bins.get(b, 0)) for b in (*AGE_BANDS, "other")}
    assert got.numeric["spend"].count == len(audience_rows)
    assert got.numeric["spend"].sum == pytest.approx(audience_rows["spend"].sum())


def test_noised_prospects_lie_within_their_error_bars(noised_audiences: Arena) -> None:
    result = profile(noised_audiences, RETAILER_A, "prospects")
    members = owner_frame(noised_audiences, RETAILER_A)
    prospects = members[~members["shared"]]
    got = result.profile(RETAILER_A)
    overlap_bar = got.release.error_bar("overlap")
    bins_bar = got.release.error_bar("age_band")
    assert overlap_bar is not None and bins_bar is not None
    assert got.overlap is not None

    # each count within the interval that holds its declared noise with probability 1 - 1e-6
    # (a 95% bar would miss one of these six counts in a quarter of the runs)
    def limit(bar: ErrorBar) -> int:
        return half_width([bar.scale] * bar.noised_cells, 1 - 1e-6)

    assert abs(got.overlap - len(prospects)) <= limit(overlap_bar)
    truth = prospects["age_band"].value_counts()
    for band, count in got.categorical["age_band"].items():
        if count is not None:
            assert abs(count - int(truth.get(band, 0))) <= limit(bins_bar)
    # more prospects than the brand's list holds members: the querier's bound is |D| here
    assert len(prospects) > 200


def test_an_audience_the_policy_does_not_allow_is_refused(exact_audiences: Arena) -> None:
    with pytest.raises(QueryError) as refused:
        profile(exact_audiences, RETAILER_B, "prospects")
    assert refused.value.code == "PERMISSION_DENIED"
    assert "audience prospects is not allowed for brand" in str(refused.value)
    assert "partners.brand.audiences" in str(refused.value)
    # the shared audience is still answered by the same owner
    assert profile(exact_audiences, RETAILER_B, "shared").profile(RETAILER_B).overlap == 133


def test_the_cli_asks_for_an_audience(exact_audiences: Arena) -> None:
    exact_audiences.brand_list(list(range(0, 600, 3)))
    command = ["query", "profile", "--querier", BRAND, "--owners", RETAILER_A]
    command += ["--attributes", "age_band", *tls_options(exact_audiences)]
    run = CliRunner().invoke(app, [*command, "--audience", "prospects", "--json"])
    assert run.exit_code == 0, run.stderr
    answer = json.loads(run.stdout)
    members = owner_frame(exact_audiences, RETAILER_A)
    assert answer["audience"] == "prospects"
    assert answer["profiles"][0]["overlap"] == int((~members["shared"]).sum())
    wrong = CliRunner().invoke(app, [*command, "--audience", "everyone"])
    assert wrong.exit_code == 1
    assert "--audience 'everyone' is not one of shared, prospects, base" in wrong.stderr
