"""Three parties' audit logs filled by the settle exchange the services perform, and the
adversary's tools: raw SQL on a log's database and re-chaining with the party's own key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from runtime.audit import (
    AuditLog,
    AuditRecord,
    Witness,
    chain_hash,
    open_audit_log,
    settle_witness,
    signed_head,
)
from runtime.audit.record import canonical_json
from tests.audit.conftest import T0, Backend

COORDINATOR, RETAILER_A, RETAILER_B = "coordinator", "retailer_a", "retailer_b"
NODES = (RETAILER_A, RETAILER_B)
EVERYONE = (COORDINATOR, *NODES)
EPSILON = {RETAILER_A: 0.5, RETAILER_B: 0.25}


def released_counts(index: int) -> dict[str, int]:
    """The counts released by query `index` (the plaintext oracle of every log)."""
    return {"all": 10 + index, "retailer_a+retailer_b": 10 + index}


def _record(party: str, index: int, **fields: Any) -> AuditRecord:
    base: dict[str, Any] = dict(
        query_id=f"q{index:04d}",
        time=T0 + timedelta(minutes=index),
        party=party,
        requester="brand",
        kind="overlap",
        parties=NODES,
        attributes=(),
        decision="released",
        rule="partners.brand" if party != COORDINATOR else None,
        released=released_counts(index),
        epsilon=EPSILON.get(party, 0.0),
    )
    base.update(fields)
    return AuditRecord(**base)


@dataclass
class Trio:
    """The coordinator's and two nodes' logs, where they live, and their signing keys."""

    places: dict[str, Backend]
    keys: dict[str, Ed25519PrivateKey]

    def open(self, party: str, signing: bool = True) -> AuditLog:
        key = self.keys[party] if signing else None
        return open_audit_log(self.places[party].url, party if signing else None, key)

    def run_queries(self, first: int, count: int) -> None:
        """Settle `count` released queries the way the services do: the coordinator signs its
        head and sends it to each node; each node logs the release with that head, signs its
        own and returns it with the epsilon it charged; the coordinator logs the release with
        the nodes' heads and signs its head again."""
        logs = {party: self.open(party) for party in EVERYONE}
        try:
            for index in range(first, first + count):
                head = signed_head(logs[COORDINATOR])
                assert head is not None
                witnesses = []
                for node in NODES:
                    logs[node].append(_record(node, index, witnessed=(Witness(head),)))
                    witnesses.append(settle_witness(logs[node], f"q{index:04d}"))
                logs[COORDINATOR].append(
                    _record(COORDINATOR, index, witnessed=tuple(w for w in witnesses if w))
                )
                signed_head(logs[COORDINATOR])
        finally:
            for log in logs.values():
                log.close()

    def readers(self) -> dict[str, AuditLog]:
        """Every log opened as an auditor opens it (no key)."""
        return {party: open_audit_log(self.places[party].url) for party in EVERYONE}

    def rechain(self, party: str, change: Callable[[AuditRecord], AuditRecord]) -> None:
        """The party rewrites its own log: every record through `change`, re-chained from the
        start, and its checkpoints re-signed with its own key at the same records."""
        with self.open(party) as log:
            records = [stored.record for stored in log.records()]
            signed_at = {checkpoint.seq for checkpoint in log.checkpoints()}
        self.places[party].admin("DELETE FROM audit_checkpoints")
        self.places[party].admin("DELETE FROM audit_records")
        log = open_audit_log(
            self.places[party].url, party, self.keys[party], checkpoint_every=10**9
        )
        try:
            for seq, record in enumerate(records, start=1):
                log.append(change(record))
                if seq in signed_at:
                    log.checkpoint()
        finally:
            log.close()

    def append_forged(self, party: str, record: AuditRecord) -> None:
        """Insert a correctly chained record after the head, with raw SQL (no key needed)."""
        with self.open(party, signing=False) as log:
            last = list(log.records())[-1]
        digest = chain_hash(last.hash, record)
        row = record.to_dict()
        for name in ("parties", "attributes", "released"):
            row[name] = canonical_json(row[name]).decode("utf-8")
        self.places[party].admin(
            "INSERT INTO audit_records (seq, prev_hash, hash, query_id, time, party, requester, "
            "kind, parties, attributes, decision, rule, released, suppressed, epsilon, "
            "duration_ms, error) VALUES (:seq, :prev_hash, :hash, :query_id, :time, :party, "
            ":requester, :kind, :parties, :attributes, :decision, :rule, :released, "
            ":suppressed, :epsilon, :duration_ms, :error)",
            {"seq": last.seq + 1, "prev_hash": last.hash, "hash": digest, **row},
        )

    def truncate(self, party: str, keep: int) -> None:
        """Delete the records after `keep`, and the checkpoints that signed them."""
        self.places[party].admin(f"DELETE FROM audit_records WHERE seq > {keep}")
        self.places[party].admin(f"DELETE FROM audit_checkpoints WHERE seq > {keep}")


def zeroed(record: AuditRecord) -> AuditRecord:
    """The record with its charged epsilon and released counts zeroed."""
    return replace(record, epsilon=0.0, released={name: 0 for name in record.released})


@contextmanager
def opened(logs: dict[str, AuditLog]) -> Iterator[dict[str, AuditLog]]:
    try:
        yield logs
    finally:
        for log in logs.values():
            log.close()
