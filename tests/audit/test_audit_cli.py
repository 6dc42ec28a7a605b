"""`gongying audit` commands through typer's CliRunner: output and exit statuses."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from gongying.audit_cli import audit_app
from node.audit import open_audit_log, private_key_pem, public_key_pem
from tests.audit.conftest import make_record

runner = CliRunner()


@pytest.fixture
def signed_log(tmp_path: Path, signing_key: Ed25519PrivateKey) -> tuple[Path, Path]:
    """A 6-record log of retailer_a and the PEM public key that verifies its checkpoints."""
    (tmp_path / "writer.pem").write_bytes(private_key_pem(signing_key))
    public = tmp_path / "public.pem"
    public.write_bytes(public_key_pem(signing_key.public_key()))
    path = tmp_path / "a.db"
    with open_audit_log(str(path), "retailer_a", signing_key, checkpoint_every=4) as log:
        for index in range(1, 7):
            log.append(make_record(index))
    return path, public


def _tamper(path: Path, sql: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_records_no_update"))
        conn.execute(text("DROP TRIGGER audit_records_no_delete"))
        conn.execute(text(sql))
    engine.dispose()


def test_verify_passes_on_an_intact_log(signed_log: tuple[Path, Path]) -> None:
    path, public = signed_log
    result = runner.invoke(audit_app, ["verify", "--log", str(path), "--public-key", str(public)])
    assert result.exit_code == 0, result.output
    assert "ok: 6 records, 2 checkpoints" in result.output


def test_verify_fails_and_names_the_first_bad_record(signed_log: tuple[Path, Path]) -> None:
    path, public = signed_log
    _tamper(path, "UPDATE audit_records SET released = '{}' WHERE seq = 4")
    result = runner.invoke(audit_app, ["verify", "--log", str(path), "--public-key", str(public)])
    assert result.exit_code == 1
    assert "first bad record 4 (edited)" in result.output


def test_verify_with_another_partys_key_fails(
    signed_log: tuple[Path, Path], tmp_path: Path
) -> None:
    path, _ = signed_log
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    result = runner.invoke(audit_app, ["verify", "--log", str(path), "--public-key", str(other)])
    assert result.exit_code == 1
    assert "first bad record 4 (bad checkpoint signature)" in result.output


def test_verify_refuses_a_missing_log_and_a_private_key_as_public(
    signed_log: tuple[Path, Path], tmp_path: Path
) -> None:
    path, _ = signed_log
    result = runner.invoke(audit_app, ["verify", "--log", str(tmp_path / "nope.db")])
    assert result.exit_code == 2 and "nope.db does not exist" in result.output
    writer = tmp_path / "writer.pem"
    result = runner.invoke(audit_app, ["verify", "--log", str(path), "--public-key", str(writer)])
    assert result.exit_code == 2 and "writer.pem is not a PEM public key" in result.output


def test_list_json_applies_filters(signed_log: tuple[Path, Path]) -> None:
    path, _ = signed_log
    args = ["list", "--log", str(path), "--requester", "brand_x", "--status", "released"]
    result = runner.invoke(audit_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    expected = [f"q{i:04d}" for i in range(1, 7) if i % 2 == 0 and i % 4 in (0, 2)]
    assert [row["query_id"] for row in rows] == expected
    table = runner.invoke(audit_app, ["list", "--log", str(path), "--since", "2025-03-01T09:05"])
    assert table.exit_code == 0
    assert "q0005" in table.output and "q0006" in table.output and "q0004" not in table.output


def test_show_prints_one_query_and_fails_for_an_unknown_one(signed_log: tuple[Path, Path]) -> None:
    path, _ = signed_log
    result = runner.invoke(audit_app, ["show", "q0003", "--log", str(path), "--json"])
    assert result.exit_code == 0
    (row,) = json.loads(result.output)
    assert (row["seq"], row["error"]) == (3, "node retailer_b timed out")
    missing = runner.invoke(audit_app, ["show", "q9999", "--log", str(path)])
    assert missing.exit_code == 1 and "no record of query q9999" in missing.output


def test_export_writes_csv_and_jsonl(signed_log: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = signed_log
    out = tmp_path / "out.csv"
    result = runner.invoke(
        audit_app, ["export", "--log", str(path), "--format", "csv", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [int(row["seq"]) for row in rows] == [1, 2, 3, 4, 5, 6]
    jsonl = runner.invoke(audit_app, ["export", "--log", str(path), "--format", "jsonl"])
    assert [json.loads(line)["seq"] for line in jsonl.output.splitlines()] == [1, 2, 3, 4, 5, 6]
    bad = runner.invoke(audit_app, ["export", "--log", str(path), "--format", "xml"])
    assert bad.exit_code == 2


def test_reconcile_exit_status_names_the_party_lacking_a_query(
    signed_log: tuple[Path, Path], tmp_path: Path
) -> None:
    path, _ = signed_log
    other = tmp_path / "b.db"
    with open_audit_log(str(other), "retailer_b") as log:
        for index in (1, 2, 3, 5, 6):
            log.append(make_record(index, party="retailer_b"))
    result = runner.invoke(audit_app, ["reconcile", str(path), str(other)])
    assert result.exit_code == 1
    assert "query q0004 is not in retailer_b (present in retailer_a)" in result.output
    same = runner.invoke(audit_app, ["reconcile", str(path), str(path)])
    assert same.exit_code == 0, same.output
