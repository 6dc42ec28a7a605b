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
from runtime.audit import open_audit_log, private_key_pem, public_key_pem
from tests.audit.conftest import backends, make_record
from tests.audit.trio import EVERYONE, RETAILER_B, Trio, zeroed

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


def test_verify_without_a_key_says_so_and_fails_unless_chain_only(
    signed_log: tuple[Path, Path],
) -> None:
    path, _ = signed_log
    result = runner.invoke(audit_app, ["verify", "--log", str(path)])
    assert result.exit_code == 2
    assert "CHECKPOINT SIGNATURES NOT CHECKED" in result.output
    assert "ok:" not in result.output
    chain = runner.invoke(audit_app, ["verify", "--log", str(path), "--chain-only"])
    assert chain.exit_code == 0, chain.output
    assert "chain only: 6 records" in chain.output
    assert "CHECKPOINT SIGNATURES NOT CHECKED" in chain.output


def test_verify_states_coverage_and_fails_on_an_unsigned_tail(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    public = tmp_path / "public.pem"
    public.write_bytes(public_key_pem(signing_key.public_key()))
    path = tmp_path / "a.db"
    writer = open_audit_log(str(path), "retailer_a", signing_key, checkpoint_every=4)
    for index in range(1, 7):
        writer.append(make_record(index))
    # left open, as by a writer killed before its closing checkpoint
    args = ["verify", "--log", str(path), "--public-key", str(public)]
    result = runner.invoke(audit_app, args)
    assert result.exit_code == 1
    assert "FAILED: 2 unsigned records after the last checkpoint (records 5..6)" in result.output
    assert "4 of 6 records covered by signed checkpoints; 2 unsigned" in result.output
    accepted = runner.invoke(audit_app, [*args, "--allow-unsigned-tail", "2"])
    assert accepted.exit_code == 0, accepted.output
    assert accepted.output.startswith("ok: 6 records, 1 checkpoints")


def test_verify_fails_a_log_with_no_checkpoint(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "public.pem"
    public.write_bytes(public_key_pem(key.public_key()))
    path = tmp_path / "a.db"
    with open_audit_log(str(path), "retailer_a") as log:  # written without a key
        log.append(make_record(1))
    result = runner.invoke(audit_app, ["verify", "--log", str(path), "--public-key", str(public)])
    assert result.exit_code == 1
    assert "FAILED: no signed checkpoint: none of the 1 records" in result.output


def test_reconcile_cli_names_the_party_and_record_of_a_rewritten_log(tmp_path: Path) -> None:
    with backends("sqlite", tmp_path, EVERYONE) as places:
        trio = Trio(places, {party: Ed25519PrivateKey.generate() for party in EVERYONE})
        trio.run_queries(1, 3)
        keys = []
        for party, key in trio.keys.items():
            pem = tmp_path / f"{party}.sign.pub"
            pem.write_bytes(public_key_pem(key.public_key()))
            keys += ["--public-key", f"{party}={pem}"]
        logs = [places[party].url for party in EVERYONE]
        clean = runner.invoke(audit_app, ["reconcile", *logs, *keys])
        assert clean.exit_code == 0, clean.output
        assert "3 queries across coordinator, retailer_a, retailer_b; 12 witnessed heads" in (
            clean.output
        )
        unkeyed = runner.invoke(audit_app, ["reconcile", *logs])
        assert "signatures NOT checked for coordinator, retailer_a, retailer_b" in unkeyed.output
        trio.rechain(RETAILER_B, zeroed)
        result = runner.invoke(audit_app, ["reconcile", *logs, *keys])
    assert result.exit_code == 1
    assert "head: coordinator witnessed retailer_b's head at record 2 (query q0002)" in (
        result.output
    )
    assert "conflict: query q0001 epsilon: retailer_b as coordinator witnessed=0.25" in (
        result.output
    )
    assert "conflict: query q0001 released:" in result.output
    assert result.output.rstrip().endswith("FAILED")
