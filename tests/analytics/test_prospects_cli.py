"""`gongying query prospects` against real nodes over mutual TLS: the JSON, CSV and report hold
the oracle's numbers; a saved answer is analysed again without a query; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gongying.cli import app
from tests.analytics.conftest import plaintext_sets
from tests.privacy.conftest import BRAND, RETAILER_A, RETAILER_B, Arena

pytestmark = pytest.mark.slow  # mutual-TLS arenas of three nodes


def tls_options(arena: Arena) -> list[str]:
    files = arena.certs.parties[BRAND]
    return [
        "--coordinator",
        arena.coordinator.address,
        "--ca",
        str(arena.certs.ca),
        "--cert",
        str(files.cert),
        "--key",
        str(files.key),
        "--signing-key",
        str(files.sign_key),
        "--no-progress",
    ]


def test_json_csv_and_report_hold_the_oracles_numbers(exact_arena: Arena, tmp_path: Path) -> None:
    exact_arena.brand_list(list(range(0, 600, 3)))
    sets = plaintext_sets(exact_arena)
    report, csv = tmp_path / "joint.html", tmp_path / "prospects.csv"
    run = CliRunner().invoke(
        app,
        [
            "query",
            "prospects",
            "--querier",
            BRAND,
            "--partners",
            f"{RETAILER_A},{RETAILER_B}",
            *tls_options(exact_arena),
            "--json",
            "--csv",
            str(csv),
            "--report",
            str(report),
        ],
        catch_exceptions=False,
    )
    assert run.exit_code == 0, run.stderr
    answer = json.loads(run.stdout)
    truth = {r: len(sets[r] - sets[BRAND]) for r in (RETAILER_A, RETAILER_B)}
    assert {p["party"]: p["prospects"] for p in answer["prospects"]} == truth
    assert [p["party"] for p in answer["prospects"]] == sorted(truth, key=lambda r: -truth[r])
    shares = {(c["a"], c["b"]): c["adds_share"] for c in answer["complementarity"]}
    assert shares[(RETAILER_A, RETAILER_B)] == pytest.approx(
        len(sets[RETAILER_B] - sets[RETAILER_A]) / len(sets[RETAILER_B])
    )
    table = pd.read_csv(csv, index_col="party")
    assert table["prospects"].to_dict() == truth
    pairs = pd.read_csv(tmp_path / "prospects.complementarity.csv", index_col=["a", "b"])
    assert len(pairs) == 6
    page = report.read_text(encoding="utf-8")
    assert "资源互补度热力图" in page and "Prospect ranking" in page
    assert all(f">{n:,}<" in page for n in truth.values())
    # the saved answer analysed again gives the same analysis, with no query run
    saved = tmp_path / "overlap.json"
    saved.write_text(json.dumps(answer["overlap"]), encoding="utf-8")
    again = CliRunner().invoke(
        app, ["query", "prospects", "--querier", BRAND, "--from", str(saved), "--json"]
    )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == answer


def test_bad_input_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    runner = CliRunner()
    home = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    neither = runner.invoke(app, ["query", "prospects", "--querier", BRAND], env=home)
    assert neither.exit_code == 2
    assert "no coordinator: pass --coordinator HOST:PORT" in neither.stderr
    assert "Traceback" not in neither.output
    both = runner.invoke(
        app, ["query", "prospects", "--querier", BRAND, "--coordinator", "x:1", "--from", "a"]
    )
    assert both.exit_code == 1
    assert "name either --coordinator/--profile (run an overlap query) or --from" in both.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{}", encoding="utf-8")
    unreadable = runner.invoke(
        app, ["query", "prospects", "--querier", BRAND, "--from", str(broken)]
    )
    assert unreadable.exit_code == 1
    assert f"cannot read an overlap answer from {broken}" in unreadable.stderr
    saved = tmp_path / "overlap.json"
    saved.write_text(
        json.dumps(
            {
                "query_id": "q1",
                "parties": [BRAND, RETAILER_A],
                "id_type": "email",
                "set_sizes": {BRAND: 20, RETAILER_A: 30},
                "regions": [
                    {"parties": [BRAND], "count": 10},
                    {"parties": [RETAILER_A], "count": 20},
                    {"parties": [BRAND, RETAILER_A], "count": 10},
                ],
                "pairwise": [{"a": BRAND, "b": RETAILER_A, "count": 10}],
                "all_parties": 10,
            }
        ),
        encoding="utf-8",
    )
    stranger = runner.invoke(app, ["query", "prospects", "--querier", "shop", "--from", str(saved)])
    assert stranger.exit_code == 1
    assert "party 'shop' is not in query q1" in stranger.stderr
    assert len(stranger.stderr.strip().splitlines()) == 1
