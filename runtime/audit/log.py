"""The storage interface every party's audit log implements."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.audit.chain import VerifyReport
from runtime.audit.record import AuditRecord, Checkpoint, StoredRecord
from runtime.closing import ClosedOnExit


@dataclass(frozen=True)
class RecordFilter:
    """Which stored records to read: each field given must match (`status` is the decision)."""

    since: datetime | None = None
    requester: str | None = None
    kind: str | None = None
    status: str | None = None
    query_id: str | None = None


class AuditLog(ClosedOnExit, abc.ABC):
    """An append-only, hash-chained, periodically signed log of one party's requests."""

    @property
    @abc.abstractmethod
    def party(self) -> str:
        """The party whose log this is."""

    @abc.abstractmethod
    def append(self, record: AuditRecord) -> StoredRecord:
        """Chain `record` after the head and commit it; safe across threads and processes."""

    @abc.abstractmethod
    def checkpoint(self) -> Checkpoint:
        """Sign (seq, hash) of the current head with the party's key and store the signature."""

    def records(
        self,
        since: datetime | None = None,
        requester: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        query_id: str | None = None,
    ) -> Iterator[StoredRecord]:
        """Stored records in seq order; each filter given must match (`status` is the decision)."""
        return self.matching(RecordFilter(since, requester, kind, status, query_id))

    @abc.abstractmethod
    def matching(self, where: RecordFilter) -> Iterator[StoredRecord]:
        """Stored records in seq order that `where` admits."""

    @abc.abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, in seq order."""

    @abc.abstractmethod
    def verify(self, public_key: Ed25519PublicKey | None = None) -> VerifyReport:
        """Recompute the chain and check every checkpoint against it and against `public_key`.

        Without `public_key` the log's own signing key (if it was opened with one) is used.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Checkpoint the head (when the log can sign and has new records) and release it."""
