"""Owners' display labels travel with a profile answer over real gRPC (mutual TLS) and make the
zh-CN tables and report say 年龄段 and 45岁及以上 where the data says `age_band` and `45+`; the
numbers stay the pandas truth, and the labels of attributes not asked never leave the owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from client.profile import client_profile_toml
from model.results import ProfileResult
from tests.insights.test_report import parse
from tests.privacy.conftest import (
    AGE_BANDS,
    BRAND,
    RETAILER_A,
    RETAILER_B,
    Arena,
    age_band,
    build_arena,
    invented,
    retailer_people,
)
from tests.usability.test_client_profile import gongying

LABELS_A = """
[labels.zh-CN]
age_band = "年龄段"
"age_band.18-24" = "18-24岁"
"age_band.45+" = "45岁及以上"
spend = "消费金额"
"""
LABELS_B = """
[labels.zh-CN]
age_band.18-24 = "青年"
age_band.25-34 = "25-34岁"
"""
BRAND_PEOPLE = list(range(0, 600, 3))

pytestmark = pytest.mark.slow  # a mutual-TLS deployment with a 2048-bit Paillier key


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    running = build_arena(
        tmp_path_factory.mktemp("labels"),
        exact=True,
        owner_toml={RETAILER_A: LABELS_A, RETAILER_B: LABELS_B},
    )
    running.brand_list(BRAND_PEOPLE, invented(50, "labels"))
    yield running
    running.stop()


def truth() -> dict[str, dict[str, int]]:
    """Per owner (and combined), the shared audience's members per age band, by pandas."""
    people = retailer_people()
    frames = {
        owner: pd.DataFrame({"person": sorted(set(BRAND_PEOPLE) & set(members))})
        for owner, members in people.items()
    }
    frames["combined"] = pd.concat(frames.values())
    counts = {
        owner: frame["person"].map(age_band).value_counts().reindex(AGE_BANDS, fill_value=0)
        for owner, frame in frames.items()
    }
    return {owner: {str(b): int(n) for b, n in c.items()} for owner, c in counts.items()}


@pytest.fixture(scope="module")
def answer(arena: Arena) -> ProfileResult:
    with arena.client() as client:
        return client.profile(BRAND, [RETAILER_A, RETAILER_B], ["age_band"], id_type="email")


def test_labels_of_the_attributes_asked_reach_the_querier(answer: ProfileResult) -> None:
    expected = truth()
    for p in answer.profiles:
        assert {b: n for b, n in p.categorical["age_band"].items() if b != "other"} == (
            expected[p.owner]
        )
    a, b = answer.profile(RETAILER_A), answer.profile(RETAILER_B)
    assert a.labels == {
        "zh-CN": {"age_band": "年龄段", "age_band.18-24": "18-24岁", "age_band.45+": "45岁及以上"}
    }  # `spend` was not asked: its label stays with the owner
    assert b.labels == {"zh-CN": {"age_band.18-24": "青年", "age_band.25-34": "25-34岁"}}
    merged = answer.profile("combined").labels["zh-CN"]
    assert merged["age_band.18-24"] == "18-24岁"  # the owner listed first wins a conflict
    assert merged["age_band.25-34"] == "25-34岁"
    assert ProfileResult.from_json(json.loads(json.dumps(answer.to_json()))).profiles == (
        answer.profiles
    )  # the labels survive a saved --json answer


def test_cli_tables_and_report_in_chinese_with_the_owners_labels(
    arena: Arena, tmp_path: Path
) -> None:
    # the client profile `gongying certs init` writes beside the certificates
    profile = arena.root / "certs" / "client.toml"
    profile.write_text(client_profile_toml(arena.coordinator.address, BRAND))
    home = tmp_path / "home"
    asked = ("--owners", f"{RETAILER_A},{RETAILER_B}", "--attributes", "age_band")
    shown = gongying(
        "query", "profile", "--profile", str(profile), *asked, "--lang", "zh-CN",
        "--no-progress", home=home,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    for text in ("年龄段", "18-24岁", "45岁及以上", "25-34岁", "共有受众", "分组"):
        assert text in shown.stdout, text
    assert "age_band" not in shown.stdout and "members per bin" not in shown.stdout

    saved = gongying("query", "profile", "--profile", str(profile), *asked, "--json", home=home)
    assert saved.returncode == 0, saved.stderr
    (tmp_path / "profile.json").write_text(saved.stdout)
    tables = tmp_path / "tables"
    report = gongying(
        "report", str(tmp_path / "profile.json"), "--out", str(tmp_path / "r.html"),
        "--csv", str(tables), "--lang", "zh-CN", home=home,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    page = parse((tmp_path / "r.html").read_text(encoding="utf-8"))
    text = " ".join(page.text)
    for heading in ("受众画像", "年龄段", "数据来源"):
        assert heading in text
    expected = truth()
    owners = [RETAILER_A, RETAILER_B, "combined"]
    for band, name in (("18-24", "18-24岁"), ("45+", "45岁及以上"), ("35-44", "35-44")):
        row = next(r for r in page.rows if r and r[0] == name)
        assert row[1::2] == [f"{expected[o][band]:,}" for o in owners], row
    # the CSV keeps the raw codes and holds the same numbers
    frame = pd.read_csv(tables / "profile_age_band.csv", index_col="age_band")
    for owner in owners:
        assert frame.loc[list(AGE_BANDS), owner].tolist() == [expected[owner][b] for b in AGE_BANDS]
    long = pd.read_csv(tables / "profile.csv", keep_default_na=False)
    assert set(long["owner"]) == set(owners)
