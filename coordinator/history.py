"""The coordinator's history database (SQLAlchemy: SQLite file or PostgreSQL URL): every
scheduled run with its released answer and release information, for trends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

SETTLEMENT_TABLE = "settlement_shares"  # period, party, share: written by settlements, if any

metadata = MetaData()
runs_table = Table(
    "schedule_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", String(200), nullable=False),
    Column("slot", String(32), nullable=False),  # the period's start, ISO 8601 UTC
    Column("kind", String(32), nullable=False),
    Column("parties", Text, nullable=False),  # JSON list
    Column("ran_at", String(32), nullable=False),
    Column("query_id", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # released | refused | failed
    Column("rule", String(64), nullable=True),
    Column("error", Text, nullable=True),
    Column("epsilon", Float, nullable=False, default=0.0),
    Column("result", Text, nullable=True),  # the released answer (JSON, with its release info)
    Column("attempts", Integer, nullable=False, default=1),  # a failed run is retried in its slot
    UniqueConstraint("schedule", "slot", name="one_run_per_slot"),
)


@dataclass(frozen=True)
class Run:
    """One scheduled query as it ran: released (with `result`), refused or failed."""

    schedule: str
    slot: datetime
    kind: str
    parties: tuple[str, ...]
    ran_at: datetime
    query_id: str
    outcome: str
    rule: str | None = None
    error: str | None = None
    epsilon: float = 0.0
    result: dict[str, Any] | None = None
    attempts: int = 1


@dataclass(frozen=True)
class SettlementShare:
    """One party's share of one settlement period (read from `settlement_shares`)."""

    period: str
    party: str
    share: float


class HistoryStore:
    """Scheduled runs, one per schedule and slot (a second record of a slot is refused)."""

    def __init__(self, url: str) -> None:
        self.url = url if "://" in url else f"sqlite:///{url}"
        self.engine: Engine = create_engine(self.url)
        metadata.create_all(self.engine)

    def record(self, run: Run) -> bool:
        """Keep `run`, in place of a failed run of its slot (counted as another attempt);
        False when the slot already has a released or refused run."""
        row = {
            "schedule": run.schedule,
            "slot": _iso(run.slot),
            "kind": run.kind,
            "parties": json.dumps(list(run.parties)),
            "ran_at": _iso(run.ran_at),
            "query_id": run.query_id,
            "outcome": run.outcome,
            "rule": run.rule,
            "error": run.error,
            "epsilon": run.epsilon,
            "result": json.dumps(run.result, sort_keys=True) if run.result is not None else None,
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(runs_table.insert().values(**row))
        except IntegrityError:
            with self.engine.begin() as connection:
                updated = connection.execute(
                    runs_table.update()
                    .where(
                        runs_table.c.schedule == run.schedule,
                        runs_table.c.slot == row["slot"],
                        runs_table.c.outcome == "failed",
                    )
                    .values(**row, attempts=runs_table.c.attempts + 1)
                )
                return updated.rowcount == 1
        return True

    def _slot_row(self, schedule: str, slot: datetime) -> Any:
        query = select(runs_table.c.outcome, runs_table.c.ran_at, runs_table.c.attempts).where(
            runs_table.c.schedule == schedule, runs_table.c.slot == _iso(slot)
        )
        with self.engine.connect() as connection:
            return connection.execute(query).first()

    def has(self, schedule: str, slot: datetime) -> bool:
        """Whether the slot has a run (of any outcome)."""
        return self._slot_row(schedule, slot) is not None

    def due(
        self, schedule: str, slot: datetime, now: datetime, retry_after: timedelta, attempts: int
    ) -> bool:
        """Whether to run the slot now: it has no run, or only a failed one that ran at least
        `retry_after` ago and has had fewer than `attempts` attempts."""
        row = self._slot_row(schedule, slot)
        if row is None:
            return True
        outcome, ran_at, tried = row
        return bool(outcome == "failed" and tried < attempts and now - _time(ran_at) >= retry_after)

    def runs(self, schedule: str | None = None) -> list[Run]:
        """Runs in slot order (then schedule name)."""
        query = select(runs_table).order_by(runs_table.c.slot, runs_table.c.schedule)
        if schedule is not None:
            query = query.where(runs_table.c.schedule == schedule)
        with self.engine.connect() as connection:
            return [_run(row._mapping) for row in connection.execute(query)]

    def settlement_shares(self) -> list[SettlementShare]:
        """Rows of `settlement_shares` (period, party, share) when settlements wrote any."""
        try:
            if not inspect(self.engine).has_table(SETTLEMENT_TABLE):
                return []
            table = Table(SETTLEMENT_TABLE, MetaData(), autoload_with=self.engine)
            if not {"period", "party", "share"} <= set(table.c.keys()):
                return []
            query = select(table.c.period, table.c.party, table.c.share).order_by(
                table.c.period, table.c.party
            )
            with self.engine.connect() as connection:
                return [
                    SettlementShare(str(p), str(party), float(s))
                    for p, party, s in connection.execute(query)
                ]
        except SQLAlchemyError:
            return []

    def close(self) -> None:
        self.engine.dispose()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _run(row: Any) -> Run:
    return Run(
        schedule=row["schedule"],
        slot=_time(row["slot"]),
        kind=row["kind"],
        parties=tuple(json.loads(row["parties"])),
        ran_at=_time(row["ran_at"]),
        query_id=row["query_id"],
        outcome=row["outcome"],
        rule=row["rule"],
        error=row["error"],
        epsilon=float(row["epsilon"] or 0.0),
        result=json.loads(row["result"]) if row["result"] else None,
        attempts=int(row["attempts"] or 1),
    )


def released(runs: list[Run], kind: str) -> Iterator[Run]:
    """The released runs of one kind, in slot order."""
    return (run for run in runs if run.kind == kind and run.outcome == "released")
