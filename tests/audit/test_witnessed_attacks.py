"""Rewriting a log as its operator would (raw SQL on the database, re-chaining and re-signing
with the party's own key) fails `verify` or `reconcile`, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.audit import ReconcileReport, SignedHead, Witness, reconcile
from tests.audit.conftest import BACKENDS, backends
from tests.audit.trio import (
    COORDINATOR,
    EPSILON,
    EVERYONE,
    NODES,
    RETAILER_A,
    Trio,
    _record,
    opened,
    released_counts,
    zeroed,
)

QUERIES = 4


@pytest.fixture(params=BACKENDS)
def trio(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Trio]:
    """Three logs after QUERIES settled queries, every party signing at each settle."""
    with backends(request.param, tmp_path, EVERYONE) as places:
        made = Trio(places, {party: Ed25519PrivateKey.generate() for party in EVERYONE})
        made.run_queries(1, QUERIES)
        yield made


def _reconciled(trio: Trio) -> ReconcileReport:
    keys = {party: key.public_key() for party, key in trio.keys.items()}
    with opened(trio.readers()) as logs:
        return reconcile(logs, keys=keys)


def _verified(trio: Trio, party: str) -> tuple[str | None, bool]:
    """(the coverage problem, whether the chain and checkpoints verified) under the party's key."""
    with trio.open(party, signing=False) as log:
        report = log.verify(trio.keys[party].public_key())
    return report.coverage_problem(), report.ok


def test_untouched_logs_verify_fully_signed_and_reconcile(trio: Trio) -> None:
    for party in EVERYONE:
        assert _verified(trio, party) == (None, True), party
    report = _reconciled(trio)
    assert report.ok, report
    # per query: each node witnessed the coordinator, and the coordinator both nodes
    assert report.heads_checked == QUERIES * 4
    assert report.signatures_checked == EVERYONE
    with opened(trio.readers()) as logs:
        for stored in logs[COORDINATOR].records():
            witnessed = {w.head.party: w.epsilon for w in stored.record.witnessed}
            assert witnessed == EPSILON
            assert stored.record.released == released_counts(int(stored.record.query_id[1:]))


def test_forged_record_appended_after_the_last_checkpoint_fails_verify(trio: Trio) -> None:
    forged = _record(RETAILER_A, 99, released={"all": 1}, epsilon=0.0)
    trio.append_forged(RETAILER_A, forged)
    problem, chain_ok = _verified(trio, RETAILER_A)
    assert chain_ok  # correctly chained: only the signature coverage betrays it
    assert problem is not None and problem.startswith("1 unsigned records after the last")


def test_truncation_with_its_checkpoints_deleted_fails_reconcile(trio: Trio) -> None:
    with trio.open(RETAILER_A, signing=False) as log:
        seqs = [cp.seq for cp in log.checkpoints()]
    keep = seqs[-3]  # a checkpointed record: verify alone cannot tell
    trio.truncate(RETAILER_A, keep)
    assert _verified(trio, RETAILER_A) == (None, True)
    report = _reconciled(trio)
    assert not report.ok
    truncated = [f for f in report.head_faults if f.party == RETAILER_A]
    assert truncated and all(f.holder == COORDINATOR for f in truncated)
    assert f"{RETAILER_A}'s log ends at record {keep}" in truncated[0].detail
    assert "truncated" in truncated[0].detail


def test_truncation_leaving_an_unsigned_tail_fails_verify(trio: Trio) -> None:
    with trio.open(RETAILER_A, signing=False) as log:
        last = list(log.records())[-1].seq
    trio.places[RETAILER_A].admin(f"DELETE FROM audit_checkpoints WHERE seq >= {last - 1}")
    trio.places[RETAILER_A].admin(f"DELETE FROM audit_records WHERE seq = {last}")
    problem, _ = _verified(trio, RETAILER_A)
    assert problem is not None and "unsigned records after the last checkpoint" in problem


def test_whole_log_rechained_without_checkpoints_fails_verify(trio: Trio) -> None:
    trio.rechain(RETAILER_A, zeroed)
    trio.places[RETAILER_A].admin("DELETE FROM audit_checkpoints")
    problem, chain_ok = _verified(trio, RETAILER_A)
    assert chain_ok
    assert problem is not None and problem.startswith("no signed checkpoint")


def test_log_rechained_and_resigned_with_zeroed_charges_fails_reconcile(trio: Trio) -> None:
    trio.rechain(RETAILER_A, zeroed)
    assert _verified(trio, RETAILER_A) == (None, True)  # its own key signs the rewrite
    report = _reconciled(trio)
    assert not report.ok
    rewritten = {(f.holder, f.party) for f in report.head_faults}
    assert rewritten == {(COORDINATOR, RETAILER_A)}
    assert all("rewritten or re-chained" in f.detail for f in report.head_faults)
    by_field = {(c.query_id, c.field) for c in report.conflicts}
    for index in range(1, QUERIES + 1):
        assert (f"q{index:04d}", "released") in by_field
        assert (f"q{index:04d}", "epsilon") in by_field
    conflict = next(c for c in report.conflicts if c.field == "epsilon")
    assert conflict.values == {f"{RETAILER_A} as {COORDINATOR} witnessed": "0.5", RETAILER_A: "0"}


def test_coordinator_log_rechained_is_caught_by_the_nodes_witnesses(trio: Trio) -> None:
    trio.rechain(COORDINATOR, lambda record: replace(record, requester="someone_else"))
    report = _reconciled(trio)
    holders = {(f.holder, f.party) for f in report.head_faults}
    assert holders == {(node, COORDINATOR) for node in NODES}
    # the first head a node witnessed is the empty log's (record 0), which no rewrite changes
    assert {f.seq for f in report.head_faults} == set(range(1, QUERIES))


def test_a_forged_witness_fails_its_signature_check(trio: Trio) -> None:
    """The coordinator invents a head for retailer_a: retailer_a's key does not sign it."""
    with trio.open(RETAILER_A, signing=False) as log:
        real = list(log.records())[-1]
    fake = replace(real.record, party=COORDINATOR, query_id="q0050")
    head = Witness(SignedHead(RETAILER_A, real.seq, real.hash, b"\x00" * 64), 0.5)
    with trio.open(COORDINATOR) as log:
        log.append(replace(fake, witnessed=(head,)))
    report = _reconciled(trio)
    assert [(f.holder, f.party, f.query_id) for f in report.head_faults] == [
        (COORDINATOR, RETAILER_A, "q0050")
    ]
    assert "does not verify under retailer_a's key" in report.head_faults[0].detail


def test_a_witness_read_back_hashes_as_written(trio: Trio) -> None:
    """A witnessed epsilon given as an int is stored in one JSON form, so the chain verifies."""
    with trio.open(RETAILER_A, signing=False) as log:
        real = list(log.records())[-1]
    head = SignedHead(RETAILER_A, real.seq, real.hash, b"\x01" * 64)
    with trio.open(COORDINATOR) as log:
        log.append(_record(COORDINATOR, 60, witnessed=(Witness(head, 0),)))
    with trio.open(COORDINATOR, signing=False) as log:
        assert log.verify(trio.keys[COORDINATOR].public_key()).ok
        assert list(log.records())[-1].record.witnessed[0].epsilon == 0.0
