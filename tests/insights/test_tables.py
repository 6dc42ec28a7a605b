"""Honest tables: shares of the whole shared audience, the profile CSV, the contribution frame,
provenance in words, and the all-parties region listed once in the terminal."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from client.frames import profile_table
from client.insights import contribution
from gongying.cli import app
from gongying.render import print_overlap, print_profile
from gongying.report import render_report
from model.results import ProfileResult, ReleaseInfo
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile, with_suppressed
from tests.insights.test_report import parse

HIDDEN = ("25-34", "45-54")  # bins hidden in retailer_a's profile


def hidden_profile() -> ProfileResult:
    """The sample profile with two of retailer_a's age bands hidden (one to protect others)."""
    sample = sample_profile()
    first = sample.profiles[0]
    bins = {b: (None if b in HIDDEN else n) for b, n in first.categorical["age_band"].items()}
    release = ReleaseInfo(k=50, suppressed=2, protective=("age_band/45-54",))
    changed = replace(first, categorical={**first.categorical, "age_band": bins}, release=release)
    return replace(sample, profiles=(changed, *sample.profiles[1:]))


def oracle(result: ProfileResult) -> pd.DataFrame:
    """Bins per owner from the result's JSON, each as a share of that owner's overlap."""
    rows = [
        {"owner": p["owner"], "bin": b, "value": n, "overlap": p["overlap"]}
        for p in result.to_json()["profiles"]
        for b, n in p["categorical"]["age_band"].items()
    ]
    frame = pd.DataFrame(rows)
    frame["share"] = 100 * frame["value"] / frame["overlap"]
    return frame


def test_shares_are_of_the_shared_audience_not_of_the_visible_bins() -> None:
    result = hidden_profile()
    table = profile_table(result)
    bins = table[(table["attribute"] == "age_band") & (table["statistic"] == "members")]
    expected = oracle(result)
    assert len(bins) == len(expected)
    for (_, got), (_, want) in zip(bins.iterrows(), expected.iterrows(), strict=True):
        assert (got["owner"], got["bin"]) == (want["owner"], want["bin"])
        if pd.isna(want["value"]):
            assert pd.isna(got["value"]) and pd.isna(got["share_of_audience"])
            continue
        assert got["share_of_audience"] == pytest.approx(want["share"])
    first = expected[expected["owner"] == "retailer_a"].dropna()
    visible = first["value"].sum()
    assert visible < first["overlap"].iloc[0]  # hidden bins hold members of the audience
    # ...so a share over the visible bins would be larger: the report must not print it
    page = parse(render_report(None, result))
    header = next(r for r in page.rows if r[:3] == ["bin", "retailer_a", "% of retailer_a"])
    assert header[3:5] == ["retailer_b", "% of retailer_b"]
    cells: dict[str, list[str]] = {}
    for r in page.rows:  # the age_band table comes first; keep its row of each bin
        cells.setdefault(r[0], r)
    for _, row in first.iterrows():
        shown = cells[row["bin"]][2]
        assert shown == f"{row['share']:.1f}%"
        assert shown != f"{100 * row['value'] / visible:.1f}%"
    for name in HIDDEN:
        assert cells[name][2] == "-"


def test_hidden_bins_read_suppressed_or_below_k_in_csv_and_report() -> None:
    result = hidden_profile()
    table = profile_table(result)
    rows = table[(table["owner"] == "retailer_a") & table["bin"].isin(HIDDEN)]
    assert dict(zip(rows["bin"], rows["status"], strict=True)) == {
        "25-34": "<50",
        "45-54": "suppressed",
    }
    page = render_report(None, result)
    assert '<td class="suppressed">suppressed</td>' in page
    assert '<td class="suppressed">&lt;50</td>' in page


def test_profile_table_holds_every_number_of_the_json() -> None:
    result = sample_profile()
    table = profile_table(result).set_index(["owner", "attribute", "bin", "statistic"])
    for p in result.to_json()["profiles"]:
        assert table.loc[(p["owner"], "", "", "overlap"), "value"] == p["overlap"]
        for attribute, bins in p["categorical"].items():
            for name, n in bins.items():
                assert table.loc[(p["owner"], attribute, name, "members"), "value"] == n
        for attribute, stats in p["numeric"].items():
            for statistic, value in stats.items():
                got = table.loc[(p["owner"], attribute, "", statistic), "value"]
                assert got == pytest.approx(value)


def test_contribution_frame_has_float_shares_summing_to_the_reach() -> None:
    overlap = overlap_from_sets(demo_sets())
    shares = contribution(overlap, "brand")
    frame = shares.to_frame()
    sets = demo_sets()
    reached = sets["brand"] & (sets["retailer_a"] | sets["retailer_b"] | sets["retailer_c"])
    assert shares.total_reach == len(reached)
    assert list(frame.index) == ["retailer_a", "retailer_b", "retailer_c"]
    assert frame["shapley"].dtype == "Float64" and frame["shapley_share"].dtype == "Float64"
    assert all(type(v) is float for v in frame["shapley"].tolist())
    assert float(frame["shapley"].sum()) == pytest.approx(len(reached))
    assert float(frame["shapley_share"].sum()) == pytest.approx(1.0)
    for retailer in frame.index:  # the exact Fraction, as a float
        exact = shares.of(retailer).shapley
        assert exact is not None
        assert frame.loc[retailer, "shapley"] == pytest.approx(float(exact))
        assert frame.loc[retailer, "reach"] == len(sets["brand"] & sets[retailer])


def test_contribution_frame_says_what_a_suppressed_region_stops() -> None:
    overlap = with_suppressed(overlap_from_sets(demo_sets()), ("brand", "retailer_a"))
    frame = contribution(overlap, "brand").to_frame()
    row = frame.loc["retailer_a"]
    assert row[["shapley", "reach"]].isna().all()
    assert frame.attrs["not_computed"]


class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def test_provenance_is_in_words() -> None:
    overlap = overlap_from_sets(demo_sets())
    cached = replace(overlap, release=replace(overlap.release, from_cache=True))
    for result, words in ((overlap, "no"), (cached, "yes")):
        page = render_report(result, None, provenance={"checked": False})
        text = Text()
        text.feed(page)
        assert "False" not in text.parts and "True" not in text.parts
        assert f"<dt>from cache</dt><dd>{words}" in page
        assert "<dt>checked</dt><dd>no</dd>" in page


def test_all_parties_region_is_listed_once_in_the_terminal() -> None:
    overlap = overlap_from_sets(demo_sets())
    out = io.StringIO()
    print_overlap(overlap, Console(file=out, width=200))
    text = out.getvalue()
    assert "brand & retailer_a & retailer_b & retailer_c only" not in text
    assert text.count("all parties (intersection)") == 1
    assert f"{overlap.all_parties:,}" in text
    assert "brand & retailer_a only" in text


def test_terminal_profile_shows_shares_of_the_shared_audience() -> None:
    result = hidden_profile()
    out = io.StringIO()
    print_profile(result, Console(file=out, width=250))
    text = out.getvalue()
    for _, row in oracle(result).iterrows():
        if pd.isna(row["value"]):
            continue
        assert f"{int(row['value']):,} ({row['share']:.1f}%)" in text, (row["owner"], row["bin"])
    assert "suppressed" in text and "<50" in text  # hidden bins keep their labels, no share


def test_report_command_combines_saved_answers_and_refuses_other_files(tmp_path: Path) -> None:
    overlap, profile = overlap_from_sets(demo_sets()), sample_profile()
    (tmp_path / "o.json").write_text(json.dumps(overlap.to_json()))
    (tmp_path / "p.json").write_text(json.dumps(profile.to_json()))
    out = tmp_path / "both.html"
    run = CliRunner().invoke(
        app, ["report", str(tmp_path / "p.json"), str(tmp_path / "o.json"), "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    page = parse(out.read_text(encoding="utf-8"))
    text = " ".join(page.text)
    for heading in ("Overlap on email", "Audience profile", "Contribution to the shared audience"):
        assert heading in text
    assert overlap.query_id in text and profile.query_id in text
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"kind": "budget"}))
    for name, expected in (("bad.json", "not JSON"), ("other.json", "key 'kind' is 'budget'")):
        refused = CliRunner().invoke(app, ["report", str(tmp_path / name), "--out", str(out)])
        assert refused.exit_code == 2, refused.output
        lines = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and name in lines[0] and expected in lines[0], refused.stderr
