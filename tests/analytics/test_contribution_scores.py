"""Contribution scores over real nodes with mutual TLS: measures and scores equal to a pandas
oracle in exact mode, within the noise's bounds when noised; the weights file's mistakes are one
line naming the file and key; the CLI and its report section in both languages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from client.contribution_scores import (
    ContributionScores,
    WeightsError,
    contribution_scores,
    load_weights,
)
from gongying.cli import app
from model.results import ErrorBar
from protocols.noise import half_width
from tests.analytics.test_prospects_cli import tls_options
from tests.insights.samples import overlap_from_sets, with_suppressed
from tests.privacy.conftest import BRAND, RETAILER_A, RETAILER_B, Arena

pytestmark = pytest.mark.slow  # deploys a brand and retailers over gRPC

PARTNERS = [RETAILER_A, RETAILER_B]
WEIGHTS = """
[weights]
reach = 1
unique_reach = 1
shapley = 2
shared_spend = 1
lift = 1
store_count = 0.5
exclusive_sku_share = 0.5

[partners.retailer_a]
store_count = 40
exclusive_sku_share = 0.1

[partners.retailer_b]
store_count = 10
exclusive_sku_share = 0.3
"""


def weights_file(tmp_path: Path, text: str = WEIGHTS) -> Path:
    path = tmp_path / "weights.toml"
    path.write_text(text)
    return path


def oracle(arena: Arena) -> pd.DataFrame:
    """Every measure per partner from the plaintext files, then shares, scores and weights."""
    data = arena.root / "data"
    brand = pd.read_csv(data / f"{BRAND}.csv")
    members = {p: pd.read_csv(data / f"{p}.csv") for p in PARTNERS}
    ids = {p: set(f["email"]) & set(brand["email"]) for p, f in members.items()}
    both = ids[RETAILER_A] & ids[RETAILER_B]
    rows = {}
    for p, frame in members.items():
        shared = frame[frame["email"].isin(brand["email"])].merge(
            brand[["email", "group"]], on="email", suffixes=("_x", "")
        )
        rates = shared.groupby("group")["converted"].mean()
        rows[p] = {
            "reach": len(ids[p]),
            "unique_reach": len(ids[p] - both),
            "shapley": len(ids[p] - both) + len(both) / 2,
            "shared_spend": float(shared["spend"].sum()),
            "lift": float(rates["exposed"] - rates["holdout"]),
            "store_count": {RETAILER_A: 40, RETAILER_B: 10}[p],
            "exclusive_sku_share": {RETAILER_A: 0.1, RETAILER_B: 0.3}[p],
        }
    values = pd.DataFrame(rows).T
    shares = values.clip(lower=0) / values.clip(lower=0).sum()
    weights = pd.Series({"reach": 1, "unique_reach": 1, "shapley": 2, "shared_spend": 1,
                         "lift": 1, "store_count": 0.5, "exclusive_sku_share": 0.5})  # fmt: skip
    score = (shares * (weights / weights.sum())).sum(axis=1)
    return values.assign(score=score, traffic_weight=score / score.sum())


def scores(arena: Arena, tmp_path: Path) -> ContributionScores:
    with arena.client() as client:
        overlap = client.overlap([BRAND, *PARTNERS])
        spend = client.profile(BRAND, PARTNERS, ["spend"])
        lift = client.lift(BRAND, PARTNERS, ["converted"])
    return contribution_scores(
        load_weights(weights_file(tmp_path)), overlap, BRAND, PARTNERS, spend, "spend", lift,
        "converted",
    )  # fmt: skip


def test_exact_scores_equal_the_pandas_oracle(exact_lift: Arena, tmp_path: Path) -> None:
    result = scores(exact_lift, tmp_path)
    truth = oracle(exact_lift)
    frame = result.to_frame()
    for partner in PARTNERS:
        for column in truth.columns:
            assert frame.loc[partner, column] == pytest.approx(truth.loc[partner, column]), column
    assert frame["traffic_weight"].sum() == pytest.approx(1.0)
    # every number names its source: the query that released it, or the weights file
    sources = result.measures_frame().set_index(["partner", "measure"])["source"]
    assert sources[(RETAILER_A, "reach")].startswith("overlap ")
    assert sources[(RETAILER_A, "shared_spend")].startswith("profile ")
    assert sources[(RETAILER_A, "lift")].startswith("lift ")
    assert sources[(RETAILER_B, "store_count")] == f"declared in {tmp_path / 'weights.toml'}"


def _limit(bar: ErrorBar | None) -> float:
    assert bar is not None
    return float(half_width([bar.scale] * bar.noised_cells, 1 - 1e-6))


def test_noised_measures_lie_within_the_noise_bounds(noised_lift: Arena, tmp_path: Path) -> None:
    with noised_lift.client() as client:
        overlap = client.overlap([BRAND, *PARTNERS])
        spend = client.profile(BRAND, PARTNERS, ["spend"])
    text = WEIGHTS.replace("lift = 1\n", "")
    result = contribution_scores(
        load_weights(weights_file(tmp_path, text)), overlap, BRAND, PARTNERS, spend, "spend"
    )
    truth = oracle(noised_lift).to_dict()
    values = {(m.partner, m.measure): m.value for m in result.measured}
    pair = _limit(overlap.release.error_bar("pairwise"))
    for partner in PARTNERS:
        reach = values[(partner, "reach")]
        if reach is not None:  # a pair is released above k; it would not be taken as 0
            assert abs(reach - truth["reach"][partner]) <= pair
        bar = spend.profile(partner).release.error_bar("spend.sum")
        got = values[(partner, "shared_spend")]
        assert got is not None
        assert abs(got - truth["shared_spend"][partner]) <= _limit(bar) + 1e-6
    frame = result.to_frame()
    assert frame["traffic_weight"].sum() == pytest.approx(1.0)
    assert (frame["traffic_weight"] > 0).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[weights]\nreach = -1\n", "[weights].reach must not be negative, got -1"),
        ("[weights]\nreach = 'high'\n", "[weights].reach must be a number, got 'high'"),
        ("[weights]\nreach = 0\n", "[weights]: every weight is 0"),
        ("[weight]\nreach = 1\n", "unknown key 'weight'; the tables are weights, partners"),
        ("[weights\n", "not valid TOML"),
        ("[weights]\nreach = 1\n[partners.retailer_a]\nreach = 3\n", "is measured privately"),
    ],
)
def test_a_bad_weights_file_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = weights_file(tmp_path, text)
    with pytest.raises(WeightsError) as bad:
        load_weights(path)
    assert str(bad.value).startswith(f"{path}: ")
    assert message in str(bad.value)
    assert "\n" not in str(bad.value)


def test_the_cli_scores_and_writes_both_languages(exact_lift: Arena, tmp_path: Path) -> None:
    options = [*tls_options(exact_lift)[:-1], "--querier", BRAND]  # (no progress bars here)
    lift = CliRunner().invoke(
        app,
        ["query", "lift", "--owners", ",".join(PARTNERS), "--outcomes", "converted,spend",
         "--json", "--report", str(tmp_path / "lift.html"), "--lang", "zh-CN", *options],
    )  # fmt: skip
    assert lift.exit_code == 0, lift.stderr
    (tmp_path / "lift.json").write_text(lift.stdout)
    answer = json.loads(lift.stdout)
    assert answer["kind"] == "lift" and len(answer["lift"]) == 6  # 2 owners + combined, 2 outcomes
    page = (tmp_path / "lift.html").read_text()
    assert "活动增量" in page and answer["exposed"]["query_id"] in page
    run = CliRunner().invoke(
        app,
        ["query", "contribution", "--weights", str(weights_file(tmp_path)), "--partners",
         ",".join(PARTNERS), "--spend", "spend", "--lift", str(tmp_path / "lift.json"),
         "--lift-outcome", "converted", "--csv", str(tmp_path / "c.csv"), "--report",
         str(tmp_path / "c.html"), "--json", *options],
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    scored = {s["partner"]: s["traffic_weight"] for s in json.loads(run.stdout)["scores"]}
    truth = oracle(exact_lift)
    for partner in PARTNERS:
        assert scored[partner] == pytest.approx(truth.loc[partner, "traffic_weight"])
    assert len(pd.read_csv(tmp_path / "c.csv")) == 14  # 2 partners x 7 measures
    assert "Contribution scores" in (tmp_path / "c.html").read_text()
    missing = CliRunner().invoke(
        app,
        ["query", "contribution", "--weights", str(weights_file(tmp_path)), "--partners",
         ",".join(PARTNERS), *options],
    )  # fmt: skip
    assert missing.exit_code == 2
    assert "[weights].shared_spend is weighted" in missing.stderr


SETS = {"brand": set(range(100)), RETAILER_A: set(range(0, 70)), RETAILER_B: set(range(50, 130))}


def test_a_weighted_input_a_partner_does_not_declare_is_one_line(tmp_path: Path) -> None:
    path = weights_file(
        tmp_path, "[weights]\nreach = 1\nstores = 1\n[partners.retailer_a]\nstores = 3\n"
    )
    with pytest.raises(WeightsError) as missing:
        contribution_scores(load_weights(path), overlap_from_sets(SETS), BRAND)
    assert str(missing.value) == (
        f"{path}: [partners.retailer_b] lacks 'stores', weighted in [weights]"
    )


def test_a_hidden_region_leaves_out_only_the_measures_it_feeds(tmp_path: Path) -> None:
    text = "[weights]\nreach = 1\nstores = 1\n[partners.retailer_a]\nstores = 3\n"
    path = weights_file(tmp_path, text + "[partners.retailer_b]\nstores = 1\n")
    hidden = with_suppressed(overlap_from_sets(SETS), (BRAND, RETAILER_A))
    result = contribution_scores(load_weights(path), hidden, BRAND)
    assert result.dropped == ("reach: unknown for retailer_a (a hidden count)",)
    assert result.weights == {"stores": 1.0}
    assert result.to_frame().loc[RETAILER_A, "traffic_weight"] == pytest.approx(0.75)


def test_scores_share_out_each_measure_by_the_weights(tmp_path: Path) -> None:
    path = weights_file(tmp_path, "[weights]\nreach = 1\nunique_reach = 3\n")
    whole = contribution_scores(load_weights(path), overlap_from_sets(SETS), BRAND).to_frame()
    # reach 70 and 50 of the brand's 100 (shares 7/12, 5/12); unique 50 and 30 (5/8, 3/8)
    expected_a = 0.25 * 70 / 120 + 0.75 * 50 / 80
    assert whole.loc[RETAILER_A, "score"] == pytest.approx(expected_a)
    assert whole.loc[RETAILER_A, "traffic_weight"] == pytest.approx(expected_a)
    assert whole["traffic_weight"].sum() == pytest.approx(1.0)
