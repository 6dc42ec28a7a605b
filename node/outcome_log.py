"""One log line per query outcome at a node, written as its audit log records it.

The line names the party, query id, kind, requester, parties, attributes, outcome and rule,
never an identifier or a count: it is what an operator tails, the audit log stays the record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.audit import (
    AuditLog,
    AuditRecord,
    Checkpoint,
    RecordFilter,
    StoredRecord,
    VerifyReport,
)

log = logging.getLogger("gongying.queries")


def outcome_line(record: AuditRecord) -> str:
    """The operator's line for one audited outcome."""
    attributes = ",".join(record.attributes) or "-"
    line = (
        f"{record.party} query {record.query_id} kind={record.kind} "
        f"requester={record.requester} parties={','.join(record.parties) or '-'} "
        f"attributes={attributes} outcome={record.decision} rule={record.rule or '-'}"
    )
    return line + (f" ms={record.duration_ms}" if record.duration_ms else "")


class OutcomeLoggingAuditLog(AuditLog):
    """An audit log that also logs each appended outcome (INFO, logger `gongying.queries`)."""

    def __init__(self, inner: AuditLog) -> None:
        self.inner = inner

    @property
    def party(self) -> str:
        return self.inner.party

    def append(self, record: AuditRecord) -> StoredRecord:
        stored = self.inner.append(record)
        log.info("%s", outcome_line(record))
        return stored

    def checkpoint(self) -> Checkpoint:
        return self.inner.checkpoint()

    def matching(self, where: RecordFilter) -> Iterator[StoredRecord]:
        return self.inner.matching(where)

    def checkpoints(self) -> list[Checkpoint]:
        return self.inner.checkpoints()

    def verify(self, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
        return self.inner.verify(public_key)

    def close(self) -> None:
        self.inner.close()
