"""Repeated queries over an unchanged file reuse its members and hash-to-group points; a changed
file is loaded afresh, and answers always equal the truth."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from client.sdk import CoordinatorClient
from connectors.members import LoadTally, PackedElements
from connectors.source_spec import SourceSpec
from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from node.member_cache import CachedMembers, MemberCache, held_bytes
from node.server import NodeServer, start_node
from tests.cluster import LOOPBACK
from tests.integration.deployment import node_config


def _write(path: Path, emails: list[str]) -> None:
    path.write_text("email,phone\n" + "".join(f"{e},\n" for e in emails))


@pytest.fixture()
def pair(tmp_path: Path) -> Iterator[tuple[dict[str, NodeServer], CoordinatorServer, Path]]:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _write(a, [f"user{i}@example.com" for i in range(0, 300)])
    _write(b, [f"USER{i}@Example.com " for i in range(200, 400)])
    nodes = {
        party: start_node(node_config(party, SourceSpec(kind="csv", path=str(path))), LOOPBACK)
        for party, path in (("a", a), ("b", b))
    }
    coordinator = start_coordinator(
        CoordinatorConfig(
            listen=LOOPBACK,
            parties={p: n.address for p, n in nodes.items()},
            insecure_plaintext=True,
            workers=0,
        ),
        listen=LOOPBACK,
    )
    try:
        yield nodes, coordinator, a
    finally:
        coordinator.stop()
        for node in nodes.values():
            node.stop()


def test_unchanged_file_reuses_points_and_a_change_is_seen(pair) -> None:  # type: ignore[no-untyped-def]
    nodes, coordinator, a = pair
    with CoordinatorClient(coordinator.address) as client:
        first = client.overlap(["a", "b"], "email")
        entries = list(nodes["a"].service.member_cache._entries.values())
        assert len(entries) == 1 and entries[0].points is not None
        kept = entries[0].points
        second = client.overlap(["a", "b"], "email")
        assert next(iter(nodes["a"].service.member_cache._entries.values())).points is kept
        assert first.all_parties == second.all_parties == 100
        assert first.region("a") == second.region("a") == 200
        # the file changes: 50 more members shared with b; the cache must not answer
        _write(a, [f"user{i}@example.com" for i in range(0, 350)])
        stat = a.stat()
        os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        third = client.overlap(["a", "b"], "email")
    assert third.all_parties == 150
    assert third.region("a") == 200 and third.region("b") == 50


def test_the_cache_keeps_within_its_byte_budget() -> None:
    """Two loads that fit are kept; a third pushes the oldest out by bytes before count; a load
    over the whole budget is not kept (and does not push anything out)."""

    def load(count: int) -> CachedMembers:
        elements = PackedElements.from_list([b"e%08d" % i for i in range(count)])
        return CachedMembers(elements, {"age": [1] * count}, LoadTally(source="test"))

    size = held_bytes(load(1000))
    cache = MemberCache(max_entries=3, max_bytes=2 * size + size // 2)
    cache.put(("a",), load(1000))
    cache.put(("b",), load(1000))
    assert cache.get(("b",)) is not None and cache.get(("a",)) is not None  # b least recent
    cache.put(("c",), load(1000))  # over the bytes (not the count): the least recent, b, goes
    assert cache.get(("b",)) is None
    assert cache.get(("a",)) is not None and cache.get(("c",)) is not None
    cache.put(("huge",), load(3000))
    assert cache.get(("huge",)) is None
    assert cache.get(("a",)) is not None and cache.get(("c",)) is not None
