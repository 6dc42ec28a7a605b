"""The `gongying` command line against a running in-process deployment, and the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from client.sdk import CoordinatorClient
from gongying.cli import app
from tests.integration.deployment import Deployment, assert_equals_truth, start_deployment

REPO = Path(__file__).resolve().parents[1]
PARTIES = ["brand", "retailer_a"]
JSON_KEYS = {
    "release",
    "query_id",
    "kind",
    "id_type",
    "parties",
    "set_sizes",
    "regions",
    "pairwise",
    "all_parties",
    "union",
    "loads",
    "seconds",
}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    running = start_deployment(
        tmp_path_factory.mktemp("cli"), {"brand": "csv", "retailer_a": "csv"}, members=200
    )
    try:
        yield running
    finally:
        running.stop()


def _overlap(address: str, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["query", "overlap", "--coordinator", address, *extra], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def test_query_overlap_json(deployment: Deployment) -> None:
    code, out, err = _overlap(
        deployment.address,
        "--parties",
        "brand,retailer_a",
        "--id-type",
        "phone",
        "--json",
        "--query-id",
        "cli-json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == JSON_KEYS
    assert doc["query_id"] == "cli-json"
    assert doc["kind"] == "overlap"
    assert doc["id_type"] == "phone"
    assert doc["parties"] == PARTIES
    assert all(set(region) == {"parties", "count"} for region in doc["regions"])
    assert all(set(pair) == {"a", "b", "count"} for pair in doc["pairwise"])
    assert isinstance(doc["seconds"], float | int) and doc["seconds"] >= 0
    truth = deployment.truth(PARTIES, "phone")
    assert doc["set_sizes"] == truth.sizes
    assert {frozenset(r["parties"]): r["count"] for r in doc["regions"]} == truth.regions
    assert doc["pairwise"] == [
        {"a": "brand", "b": "retailer_a", "count": truth.pair("brand", "retailer_a")}
    ]
    assert doc["all_parties"] == truth.all_parties
    assert [load["party"] for load in doc["loads"]] == PARTIES

    with CoordinatorClient(deployment.address) as client:
        sdk = client.overlap(PARTIES, "phone", query_id="cli-json")
    assert_equals_truth(sdk, truth, PARTIES)
    expected = sdk.to_json()
    assert {k: v for k, v in doc.items() if k != "seconds"} == {
        k: v for k, v in expected.items() if k != "seconds"
    }


def test_query_overlap_table(deployment: Deployment) -> None:
    code, out, err = _overlap(deployment.address, "--parties", "brand, retailer_a")
    assert code == 0, err
    truth = deployment.truth(PARTIES, "email")
    assert "brand only" in out and "retailer_a only" in out
    # the region held by both is the all-parties row: listed once, not also as a region
    assert "brand & retailer_a only" not in out
    assert out.count("all parties (intersection)") == 1
    assert f"{truth.all_parties:,}" in out
    assert "took" in out


def test_query_overlap_unknown_party(deployment: Deployment) -> None:
    code, out, err = _overlap(deployment.address, "--parties", "brand,nobody", "--json")
    assert code != 0
    assert out == ""
    assert "'nobody'" in err
    assert "known parties: brand, retailer_a" in err
    assert "INVALID_ARGUMENT" in err


def test_query_overlap_unreachable_coordinator() -> None:
    from gongying.launch import free_port

    address = f"127.0.0.1:{free_port()}"
    code, out, err = _overlap(address, "--parties", "brand,retailer_a", "--timeout", "10")
    assert code != 0
    assert out == ""
    assert f"coordinator at {address} is unreachable" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "verdict"),
    [
        ((), "every released count lies within its noise interval of the plaintext truth"),
        (("--exact",), "the private answer equals the plaintext truth"),
    ],
)
def test_demo_agrees_with_the_truth(flags: tuple[str, ...], verdict: str) -> None:
    """Noised by default (every count within its interval), exact with --exact."""
    result = subprocess.run(
        [sys.executable, "-m", "gongying", "demo", "--members", "200", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " ".join(verdict.split()) in " ".join(result.stdout.split())
    assert "DIFFERENT" not in result.stdout
    if not flags:
        assert "noised counts:" in result.stdout


def test_demo_data_without_email_column(tmp_path: Path) -> None:
    data = tmp_path / "my data"
    data.mkdir()
    pd.DataFrame({"email": ["a@b.cn", "c@d.cn"]}).to_csv(data / "shop.csv", index=False)
    pd.DataFrame({"mail": ["a@b.cn"], "phone": ["13800138000"]}).to_csv(
        data / "partner.csv", index=False
    )
    result = CliRunner().invoke(
        app, ["demo", "--data", str(data), "--workdir", str(tmp_path / "work")]
    )
    assert result.exit_code != 0
    assert f"{data / 'partner.csv'}: no 'email' column" in result.stderr
    assert "mail, phone" in result.stderr
    assert not list((tmp_path / "work").glob("configs/*.toml"))  # nothing was started
