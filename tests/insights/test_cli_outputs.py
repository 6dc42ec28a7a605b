"""`gongying query ... --report/--csv` write the report and the regions table of the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import client.sdk
from client.frames import regions_frame
from gongying.cli import app
from model.results import OverlapResult, ProfileResult
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile

OVERLAP = overlap_from_sets(demo_sets())
PROFILE = sample_profile()


class AnsweringClient:
    """Stands in for the coordinator: answers with the results built in the test."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> AnsweringClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def overlap(self, *args: Any, **kwargs: Any) -> OverlapResult:
        return OVERLAP

    def profile(self, *args: Any, **kwargs: Any) -> ProfileResult:
        return PROFILE


@pytest.fixture(autouse=True)
def answering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client.sdk, "CoordinatorClient", AnsweringClient)


def test_query_overlap_report_and_csv_beside_json(tmp_path: Path) -> None:
    report, csv = tmp_path / "out.html", tmp_path / "regions.csv"
    result = CliRunner().invoke(
        app,
        [
            "query",
            "overlap",
            "--coordinator",
            "127.0.0.1:1",
            "--parties",
            ",".join(OVERLAP.parties),
            "--json",
            "--report",
            str(report),
            "--csv",
            str(csv),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == OVERLAP.to_json()
    assert f"wrote {report}" in result.stderr.replace("\n", "")
    table = pd.read_csv(csv, index_col="region")
    expected = regions_frame(OVERLAP)
    assert list(table.index) == list(expected.index)
    assert table["count"].tolist() == [count for _, count in OVERLAP.regions]
    assert table[list(OVERLAP.parties)].to_numpy().tolist() == [
        [p in members for p in OVERLAP.parties] for members, _ in OVERLAP.regions
    ]
    page = report.read_text(encoding="utf-8")
    assert "Contribution to the shared audience" in page and "Audience profile" not in page
    assert all(f">{count:,}<" in page for _, count in OVERLAP.regions)


def test_query_profile_report(tmp_path: Path) -> None:
    report = tmp_path / "profile.html"
    result = CliRunner().invoke(
        app,
        [
            "query",
            "profile",
            "--coordinator",
            "127.0.0.1:1",
            "--querier",
            "brand",
            "--owners",
            "retailer_a,retailer_b",
            "--attributes",
            "age_band,gender,spend_12m",
            "--report",
            str(report),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    page = report.read_text(encoding="utf-8")
    assert "Audience profile" in page and "Overlap on" not in page
    for owner in PROFILE.profiles:
        assert all(f">{n:,}<" in page for n in owner.categorical["age_band"].values())


def test_unwritable_report_fails_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "query",
            "overlap",
            "--coordinator",
            "127.0.0.1:1",
            "--parties",
            "brand,retailer_a",
            "--report",
            str(tmp_path / "missing" / "out.html"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    assert "cannot write" in result.stderr
