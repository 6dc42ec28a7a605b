"""The SQLAlchemy audit log: embedded SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import Connection, Engine, inspect, select

from runtime.audit.chain import ChainFault, FaultKind, VerifyReport, verify_chain
from runtime.audit.errors import (
    AuditError,
    AuditLogNotFound,
    AuditPartyMismatch,
    AuditRecordInvalid,
    CheckpointKeyMissing,
)
from runtime.audit.log import AuditLog, RecordFilter
from runtime.audit.record import (
    GENESIS_HASH,
    AuditRecord,
    Checkpoint,
    StoredRecord,
    canonical_json,
    chain_hash,
    checkpoint_message,
    format_time,
    parse_time,
)
from runtime.audit.schema import (
    add_missing_columns,
    checkpoints_table,
    create_schema,
    meta_table,
    records_table,
)
from runtime.storage import sqlite_path, store_engine

DEFAULT_CHECKPOINT_EVERY: Final = 100
_PAGE: Final = 500
_SETUP_LOCK_KEY: Final = 0x6759_6175_6469_74  # pg advisory lock id for schema set-up


def _record_row(stored: StoredRecord) -> dict[str, Any]:
    data = stored.record.to_dict()
    for name in ("parties", "attributes", "released"):
        data[name] = canonical_json(data[name]).decode("utf-8")
    witnessed = data.pop("witnessed", None)
    data["witnessed"] = canonical_json(witnessed).decode("utf-8") if witnessed else None
    return {"seq": stored.seq, "prev_hash": stored.prev_hash, "hash": stored.hash, **data}


def _stored_record(row: Any) -> StoredRecord:
    data = dict(row._mapping)
    seq, prev_hash, digest = data.pop("seq"), data.pop("prev_hash"), data.pop("hash")
    try:
        for name in ("parties", "attributes", "released"):
            data[name] = json.loads(data[name])
        witnessed = data.pop("witnessed", None)
        if witnessed is not None:
            data["witnessed"] = json.loads(witnessed)
        record = AuditRecord.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise AuditRecordInvalid(f"record {seq} cannot be read back: {exc}") from exc
    return StoredRecord(seq=int(seq), prev_hash=prev_hash, hash=digest, record=record)


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        seq=int(row.seq),
        hash=row.hash,
        party=row.party,
        signed_at=parse_time(row.signed_at),
        signature=bytes.fromhex(row.signature),
    )


def _engine(url_or_path: str, create: bool) -> Engine:
    path = sqlite_path(url_or_path)
    if path is not None and not create and not os.path.exists(path):
        raise AuditLogNotFound(f"audit log file {path} does not exist")
    return store_engine(url_or_path)


class SqlAuditLog(AuditLog):
    """`AuditLog` over SQLAlchemy; appends are serialised by a database lock."""

    def __init__(
        self,
        engine: Engine,
        party: str | None,
        signing_key: Ed25519PrivateKey | None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
        self._engine = engine
        self._signing_key = signing_key
        self._every = checkpoint_every
        self._closed = False
        self._party = self._set_up(party)

    def _lock(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE audit_records IN EXCLUSIVE MODE")

    def _set_up(self, party: str | None) -> str:
        where = self._engine.url.render_as_string(hide_password=True)
        with self._engine.begin() as conn:
            if not inspect(conn).has_table("audit_meta"):
                if party is None:
                    raise AuditLogNotFound(f"no audit log at {where}")
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_KEY})")
                create_schema(conn)
            elif inspect(conn).has_table("audit_records"):
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_KEY})")
                add_missing_columns(conn)
            stored = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "party")
            ).scalar_one_or_none()
            if stored is None:
                if party is None:
                    raise AuditLogNotFound(f"audit log at {where} records no party")
                conn.execute(meta_table.insert().values(key="party", value=party))
                return party
            if party is not None and party != stored:
                raise AuditPartyMismatch(
                    f"audit log at {where} belongs to party {stored!r}, not {party!r}"
                )
            return str(stored)

    @property
    def party(self) -> str:
        return self._party

    def append(self, record: AuditRecord) -> StoredRecord:
        if record.party != self._party:
            raise AuditPartyMismatch(
                f"record {record.query_id} is written by party {record.party!r}, "
                f"but this log belongs to {self._party!r}"
            )
        with self._engine.begin() as conn:
            self._lock(conn)
            seq, prev_hash = self._head(conn)
            stored = StoredRecord(seq + 1, prev_hash, chain_hash(prev_hash, record), record)
            conn.execute(records_table.insert().values(**_record_row(stored)))
            if self._signing_key is not None and stored.seq % self._every == 0:
                self._sign(conn, stored.seq, stored.hash, self._signing_key)
        return stored

    def _head(self, conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            select(records_table.c.seq, records_table.c.hash)
            .order_by(records_table.c.seq.desc())
            .limit(1)
        ).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))

    def _sign(self, conn: Connection, seq: int, digest: str, key: Ed25519PrivateKey) -> Checkpoint:
        existing = conn.execute(
            select(checkpoints_table).where(checkpoints_table.c.seq == seq)
        ).first()
        if existing is not None:
            return _checkpoint(existing)
        signed_at = datetime.now(UTC)
        signature = key.sign(checkpoint_message(self._party, seq, digest))
        conn.execute(
            checkpoints_table.insert().values(
                seq=seq,
                hash=digest,
                party=self._party,
                signed_at=format_time(signed_at),
                signature=signature.hex(),
            )
        )
        return Checkpoint(seq, digest, self._party, parse_time(format_time(signed_at)), signature)

    def checkpoint(self) -> Checkpoint:
        if self._signing_key is None:
            raise CheckpointKeyMissing(
                f"audit log of party {self._party!r} was opened without a signing key"
            )
        with self._engine.begin() as conn:
            self._lock(conn)
            seq, digest = self._head(conn)
            return self._sign(conn, seq, digest, self._signing_key)

    def matching(self, where: RecordFilter) -> Iterator[StoredRecord]:
        t = records_table
        query = select(t).order_by(t.c.seq).limit(_PAGE)
        if where.since is not None:
            query = query.where(t.c.time >= format_time(where.since))
        for column, value in (
            (t.c.requester, where.requester),
            (t.c.kind, where.kind),
            (t.c.decision, where.status),
            (t.c.query_id, where.query_id),
        ):
            if value is not None:
                query = query.where(column == value)
        after = 0
        while True:
            with self._engine.begin() as conn:
                rows = conn.execute(query.where(t.c.seq > after)).all()
            for row in rows:
                yield _stored_record(row)
            if len(rows) < _PAGE:
                return
            after = int(rows[-1].seq)

    def checkpoints(self) -> list[Checkpoint]:
        with self._engine.begin() as conn:
            rows = conn.execute(select(checkpoints_table).order_by(checkpoints_table.c.seq))
            return [_checkpoint(row) for row in rows]

    def verify(self, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
        if public_key is None and self._signing_key is not None:
            public_key = self._signing_key.public_key()
        checkpoints = self.checkpoints()  # before the records: each one's record is then present
        rows: list[StoredRecord] = []
        unreadable: list[ChainFault] = []
        with self._engine.begin() as conn:
            for row in conn.execute(select(records_table).order_by(records_table.c.seq)):
                try:
                    rows.append(_stored_record(row))
                except AuditRecordInvalid as exc:
                    unreadable.append(ChainFault(int(row.seq), FaultKind.EDITED, str(exc)))
        report = verify_chain(self._party, rows, checkpoints, public_key)
        if not unreadable:
            return report
        faults = sorted(unreadable + list(report.faults), key=lambda fault: fault.seq)
        return VerifyReport(
            party=report.party,
            records=report.records + len(unreadable),
            checkpoints=report.checkpoints,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
            signatures_checked=report.signatures_checked,
            faults=tuple(faults),
            signed_seq=report.signed_seq,
            covered=report.covered,
        )

    def close(self) -> None:
        if self._closed:
            return
        try:
            if self._signing_key is not None:
                self.checkpoint()
        finally:
            self._closed = True
            self._engine.dispose()


def open_audit_log(
    url_or_path: str,
    party: str | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    *,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
) -> AuditLog:
    """Open (creating when `party` is given) the audit log at a file path or SQLAlchemy URL.

    A plain path is an embedded SQLite file; `postgresql+psycopg://...` is PostgreSQL.
    With `party=None` the log must exist and its recorded party is used (for readers such as
    auditors); with a `party` the log is created if absent and must belong to that party.
    """
    engine = _engine(url_or_path, create=party is not None)
    try:
        return SqlAuditLog(engine, party, signing_key, checkpoint_every)
    except (AuditError, ValueError):
        engine.dispose()
        raise
