"""Seen query nonces on SQLite and PostgreSQL: kept across reopening, pruned at expiry, one winner
among concurrent uses; the same suite runs against the memory store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from node.nonces import SqlNonces
from runtime.signing import MemoryNonces, NonceStore, QueryFields, QueryReplayed, ReplayGuard

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)


@pytest.fixture
def nonces(ledger_url: str) -> Iterator[SqlNonces]:
    store = SqlNonces.open(ledger_url)
    yield store
    store.close()


def _fields(nonce: bytes, querier: str = "brand", expires_at: datetime = LATER) -> QueryFields:
    return QueryFields("q-1", "overlap", querier, ("brand", "retailer_a"), (), (), "email", nonce,
                       expires_at)  # fmt: skip


def test_a_nonce_is_refused_after_the_store_is_reopened(ledger_url: str) -> None:
    first = SqlNonces.open(ledger_url)
    try:
        ReplayGuard(first).check(_fields(b"\x01" * 16), NOW)
    finally:
        first.close()
    reopened = SqlNonces.open(ledger_url)  # as after a node restart
    try:
        guard = ReplayGuard(reopened)
        with pytest.raises(QueryReplayed, match="query 'q-1' from 'brand' was already used"):
            guard.check(_fields(b"\x01" * 16), NOW + timedelta(minutes=5))
        guard.check(_fields(b"\x02" * 16), NOW)
        assert len(guard) == 2
    finally:
        reopened.close()


def _stores(nonces: SqlNonces) -> list[NonceStore]:
    return [MemoryNonces(), nonces]


def test_nonces_are_per_signer_and_forgotten_at_expiry(nonces: SqlNonces) -> None:
    for store in _stores(nonces):
        assert store.remember("brand", b"\x01" * 16, LATER, NOW)
        assert store.remember("retailer_a", b"\x01" * 16, LATER, NOW)  # another signer's nonce
        assert not store.remember("brand", b"\x01" * 16, LATER, NOW + timedelta(minutes=14))
        assert store.remember("brand", b"\x02" * 16, LATER + timedelta(hours=1), NOW)
        assert len(store) == 3
        # at LATER the first two expire and are pruned; the third is kept
        assert store.remember("brand", b"\x03" * 16, LATER + timedelta(hours=1), LATER)
        assert len(store) == 2
        assert not store.remember("brand", b"\x02" * 16, LATER + timedelta(hours=1), LATER)


def _race(store: NonceStore, threads: int = 8) -> int:
    """How many of `threads` simultaneous uses of one nonce the store accepts."""
    accepted: list[int] = []
    barrier = threading.Barrier(threads)

    def attempt(index: int) -> None:
        barrier.wait()
        if store.remember("brand", b"\x07" * 16, LATER, NOW):
            accepted.append(index)

    running = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return len(accepted)


def test_one_of_many_concurrent_uses_of_a_nonce_wins(nonces: SqlNonces) -> None:
    assert [_race(store) for store in _stores(nonces)] == [1, 1]
