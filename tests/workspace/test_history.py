"""The history database through SQLAlchemy, on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from coordinator.history import HistoryStore, Run, SettlementShare
from tests.governance.conftest import PG_SERVER, _postgres_unreachable

RETRY = timedelta(minutes=15)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "history.db")
        return
    reason = _postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    schema = f"history_test_{uuid.uuid4().hex[:12]}"
    server = create_engine(PG_SERVER)
    with server.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with server.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()


def run(schedule: str, month: int, outcome: str = "released") -> Run:
    return Run(
        schedule=schedule,
        slot=datetime(2026, month, 1, 2, tzinfo=UTC),
        kind="overlap",
        parties=("brand", "retailer_a"),
        ran_at=datetime(2026, month, 1, 2, 0, 5, tzinfo=UTC),
        query_id=str(uuid.uuid4()),
        outcome=outcome,
        rule=None if outcome == "released" else "RESOURCE_EXHAUSTED",
        error=None if outcome == "released" else "budget exhausted",
        epsilon=0.5 if outcome == "released" else 0.0,
        result={"kind": "overlap", "set_sizes": {"brand": 10 * month}}
        if outcome == "released"
        else None,
    )


def test_runs_round_trip_once_per_slot(history_url: str) -> None:
    store = HistoryStore(history_url)
    try:
        kept = [run("m", 10), run("m", 9, "refused"), run("d", 9)]
        assert all(store.record(r) for r in kept)
        assert not store.record(run("m", 10))  # the slot already has its run
        assert store.has("m", kept[0].slot) and not store.has("m", datetime(2026, 8, 1, tzinfo=UTC))
        assert store.runs() == [kept[2], kept[1], kept[0]]  # slot order, then name
        assert store.runs("m") == [kept[1], kept[0]]
        assert store.settlement_shares() == []
        with store.engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE settlement_shares (period TEXT, party TEXT, share FLOAT)")
            )
            assert store.settlement_shares() == []
            connection.execute(
                text(
                    "INSERT INTO settlement_shares VALUES ('2026-10', 'retailer_a', 0.6), "
                    "('2026-10', 'brand', 0.4)"
                )
            )
        assert store.settlement_shares() == [
            SettlementShare("2026-10", "brand", 0.4),
            SettlementShare("2026-10", "retailer_a", 0.6),
        ]
    finally:
        store.close()


def test_a_failed_run_is_due_again_later_and_replaced(history_url: str) -> None:
    store = HistoryStore(history_url)
    try:
        failed = replace(run("m", 9, "refused"), outcome="failed", rule="UNAVAILABLE")
        assert store.record(failed)
        later = failed.ran_at + timedelta(minutes=15)
        assert not store.due("m", failed.slot, later - timedelta(seconds=1), RETRY, 4)
        assert store.due("m", failed.slot, later, RETRY, 4)
        assert not store.due("m", failed.slot, later, RETRY, 1)  # no attempts left
        released = replace(run("m", 9), ran_at=later)
        assert store.record(released)
        assert store.runs("m") == [replace(released, attempts=2)]
        assert not store.due("m", failed.slot, later + RETRY, RETRY, 4)
        assert not store.record(released)  # a released slot is never replaced
        refused = run("r", 9, "refused")
        assert store.record(refused)
        assert not store.due("r", refused.slot, refused.ran_at + 10 * RETRY, RETRY, 4)
    finally:
        store.close()
