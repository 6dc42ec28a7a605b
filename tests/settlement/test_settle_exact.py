"""Three months of an agreement between a brand and three retailers over real gRPC, exact.

Every share equals a pandas oracle; every party's audit log verifies each statement; any
altered input fails `settle verify`; the sandbox replays an alternative exactly."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from client.sdk import QueryError
from gongying.cli import app
from runtime.audit import open_audit_log
from runtime.signing import load_signing_key, load_verify_key
from settlement.measurements import Measurements, overlap_measurements, profile_measurements
from settlement.sandbox import Band, replay
from settlement.statement import Statement, issue, sign_statement
from settlement.store import StatementStore
from settlement.verify import verify_statement
from tests.settlement.agreements import oracle_pool_shares, oracle_shares
from tests.settlement.cluster import BRAND, PARTIES, RETAILERS
from tests.settlement.conftest import MONTHS, Settled

pytestmark = pytest.mark.slow  # one cluster, six queries: about 45 s on two cores


def test_every_share_equals_the_pandas_oracle(exact_run: Settled) -> None:
    for period in MONTHS:
        statement = exact_run.statements[period]
        truth = exact_run.truth[period]
        assert statement.shares() == oracle_shares(exact_run.agreement, truth)
        pools = oracle_pool_shares(exact_run.agreement, truth)
        for pool in statement.body["pools"]:
            assert {p: Fraction(v) for p, v in pool["shares"].items()} == pools[pool["name"]]
        assert sum(statement.shares().values()) == 1
        assert statement.body["agreement_hash"] == exact_run.agreement.hash
    # the months differ, so the statements are not one statement three times
    assert len({tuple(s.shares().values()) for s in exact_run.statements.values()}) == 3


def _verify_cli(run: Settled, path: str, log: str) -> tuple[int, str]:
    public = run.cluster.certs.folder / f"{BRAND}.sign.pub"
    result = CliRunner().invoke(
        app, ["settle", "verify", path, "--log", log, "--public-key", str(public)]
    )
    return result.exit_code, result.output


def test_every_party_verifies_every_statement_from_its_own_log(exact_run: Settled) -> None:
    logs = [exact_run.cluster.audit_log(p) for p in PARTIES]
    logs.append(str(exact_run.cluster.root / "coordinator.audit.db"))
    for period in MONTHS:
        path = str(exact_run.cluster.root / f"statement-{period}.json")
        for log in logs:
            code, output = _verify_cli(exact_run, path, log)
            assert code == 0, output
            assert "verified against the audit log" in output


def _resigned(run: Settled, statement: Statement, index: int, delta: int) -> Statement:
    body = copy.deepcopy(statement.body)
    body["inputs"][index]["value"] += delta
    return sign_statement(body, load_signing_key(run.cluster.certs.parties[BRAND].sign_key))


def test_verify_fails_after_any_recorded_input_is_altered(exact_run: Settled) -> None:
    statement = exact_run.statements[MONTHS[-1]]
    public = load_verify_key(exact_run.cluster.certs.folder / f"{BRAND}.sign.pub")
    with open_audit_log(exact_run.cluster.audit_log("retailer_b")) as log:
        assert verify_statement(statement, log, public).ok
        for index, cell in enumerate(statement.body["inputs"]):
            altered = _resigned(exact_run, statement, index, 1)
            verdict = verify_statement(altered, log, public)
            name = f"input {cell['kind']}:{cell['cell']} of query {cell['query_id']}"
            assert any(line.startswith(name) for line in verdict.differences), verdict
        # altered without re-signing: the signature fails, naming the statement
        body = copy.deepcopy(statement.body)
        body["shares"]["retailer_a"] = "1/2"
        verdict = verify_statement(Statement(body, statement.signature), log, public)
        assert "signature does not verify" in verdict.differences[0]
        assert any(line.startswith("total share of retailer_a") for line in verdict.differences)


def test_verify_cli_names_the_altered_input(exact_run: Settled, tmp_path: object) -> None:
    statement = exact_run.statements[MONTHS[0]]
    index = next(i for i, c in enumerate(statement.body["inputs"]) if c["kind"] == "profile")
    altered = _resigned(exact_run, statement, index, -3)
    path = exact_run.cluster.root / "altered.json"
    altered.write(path)
    code, output = _verify_cli(exact_run, str(path), exact_run.cluster.audit_log("retailer_c"))
    assert code == 1
    cell = statement.body["inputs"][index]
    assert f"input profile:{cell['cell']}" in output
    assert f"the statement says {cell['value'] - 3}" in output
    assert "difference(s) with the audit log of retailer_c" in output


def test_sandbox_replays_the_alternative_against_the_oracle(exact_run: Settled) -> None:
    band = Band.parse("5%")
    with StatementStore(str(exact_run.db)) as store:
        report = replay(store, exact_run.agreement, exact_run.alternative, MONTHS, band)
    assert len(report.changes) == len(MONTHS) * len(RETAILERS)
    expected_outside = 0
    for change in report.changes:
        truth = exact_run.truth[change.period]
        current = oracle_shares(exact_run.agreement, truth)[change.partner]
        alternative = oracle_shares(exact_run.alternative, truth)[change.partner]
        assert (change.current, change.alternative) == (current, alternative)
        assert change.difference == alternative - current
        expected_outside += abs(alternative - current) > Fraction(5, 100) * current
    assert len(report.outside()) == expected_outside
    args = ["sandbox", "--agreement", str(exact_run.files[0]), "--alternative"]
    args += [str(exact_run.files[1]), "--periods", ",".join(MONTHS), "--db", str(exact_run.db)]
    result = CliRunner().invoke(app, [*args, "--band", "5%", "--json"])
    assert result.exit_code == 0, result.output
    assert f'"within_band": {"true" if not expected_outside else "false"}' in result.stdout


def test_a_settled_period_is_not_settled_again(exact_run: Settled) -> None:
    args = ["settle", "--agreement", str(exact_run.files[0]), "--period", MONTHS[0]]
    result = CliRunner().invoke(app, [*args, "--db", str(exact_run.db), *exact_run.tls_args()])
    assert result.exit_code == 1
    assert f"brand-retail-autumn {MONTHS[0]} is already settled" in result.output


def test_a_node_refuses_a_query_for_an_agreement_it_has_not_accepted(exact_run: Settled) -> None:
    unaccepted = exact_run.alternative.hash
    with exact_run.cluster.client(BRAND) as client, pytest.raises(QueryError) as refused:
        client.overlap([BRAND, *RETAILERS], "email", query_id="not-accepted", agreement=unaccepted)
    assert refused.value.code == "PERMISSION_DENIED"
    assert f"agreement {unaccepted} is not accepted" in str(refused.value)
    assert "partners.brand.agreements" in str(refused.value)
    with open_audit_log(exact_run.cluster.audit_log("retailer_a")) as log:
        records = [r.record for r in log.records(query_id="not-accepted")]
    assert [r.decision for r in records] == ["refused"]
    assert records[0].rule == "partners.brand.agreements"


def test_settling_an_agreement_the_nodes_have_not_accepted_fails_in_one_line(
    exact_run: Settled,
) -> None:
    args = ["settle", "--agreement", str(exact_run.files[1]), "--period", MONTHS[0]]
    result = CliRunner().invoke(app, [*args, "--db", str(exact_run.db), *exact_run.tls_args()])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert f"agreement {exact_run.alternative.hash} is not accepted" in lines[0]
    assert "[PERMISSION_DENIED]" in lines[0]
    with StatementStore(str(exact_run.db)) as store:
        assert store.periods(exact_run.alternative.hash) == []


def test_numbers_of_queries_not_run_for_the_agreement_fail_verify(exact_run: Settled) -> None:
    agreement = exact_run.agreement
    with exact_run.cluster.client(BRAND) as client:  # the same questions, signed for no agreement
        overlap = client.overlap([BRAND, *RETAILERS], "email")
        profile = client.profile(BRAND, RETAILERS, agreement.profile_attributes())
    data = Measurements(tuple(overlap_measurements(overlap) + profile_measurements(profile)))
    key = load_signing_key(exact_run.cluster.certs.parties[BRAND].sign_key)
    forged = issue(agreement, MONTHS[-1], data, BRAND, key)
    assert forged.shares() == oracle_shares(agreement, exact_run.truth[MONTHS[-1]])
    public = load_verify_key(exact_run.cluster.certs.folder / f"{BRAND}.sign.pub")
    with open_audit_log(exact_run.cluster.audit_log("retailer_a")) as log:
        verdict = verify_statement(forged, log, public)
    assert [line.split(" was ")[0] for line in verdict.differences] == [
        f"query {overlap.query_id}",
        f"query {profile.query_id}",
    ]
    assert all(
        "not admitted by retailer_a under an accepted agreement" in line
        for line in verdict.differences
    )
