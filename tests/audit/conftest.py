"""Fixtures: an audit-log backend (SQLite file, PostgreSQL schema), keys and sample records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, create_engine, text

from runtime.audit import AuditRecord

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
T0 = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)


def _postgres_unreachable() -> str | None:
    try:
        import psycopg

        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2).close()
    except Exception as exc:  # any failure to connect means: skip
        return f"PostgreSQL at 127.0.0.1:5432 unreachable: {type(exc).__name__}: {exc}"
    return None


@dataclass
class Backend:
    """Where a test's audit log lives, and an administrator's raw access to it."""

    name: str
    url: str
    admin_url: str

    def admin(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run `sql` as a database administrator who first disables the append-only triggers."""
        engine = create_engine(self.admin_url)
        try:
            with engine.begin() as conn:
                self._drop_triggers(conn)
                result = conn.execute(text(sql), params or {})
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def plain(self, sql: str) -> None:
        """Run `sql` with the triggers in place."""
        engine = create_engine(self.admin_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    def _drop_triggers(self, conn: Connection) -> None:
        for table in ("audit_records", "audit_checkpoints"):
            if self.name == "sqlite":
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            else:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@contextmanager
def backends(kind: str, folder: Path, names: tuple[str, ...]) -> Iterator[dict[str, Backend]]:
    """One fresh log location per name: SQLite files in `folder`, or PostgreSQL schemas."""
    if kind == "sqlite":
        paths = {name: folder / f"{name}.audit.db" for name in names}
        yield {name: Backend("sqlite", str(p), f"sqlite:///{p}") for name, p in paths.items()}
        return
    reason = _postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    schemas = {name: f"audit_test_{uuid.uuid4().hex[:12]}" for name in names}
    server = create_engine(PG_SERVER)
    with server.begin() as conn:
        for schema in schemas.values():
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    urls = {
        name: f"{PG_SERVER}?options=-csearch_path%3D{schema}" for name, schema in schemas.items()
    }
    try:
        yield {name: Backend("postgresql", url, url) for name, url in urls.items()}
    finally:
        with server.begin() as conn:
            for schema in schemas.values():
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        server.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with backends(request.param, tmp_path, ("audit",)) as made:
        yield made["audit"]


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def make_record(index: int, party: str = "retailer_a", **changes: Any) -> AuditRecord:
    """A varied but deterministic record for query `q{index}`."""
    fields: dict[str, Any] = {
        "query_id": f"q{index:04d}",
        "time": T0 + timedelta(minutes=index),
        "party": party,
        "requester": ("brand_x", "brand_y")[index % 2],
        "kind": ("overlap", "profile", "overlap")[index % 3],
        "parties": ("retailer_a", "retailer_b"),
        "attributes": ("age_band", "spend") if index % 3 == 1 else (),
        "decision": ("released", "refused", "released", "failed")[index % 4],
        "rule": None if index % 4 == 3 else f"rule_{index % 4}",
        "released": {"all": 100 + index, "a_only": index} if index % 4 == 0 else {},
        "suppressed": index % 5,
        "epsilon": 0.125 * (index % 3),
        "duration_ms": 10 * index,
        "error": "node retailer_b timed out" if index % 4 == 3 else None,
    }
    fields.update(changes)
    return AuditRecord(**fields)
