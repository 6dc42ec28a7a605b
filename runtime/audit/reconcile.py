"""Reconcile several parties' audit logs: by query id, and against the heads peers witnessed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.audit.chain import ChainFault
from runtime.audit.log import AuditLog
from runtime.audit.record import GENESIS_HASH, StoredRecord, Witness


@dataclass(frozen=True)
class MissingQuery:
    """A query some logs record and others lack; `reason` says why that is expected, if it is."""

    query_id: str
    present_in: tuple[str, ...]
    missing_from: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class QueryConflict:
    """A query the logs describe differently (kind, parties, released counts or epsilon)."""

    query_id: str
    field: str
    values: dict[str, str]


@dataclass(frozen=True)
class HeadFault:
    """A signed head that log `holder` witnessed for `party`, which `party`'s log contradicts."""

    holder: str
    party: str
    seq: int
    query_id: str
    detail: str


@dataclass(frozen=True)
class LogFault:
    """A fault `verify` finds in one party's own log (chain or checkpoints)."""

    party: str
    fault: ChainFault


@dataclass(frozen=True)
class ReconcileReport:
    """Outcome of lining up several logs by query id and checking their witnessed heads."""

    logs: tuple[str, ...]
    queries: int
    missing: tuple[MissingQuery, ...]
    conflicts: tuple[QueryConflict, ...]
    absent: tuple[MissingQuery, ...] = ()
    head_faults: tuple[HeadFault, ...] = ()
    log_faults: tuple[LogFault, ...] = ()
    heads_checked: int = 0
    signatures_checked: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no query is missing without a reason, the logs agree on every query, every
        witnessed head is in its party's log, and every log verifies."""
        return not (self.missing or self.conflicts or self.head_faults or self.log_faults)


@dataclass
class _Log:
    name: str
    rows: list[StoredRecord]

    def __post_init__(self) -> None:
        self.hashes = {row.seq: row.hash for row in self.rows}
        self.hashes[0] = GENESIS_HASH
        self.last = self.rows[-1].seq if self.rows else 0


def _head_fault(
    holder: str,
    query_id: str,
    witness: Witness,
    log: _Log,
    key: Ed25519PublicKey | None,
) -> HeadFault | None:
    head = witness.head
    where = f"{holder} witnessed {head.party}'s head at record {head.seq} (query {query_id})"
    if key is not None:
        try:
            key.verify(head.signature, head.message())
        except InvalidSignature:
            detail = f"{where}, but its signature does not verify under {head.party}'s key"
            return HeadFault(holder, head.party, head.seq, query_id, detail)
    stored = log.hashes.get(head.seq)
    if stored is None and head.seq > log.last:
        detail = (
            f"{where}, but {head.party}'s log ends at record {log.last}: "
            f"records {log.last + 1}..{head.seq} were removed (truncated)"
        )
    elif stored is None:
        detail = f"{where}, but {head.party}'s log has no record {head.seq} (deleted)"
    elif stored != head.hash:
        detail = (
            f"{where} with hash {head.hash[:16]}..., but {head.party}'s log has "
            f"{stored[:16]}... there: rewritten or re-chained"
        )
    else:
        return None
    return HeadFault(holder, head.party, head.seq, query_id, detail)


def _unreleased(rows: Sequence[StoredRecord], coordinator: str) -> str:
    """Why a node may lack a query the coordinator logged but did not release ("" if it did
    release it, or did not log it)."""
    if not rows or _released(rows):
        return ""
    decision = rows[-1].record.decision
    return f"{coordinator} logged it {decision}, nothing released: it may not have reached them"


def _released(rows: Sequence[StoredRecord]) -> list[StoredRecord]:
    return [row for row in rows if row.record.decision == "released"]


def _value_conflicts(
    query_id: str, held: Mapping[str, list[StoredRecord]], names: Mapping[str, str]
) -> list[QueryConflict]:
    """Released counts that differ between logs, and epsilon a party's log charged that is
    not what a peer witnessed it say; `names` maps a party to its log's name."""
    conflicts: list[QueryConflict] = []
    released: dict[str, str] = {}
    for name, rows in sorted(held.items()):
        kept = _released(rows)
        if kept:
            released[name] = str(dict(sorted(kept[-1].record.released.items())))
    if len(set(released.values())) > 1:
        conflicts.append(QueryConflict(query_id, "released", released))
    charged = {name: sum(r.record.epsilon for r in _released(rows)) for name, rows in held.items()}
    for holder, rows in sorted(held.items()):
        for row in rows:
            for witness in row.record.witnessed:
                party, said = witness.head.party, witness.epsilon
                peer = names.get(party)
                if said is None or peer is None or peer == holder:
                    continue
                logged = charged.get(peer, 0.0)
                if not math.isclose(said, logged, abs_tol=1e-12):
                    values = {f"{peer} as {holder} witnessed": f"{said:g}", peer: f"{logged:g}"}
                    conflicts.append(QueryConflict(query_id, "epsilon", values))
    return conflicts


def reconcile(
    logs: Mapping[str, AuditLog],
    *,
    named_only: bool = False,
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    coordinator: str = "coordinator",
) -> ReconcileReport:
    """Line up `logs` (keyed by party name) by query id and check what peers witnessed.

    By default every query is expected in every log. With `named_only`, a query is expected
    only in the logs whose key is among the query's `parties` (as any log records them) and
    in the logs that hold it. Every head one log witnessed for another given log must be in
    that log with the same hash at that record; the released counts each log recorded for a
    query must agree, and the epsilon a party's log charged must be what its peers witnessed.
    Each log is verified (under its key in `keys`, when given). A query the `coordinator`
    party's log records as not released (refused or failed) may be absent from a node's log
    without fault (it may never have reached that node): such absences are listed in `absent`,
    apart from the unexplained ones in `missing`.
    """
    keys = keys or {}
    read = {name: _Log(name, list(log.records())) for name, log in logs.items()}
    by_party = {log.party: read[name] for name, log in logs.items()}
    names = {party: log.name for party, log in by_party.items()}
    log_faults = [
        LogFault(name, fault)
        for name, log in logs.items()
        for fault in log.verify(keys.get(name)).faults
    ]
    seen: dict[str, dict[str, list[StoredRecord]]] = {}
    head_faults: list[HeadFault] = []
    heads = 0
    for name, log in read.items():
        for stored in log.rows:
            seen.setdefault(stored.record.query_id, {}).setdefault(name, []).append(stored)
            for witness in stored.record.witnessed:
                target = by_party.get(witness.head.party)
                if target is None:
                    continue
                heads += 1
                fault = _head_fault(
                    name, stored.record.query_id, witness, target, keys.get(target.name)
                )
                if fault is not None:
                    head_faults.append(fault)
    missing: list[MissingQuery] = []
    absent: list[MissingQuery] = []
    conflicts: list[QueryConflict] = []
    for query_id, held in seen.items():
        views = {
            name: (rows[0].record.kind, tuple(sorted(rows[0].record.parties)))
            for name, rows in held.items()
        }
        expected = set(logs)
        if named_only:
            named = {party for _kind, parties in views.values() for party in parties}
            expected = (expected & named) | set(held)
        lacking = expected - set(held)
        if lacking:
            reason = _unreleased(held.get(names.get(coordinator, ""), []), coordinator)
            explained = {name for name in lacking if reason and name != names[coordinator]}
            for group, why in ((explained, reason), (lacking - explained, "")):
                if group:
                    item = MissingQuery(query_id, tuple(sorted(held)), tuple(sorted(group)), why)
                    (absent if why else missing).append(item)
        for index, field in enumerate(("kind", "parties")):
            values = {name: str(view[index]) for name, view in sorted(views.items())}
            if len(set(values.values())) > 1:
                conflicts.append(QueryConflict(query_id, field, values))
        conflicts.extend(_value_conflicts(query_id, held, names))
    return ReconcileReport(
        logs=tuple(logs),
        queries=len(seen),
        missing=tuple(sorted(missing, key=lambda item: item.query_id)),
        absent=tuple(sorted(absent, key=lambda item: item.query_id)),
        conflicts=tuple(sorted(conflicts, key=lambda item: (item.query_id, item.field))),
        head_faults=tuple(sorted(head_faults, key=lambda f: (f.party, f.seq, f.holder))),
        log_faults=tuple(log_faults),
        heads_checked=heads,
        signatures_checked=tuple(name for name in logs if name in keys),
    )
