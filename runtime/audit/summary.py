"""Per-partner summary of an audit log over a span of time, for a data officer's report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from runtime.audit.record import AuditRecord, StoredRecord


@dataclass(frozen=True)
class QueryOutcome:
    """One query as this log last recorded it."""

    query_id: str
    time: datetime
    kind: str
    parties: tuple[str, ...]
    attributes: tuple[str, ...]
    decision: str
    reason: str  # rule and error of a refusal or failure; "" for a release
    released: dict[str, int]
    suppressed: int
    epsilon: float


@dataclass
class PartnerSummary:
    """What one partner asked and received in the span."""

    partner: str
    queries: list[QueryOutcome] = field(default_factory=list)

    @property
    def decisions(self) -> Counter[str]:
        """Queries per final decision (released, refused, failed, allowed)."""
        return Counter(q.decision for q in self.queries)

    @property
    def reasons(self) -> Counter[str]:
        """Refusals by their rule."""
        return Counter(q.reason.split(":", 1)[0] for q in self.queries if q.decision == "refused")

    @property
    def attributes(self) -> Counter[str]:
        """Queries asking each attribute."""
        return Counter(a for q in self.queries for a in q.attributes)

    @property
    def epsilon(self) -> float:
        """Epsilon this log records as charged for the partner's queries."""
        return round(sum(q.epsilon for q in self.queries), 9)

    @property
    def released(self) -> list[QueryOutcome]:
        """The queries that released an answer."""
        return [q for q in self.queries if q.decision == "released"]


def reason(record: AuditRecord) -> str:
    """`rule: error` of a record (either may be missing); "" when it has neither."""
    parts = [part for part in (record.rule, record.error) if part]
    return ": ".join(parts)


def summarise(
    records: Iterable[StoredRecord], partner_of: Callable[[str], str] = lambda r: r
) -> list[PartnerSummary]:
    """Partners by name, each with its queries (the last record of each query id counts, its
    epsilon the largest any of its records charged). `partner_of` maps a requester to its
    partner (the policy's name for a certificate identity)."""
    last: dict[str, AuditRecord] = {}
    epsilon: dict[str, float] = {}
    for stored in records:
        record = stored.record
        last[record.query_id] = record
        epsilon[record.query_id] = max(epsilon.get(record.query_id, 0.0), record.epsilon)
    partners: dict[str, PartnerSummary] = {}
    for query_id, record in last.items():
        name = partner_of(record.requester)
        summary = partners.setdefault(name, PartnerSummary(name))
        summary.queries.append(
            QueryOutcome(
                query_id=query_id,
                time=record.time,
                kind=record.kind,
                parties=record.parties,
                attributes=record.attributes,
                decision=record.decision,
                reason="" if record.decision == "released" else reason(record),
                released=dict(record.released),
                suppressed=record.suppressed,
                epsilon=epsilon[query_id],
            )
        )
    return [partners[name] for name in sorted(partners)]
