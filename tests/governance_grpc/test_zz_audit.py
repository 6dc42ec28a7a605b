"""After every other test of this folder (this module runs last): each party's audit log verifies
under its public key, records each query as the tests expect, and the logs reconcile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from gongying.certs import COORDINATOR
from gongying.cli import app
from node.audit import AuditLog, load_public_key, open_audit_log, reconcile
from tests.governance_grpc.conftest import PARTIES, Governed

EVERYONE = (*PARTIES, COORDINATOR)


@pytest.fixture(scope="module")
def logs(governed: Governed) -> Iterator[dict[str, AuditLog]]:
    """Every party's log, opened as an auditor would, after the parties shut down (their
    closing checkpoints signed)."""
    governed.stop()
    opened = {party: open_audit_log(str(governed.log_path(party))) for party in EVERYONE}
    yield opened
    for log in opened.values():
        log.close()


def test_every_log_verifies_under_its_public_key(
    governed: Governed, logs: dict[str, AuditLog]
) -> None:
    for party, log in logs.items():
        assert log.party == party
        report = log.verify(load_public_key(governed.certs.parties[party].sign_pub))
        assert report.ok, (party, report.faults)
        assert report.signatures_checked
        assert report.checkpoints >= 1
        assert report.records == len(list(log.records()))


def test_every_query_is_recorded_as_expected(governed: Governed, logs: dict[str, AuditLog]) -> None:
    for item in governed.expected:
        seen = {
            party: [s.record for s in log.records(query_id=item.query_id)]
            for party, log in logs.items()
        }
        if item.outcome == "released":
            for party in (*item.parties, COORDINATOR):
                decisions = [r.decision for r in seen[party]]
                assert "released" in decisions, (item, party, decisions)
            continue
        for party in item.refusing:
            refusals = [r for r in seen[party] if r.decision == "refused"]
            assert [r.rule for r in refusals] == [item.rule], (item, party, seen[party])
        for party in item.parties:
            assert all(r.decision != "released" for r in seen[party]), (item, party)
            if item.asked is not None and party not in item.asked:
                assert seen[party] == [], (item, party)
        if item.via_coordinator:
            assert [r.decision for r in seen[COORDINATOR]] in (["refused"], ["failed"]), item
        else:
            assert seen[COORDINATOR] == [], item


def test_the_logs_reconcile(governed: Governed, logs: dict[str, AuditLog]) -> None:
    """Lined up by query id, the logs agree on every query's kind and parties; the only
    queries some named party lacks are the ones sent to a single node directly, and the ones
    the querier's own node refused (no other node was asked)."""
    report = reconcile(logs, named_only=True)
    assert report.conflicts == ()
    direct = {item.query_id for item in governed.expected if not item.via_coordinator}
    unasked = {
        item.query_id
        for item in governed.expected
        if item.asked is not None and set(item.asked) != set(item.parties)
    }
    assert {m.query_id for m in report.missing} == direct | unasked
    for missing in report.missing:
        assert (COORDINATOR in missing.present_in) == (missing.query_id in unasked)
    via = {item.query_id for item in governed.expected if item.via_coordinator}
    coordinator_ids = {s.record.query_id for s in logs[COORDINATOR].records()}
    assert via <= coordinator_ids


def test_audit_verify_cli_on_one_log(governed: Governed, logs: dict[str, AuditLog]) -> None:
    key = governed.certs.parties["retailer_a"].sign_pub
    outcome = CliRunner().invoke(
        app,
        [
            "audit",
            "verify",
            "--log",
            str(governed.log_path("retailer_a")),
            "--public-key",
            str(key),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("ok: ")
    wrong = governed.certs.parties["brand"].sign_pub
    refused = CliRunner().invoke(
        app,
        [
            "audit",
            "verify",
            "--log",
            str(governed.log_path("retailer_a")),
            "--public-key",
            str(wrong),
        ],
    )
    assert refused.exit_code == 1
