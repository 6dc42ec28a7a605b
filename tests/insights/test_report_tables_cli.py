"""`gongying report` from saved answers, as an analyst runs it: `--csv FOLDER` writes one file
per table holding the same numbers as the answers; `--lang` other than en or zh-CN, or nothing
to write, is one `error:` line (the query commands refuse a language before connecting)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from client.insights import contribution
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile

pytestmark = pytest.mark.slow  # runs the CLI in subprocesses against a deployment

GONGYING = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "gongying"


def gongying(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GONGYING), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100", "LANG": "C.UTF-8"},
    )


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, Path]:
    overlap, profile = tmp_path / "overlap.json", tmp_path / "profile.json"
    overlap.write_text(json.dumps(overlap_from_sets(demo_sets()).to_json()))
    profile.write_text(json.dumps(sample_profile().to_json()))
    return overlap, profile


def test_csv_folder_holds_every_table(saved: tuple[Path, Path], tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    done = gongying("report", *map(str, saved), "--csv", str(tables))
    assert done.returncode == 0, done.stderr
    names = {p.name for p in tables.iterdir()}
    assert names == {
        "overlap_regions.csv",
        "overlap_pairwise.csv",
        "contribution.csv",
        "profile.csv",
        "profile_age_band.csv",
        "profile_gender.csv",
        "profile_spend_12m.csv",
    }
    assert f"wrote {tables / 'profile.csv'}" in done.stderr
    overlap, profile = overlap_from_sets(demo_sets()), sample_profile()
    regions = pd.read_csv(tables / "overlap_regions.csv", index_col="region")
    for members, count in overlap.regions:
        assert regions.loc[" & ".join(members), "count"] == count
    pairs = pd.read_csv(tables / "overlap_pairwise.csv", index_col="party")
    assert pairs.loc["brand", "retailer_a"] == overlap.pair("brand", "retailer_a")
    shares = pd.read_csv(tables / "contribution.csv", index_col="retailer")
    expected = contribution(overlap, "brand")
    for share in expected.shares:
        assert shares.loc[share.retailer, "unique_reach"] == share.unique_reach
    gender = pd.read_csv(tables / "profile_gender.csv", index_col="gender")
    for p in profile.profiles:
        assert gender[p.owner].to_dict() == p.categorical["gender"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--out", "r.html", "--lang", "fr"],
            "--lang: unknown language 'fr'; supported: en, zh-CN",
        ),
        (["--out", "r.html", "--lang", "zh_CN"], "did you mean 'zh-CN'?"),
        ([], "nothing to write: pass --out REPORT.html and/or --csv FOLDER"),
    ],
)
def test_report_refusals_are_one_line(
    saved: tuple[Path, Path], tmp_path: Path, args: list[str], message: str
) -> None:
    done = gongying(
        "report", *map(str, saved), *[a.replace("r.html", str(tmp_path / "r.html")) for a in args]
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        next(line for line in done.stderr.splitlines() if message in line)
    ]
    assert not (tmp_path / "r.html").exists()


def test_a_query_refuses_an_unknown_language_before_connecting() -> None:
    done = gongying(
        "query", "overlap", "--coordinator", "127.0.0.1:1", "--parties", "a,b", "--lang", "fr"
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: --lang: unknown language 'fr'; supported: en, zh-CN"
