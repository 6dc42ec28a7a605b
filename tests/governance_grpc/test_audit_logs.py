"""Every party's audit log after queries over real gRPC with mTLS: each verifies under its
public key with every record signed, holds the signed heads its peers handed it at each settle,
and the logs reconcile; rewriting one afterwards fails reconcile. Runs its own deployment, so
it passes alone and in any order."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from client.sdk import QueryError
from gongying.cli import app
from runtime.audit import (
    AuditLog,
    load_private_key,
    load_public_key,
    open_audit_log,
    reconcile,
)
from runtime.certs import COORDINATOR
from tests.audit.conftest import Backend
from tests.audit.trio import Trio, opened, zeroed
from tests.governance_grpc.conftest import (
    ANALYST,
    BRAND,
    PARTIES,
    RETAILER_A,
    RETAILER_B,
    Expected,
    Governed,
    deploy,
    open_request,
    truth,
)
from wire.v1 import node_pb2

EVERYONE = (*PARTIES, COORDINATOR)


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@dataclass
class Audited:
    """The stopped deployment, the queries it ran, and the answers it gave."""

    governed: Governed
    expected: list[Expected]
    three_way: str
    noised: str

    def keys(self) -> dict[str, Ed25519PublicKey]:
        return {p: load_public_key(self.governed.certs.parties[p].sign_pub) for p in EVERYONE}


def _run_queries(governed: Governed) -> Audited:
    expected: list[Expected] = []
    three_way = new_id("three-way")
    everyone = [BRAND, RETAILER_A, RETAILER_B]
    with governed.client(BRAND) as client:
        result = client.overlap(everyone, query_id=three_way)
    oracle = truth(everyone)
    # exact mode: sizes join the suppression audit; the querier's own size is always released
    assert result.set_sizes[BRAND] == oracle.sizes[BRAND]
    assert all(n in (None, oracle.sizes[p]) for p, n in result.set_sizes.items())
    assert oracle.all_parties == 3 and result.all_parties is None  # below k: suppressed
    expected.append(Expected(three_way, tuple(everyone), "released"))
    noised = new_id("noised")  # retailer_a charges retailer_b epsilon 0.5
    with governed.client(RETAILER_B) as client:
        client.overlap([RETAILER_A, RETAILER_B], query_id=noised)
    expected.append(Expected(noised, (RETAILER_A, RETAILER_B), "released"))
    id_type = new_id("idtype")
    with governed.client(BRAND) as client, pytest.raises(QueryError):
        client.overlap([BRAND, RETAILER_A], id_type="phone", query_id=id_type)
    expected.append(
        Expected(id_type, (BRAND, RETAILER_A), "refused", (RETAILER_A,), "partners.brand.id_types")
    )
    unlisted = new_id("unlisted")
    with governed.client(ANALYST) as client, pytest.raises(QueryError):
        client.overlap([BRAND, RETAILER_A], query_id=unlisted)
    expected.append(
        Expected(unlisted, (BRAND, RETAILER_A), "refused", (BRAND, RETAILER_A), "partners")
    )
    unknown = new_id("unknown")  # refused by the coordinator before any node hears of it
    with governed.client(BRAND) as client, pytest.raises(QueryError):
        client.overlap([BRAND, "nobody"], query_id=unknown)
    expected.append(Expected(unknown, (BRAND, "nobody"), "refused", (), ""))
    direct = new_id("direct")  # sent to a node directly, never through the coordinator
    request = open_request(direct, [BRAND, RETAILER_A])
    request.signed.CopyFrom(
        governed.signer(BRAND).sign(direct, "overlap", [BRAND, RETAILER_A], "email")
    )
    stub = governed.node_stub(RETAILER_A)
    stub.OpenSession(request, timeout=30)
    stub.CloseSession(
        node_pb2.CloseSessionRequest(query_id=direct, outcome="failed", error="test"), timeout=30
    )
    expected.append(Expected(direct, (BRAND, RETAILER_A), "failed", via_coordinator=False))
    return Audited(governed, expected, three_way, noised)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    governed = deploy(tmp_path_factory.mktemp("audited"))
    try:
        ran = _run_queries(governed)
    finally:
        governed.stop()  # the closing checkpoints are signed here
    yield ran


@pytest.fixture
def logs(audited: Audited) -> Iterator[dict[str, AuditLog]]:
    """Every party's log, opened as an auditor would (no key)."""
    with opened({p: open_audit_log(str(audited.governed.log_path(p))) for p in EVERYONE}) as kept:
        yield kept


def test_every_log_verifies_with_every_record_signed(
    audited: Audited, logs: dict[str, AuditLog]
) -> None:
    keys = audited.keys()
    for party, log in logs.items():
        assert log.party == party
        report = log.verify(keys[party])
        assert report.ok, (party, report.faults)
        assert report.coverage_problem() is None, (party, report.coverage())
        assert report.covered == report.records == len(list(log.records())) > 0


def test_every_query_is_recorded_as_expected(audited: Audited, logs: dict[str, AuditLog]) -> None:
    for item in audited.expected:
        seen = {
            p: [s.record for s in log.records(query_id=item.query_id)] for p, log in logs.items()
        }
        if item.outcome == "released":
            for party in (*item.parties, COORDINATOR):
                assert [r.decision for r in seen[party]] == ["released"], (item, party)
            continue
        for party in item.refusing:
            refusals = [r for r in seen[party] if r.decision == "refused"]
            assert [r.rule for r in refusals] == [item.rule], (item, party, seen[party])
        for party in item.parties:
            assert all(r.decision != "released" for r in seen.get(party, [])), (item, party)
        if item.via_coordinator:
            assert [r.decision for r in seen[COORDINATOR]] in (["refused"], ["failed"]), item
        else:
            assert seen[COORDINATOR] == [], item


def test_each_settle_leaves_the_peers_signed_heads(
    audited: Audited, logs: dict[str, AuditLog]
) -> None:
    """A node's settle record holds the coordinator's head; the coordinator's record of the
    query holds every node's head and the epsilon that node's log charged."""
    keys = audited.keys()
    for query_id, parties in ((audited.three_way, PARTIES), (audited.noised, PARTIES[1:])):
        (coordinator,) = [s.record for s in logs[COORDINATOR].records(query_id=query_id)]
        charged = {}
        for party in parties:
            (record,) = [s.record for s in logs[party].records(query_id=query_id)]
            (witness,) = record.witnessed
            assert witness.head.party == COORDINATOR
            keys[COORDINATOR].verify(witness.head.signature, witness.head.message())
            assert record.released == coordinator.released
            charged[party] = record.epsilon
        heads = {w.head.party: w for w in coordinator.witnessed}
        assert set(heads) == set(parties)
        assert {p: w.epsilon for p, w in heads.items()} == charged
        for party, witness in heads.items():
            keys[party].verify(witness.head.signature, witness.head.message())
    (noised,) = [s.record for s in logs[RETAILER_A].records(query_id=audited.noised)]
    assert noised.epsilon == 0.5


def test_the_logs_reconcile(audited: Audited, logs: dict[str, AuditLog]) -> None:
    """Lined up by query id the logs agree; every witnessed head is in its party's log; the
    only queries a named party lacks are those sent to one node directly."""
    report = reconcile(logs, named_only=True, keys=audited.keys())
    assert report.conflicts == () and report.head_faults == () and report.log_faults == ()
    assert report.heads_checked >= 5 + 4  # two releases: 5 node records, 5 coordinator heads
    direct = {item.query_id for item in audited.expected if not item.via_coordinator}
    assert {m.query_id for m in report.missing} == direct
    assert all(COORDINATOR not in m.present_in for m in report.missing)
    (absent,) = report.absent  # refused at the coordinator: an expected absence, not a fault
    assert absent.query_id.startswith("unknown-") and absent.missing_from == (BRAND,)
    assert "coordinator logged it refused" in absent.reason


def test_a_node_rewriting_its_log_fails_reconcile(audited: Audited, tmp_path: Path) -> None:
    """retailer_a re-chains a copy of its log with its own key, charges zeroed: it verifies,
    but the coordinator's witnesses and records contradict it."""
    places = {}
    for party in EVERYONE:
        copy = tmp_path / f"{party}.audit.db"
        shutil.copy(audited.governed.log_path(party), copy)
        places[party] = Backend("sqlite", str(copy), f"sqlite:///{copy}")
    own = load_private_key(audited.governed.certs.parties[RETAILER_A].sign_key)
    Trio(places, {RETAILER_A: own}).rechain(RETAILER_A, zeroed)
    keys = audited.keys()
    with opened({p: open_audit_log(places[p].url) for p in EVERYONE}) as copies:
        assert copies[RETAILER_A].verify(keys[RETAILER_A]).coverage_problem() is None
        report = reconcile(copies, named_only=True, keys=keys)
    assert {(f.holder, f.party) for f in report.head_faults} == {(COORDINATOR, RETAILER_A)}
    fields = {(c.query_id, c.field) for c in report.conflicts}
    assert (audited.noised, "epsilon") in fields
    assert (audited.noised, "released") in fields and (audited.three_way, "released") in fields


def test_audit_verify_cli_on_one_log(audited: Audited) -> None:
    log = str(audited.governed.log_path(RETAILER_A))
    key = str(audited.governed.certs.parties[RETAILER_A].sign_pub)
    outcome = CliRunner().invoke(app, ["audit", "verify", "--log", log, "--public-key", key])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("ok: ")
    assert " 0 unsigned records after the last checkpoint" in outcome.output
    wrong = str(audited.governed.certs.parties[BRAND].sign_pub)
    refused = CliRunner().invoke(app, ["audit", "verify", "--log", log, "--public-key", wrong])
    assert refused.exit_code == 1
    unkeyed = CliRunner().invoke(app, ["audit", "verify", "--log", log])
    assert unkeyed.exit_code == 2 and "ok:" not in unkeyed.output
