"""The querier's set fingerprint (`node.query_key.set_fingerprint`): the same for the same set in
any order or container, different for any other set or key, and computed in bounded memory."""

from __future__ import annotations

import random
import tracemalloc

import numpy as np

from connectors.members import PackedElements
from node.query_key import set_fingerprint

KEY = bytes(range(32))


def _emails(count: int, start: int = 0) -> list[bytes]:
    return [b"email:user%d@example.com" % i for i in range(start, start + count)]


def test_the_same_set_in_any_order_or_container_has_one_fingerprint() -> None:
    members = _emails(20_000)
    shuffled = members[:]
    random.Random(5).shuffle(shuffled)
    packed = PackedElements.from_list(members)
    fingerprint = set_fingerprint(KEY, members)
    assert set_fingerprint(KEY, shuffled) == fingerprint
    assert set_fingerprint(KEY, iter(shuffled)) == fingerprint
    assert set_fingerprint(KEY, packed) == fingerprint
    assert set_fingerprint(
        KEY, packed.take(np.array(random.Random(6).sample(range(20_000), 20_000)))
    ) == (fingerprint)


def test_another_set_or_key_has_another_fingerprint() -> None:
    members = _emails(5_000)
    fingerprint = set_fingerprint(KEY, members)
    others = {
        "one less": members[:-1],
        "one more": [*members, b"email:new@example.com"],
        "one changed": [*members[:-1], b"email:other@example.com"],
        "empty": [],
    }
    seen = {fingerprint}
    for other in others.values():
        seen.add(set_fingerprint(KEY, other))
    seen.add(set_fingerprint(bytes(32), members))
    assert len(seen) == len(others) + 2


def test_memory_does_not_grow_with_the_set() -> None:
    """200k packed members: Python and numpy allocations peak under 4 MiB (sorting them first
    made 200k byte objects and a list of them, ~14 MiB)."""
    packed = PackedElements.from_list(_emails(200_000))
    tracemalloc.start()
    try:
        set_fingerprint(KEY, packed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"
