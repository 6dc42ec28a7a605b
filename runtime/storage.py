"""SQLAlchemy engines for the node's append-only stores (audit log, budget ledger).

A plain path is an SQLite file, opened in WAL mode with full syncs and `BEGIN IMMEDIATE` on every
transaction so writers from several threads and processes queue instead of forking state; any
other string is a SQLAlchemy URL (PostgreSQL), where each store takes its own locks.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url


def sqlite_path(url_or_path: str) -> str | None:
    """The absolute file path when `url_or_path` names an SQLite file, else None."""
    return None if "://" in url_or_path else os.path.abspath(url_or_path)


def store_engine(url_or_path: str) -> Engine:
    """An engine for a file path (SQLite, serialised writers) or a SQLAlchemy URL."""
    path = sqlite_path(url_or_path)
    url = make_url(f"sqlite:///{path}" if path is not None else url_or_path)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60.0})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # one writer at a time, across processes

    return engine
