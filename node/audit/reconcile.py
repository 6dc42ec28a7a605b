"""Reconcile several parties' audit logs by query id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from node.audit.log import AuditLog


@dataclass(frozen=True)
class MissingQuery:
    """A query some logs record and others lack."""

    query_id: str
    present_in: tuple[str, ...]
    missing_from: tuple[str, ...]


@dataclass(frozen=True)
class QueryConflict:
    """A query the logs describe differently (kind or parties)."""

    query_id: str
    field: str
    values: dict[str, str]


@dataclass(frozen=True)
class ReconcileReport:
    """Outcome of lining up several logs by query id."""

    logs: tuple[str, ...]
    queries: int
    missing: tuple[MissingQuery, ...]
    conflicts: tuple[QueryConflict, ...]

    @property
    def ok(self) -> bool:
        """True when every query is in every log and all logs agree on kind and parties."""
        return not self.missing and not self.conflicts


def reconcile(logs: Mapping[str, AuditLog], *, named_only: bool = False) -> ReconcileReport:
    """Line up `logs` (keyed by party name) by query id.

    By default every query is expected in every log. With `named_only`, a query is expected
    only in the logs whose key is among the query's `parties` (as any log records them) and
    in the logs that hold it.
    """
    seen: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
    for name, log in logs.items():
        for stored in log.records():
            record = stored.record
            seen.setdefault(record.query_id, {}).setdefault(
                name, (record.kind, tuple(sorted(record.parties)))
            )
    missing: list[MissingQuery] = []
    conflicts: list[QueryConflict] = []
    for query_id, holders in seen.items():
        expected = set(logs)
        if named_only:
            named = {party for _kind, parties in holders.values() for party in parties}
            expected = (expected & named) | set(holders)
        absent = tuple(sorted(expected - set(holders)))
        if absent:
            missing.append(MissingQuery(query_id, tuple(sorted(holders)), absent))
        for index, field in enumerate(("kind", "parties")):
            values = {name: str(view[index]) for name, view in sorted(holders.items())}
            if len(set(values.values())) > 1:
                conflicts.append(QueryConflict(query_id, field, values))
    return ReconcileReport(
        logs=tuple(logs),
        queries=len(seen),
        missing=tuple(sorted(missing, key=lambda item: item.query_id)),
        conflicts=tuple(sorted(conflicts, key=lambda item: (item.query_id, item.field))),
    )
