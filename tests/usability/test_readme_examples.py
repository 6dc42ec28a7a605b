"""The README's Python examples, run as written against a real mutual-TLS deployment.

The blocks of "Overlap JSON", "Profile JSON" and "Insights" are run in order in one namespace
(the later ones continue with `result` and `profile`), from the deployment's folder, which holds
`certs/` as `gongying certs init` writes it and the README's `client.toml`. The one change made
to the text: the coordinator's address `127.0.0.1:50050` becomes the port the test coordinator
got. What they compute is compared with a pandas oracle over the parties' CSV files, under the
arena's exact-mode policies (k 10).
"""

from __future__ import annotations

import re
import runpy
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from client.frames import profile_table
from model.results import OverlapResult, ProfileResult
from tests.privacy.conftest import (
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    Arena,
    build_arena,
    invented,
)

pytestmark = pytest.mark.slow  # real deployments per test

REPO = Path(__file__).resolve().parents[2]
README_ADDRESS = "127.0.0.1:50050"
SECTIONS = ("Overlap JSON", "Profile JSON", "Insights: DataFrames, contribution, report")


def section(title: str) -> str:
    """The README's text under `## title`, up to the next `## ` heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    running = build_arena(tmp_path_factory.mktemp("readme"), exact=True)
    # 50 brand customers no retailer holds, so that every region is at least k (exact mode
    # would otherwise hide the regions that reveal the empty brand-only region)
    running.brand_list(list(range(0, 600, 3)), invented(50, "readme"))
    yield running
    running.stop()


def members(arena: Arena) -> dict[str, pd.DataFrame]:
    """Each party's rows, as its node reads them."""
    return {p: pd.read_csv(arena.root / "data" / f"{p}.csv", dtype=str) for p in PARTIES}


def true_regions(frames: dict[str, pd.DataFrame]) -> dict[frozenset[str], int]:
    sets = {p: set(frame["email"]) for p, frame in frames.items()}
    regions = {}
    for size in range(1, len(PARTIES) + 1):
        for chosen in combinations(PARTIES, size):
            inside = set.intersection(*(sets[p] for p in chosen))
            outside = set().union(*(sets[p] for p in PARTIES if p not in chosen))
            regions[frozenset(chosen)] = len(inside - outside)
    return regions


def run_examples(arena: Arena) -> tuple[dict[str, Any], int]:
    """Write the README's client.toml, run its Python blocks; the namespace and block count."""
    address = arena.coordinator.address
    toml = blocks(section("Overlap JSON"), "toml")
    assert len(toml) == 1 and f'coordinator = "{README_ADDRESS}"' in toml[0]
    (arena.root / "client.toml").write_text(toml[0].replace(README_ADDRESS, address))
    examples = [code for title in SECTIONS for code in blocks(section(title), "python")]
    namespace: dict[str, Any] = {}
    for number, code in enumerate(examples):
        script = arena.root / f"readme_example_{number}.py"
        script.write_text(code.replace(README_ADDRESS, address), encoding="utf-8")
        namespace = runpy.run_path(str(script), init_globals=namespace)
    return namespace, len(examples)


def test_readme_python_examples_run_as_written(
    arena: Arena, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(arena.root)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(arena.root / "no-default-profile"))
    namespace, count = run_examples(arena)
    printed = capsys.readouterr().out
    assert count >= 4  # overlap with a profile, overlap spelled out, profile, insights

    frames = members(arena)
    truth = true_regions(frames)
    result = namespace["result"]
    assert isinstance(result, OverlapResult)
    released = [(m, n) for m, n in result.regions if n is not None]
    assert released, "every region hidden: nothing compared"
    for parties, count_ in released:
        assert count_ == truth[frozenset(parties)], parties
    assert str(result.set_sizes) in printed

    profile = namespace["profile"]
    assert isinstance(profile, ProfileResult)
    brand = set(frames[BRAND]["email"])
    table = profile_table(profile)
    compared = 0
    for owner in (RETAILER_A, RETAILER_B):
        shared = frames[owner][frames[owner]["email"].isin(brand)]
        bins = shared["age_band"].value_counts()
        rows = table[table["owner"] == owner]
        audience = rows[rows["statistic"] == "overlap"]["value"].iloc[0]
        assert audience == len(shared)
        for _, row in rows[rows["statistic"] == "members"].iterrows():
            if pd.isna(row["value"]):
                assert row["status"] in ("<10", "suppressed")
                continue
            members_in_bin = int(bins.get(row["bin"], 0))  # `other`: none in this data
            assert row["value"] == members_in_bin, (owner, row["bin"])
            # over the whole shared audience, not over the bins
            assert row["share_of_audience"] == pytest.approx(100 * members_in_bin / len(shared))
            compared += 1
    assert compared > 0

    shares = namespace["shares"].to_frame()
    customers = frames[BRAND]["email"]
    reached = customers.isin(set(frames[RETAILER_A]["email"]) | set(frames[RETAILER_B]["email"]))
    assert namespace["shares"].total_reach == int(reached.sum())
    assert shares["shapley"].dtype == "Float64"
    assert float(shares["shapley"].sum()) == pytest.approx(int(reached.sum()))
    assert float(shares["shapley_share"].sum()) == pytest.approx(1.0)

    page = (arena.root / "report.html").read_text(encoding="utf-8")
    for heading in ("Overlap on email", "Audience profile", "Contribution to the shared audience"):
        assert heading in page
    assert "http://" not in page and "https://" not in page
