"""Cached answers: an identical repeated query gets the answer released before, when every
party that noises it holds that same answer (so none of them is asked to contribute afresh).

The cache lives at the nodes: each keeps the answer it charged in its budget ledger, as text (the
result's `to_json`, the persisted form), and offers it back when an identical query opens a
session. So the text is made once, when an answer is released, and read once, when a cached one
is; a fresh answer reaches the querier as the result object (dataclass -> proto -> dataclass).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar


class _Answer(Protocol):
    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Answer)


def reusable_answer(sessions: Iterable[tuple[float, str]]) -> str | None:
    """The cached answer to release instead of a fresh one, from the parties' (epsilon,
    cached answer) at admission: every party that noises the query, or holds a cached answer
    for it, holds the same one. Parties that add no noise (the querier's own node, partners
    without noise) keep no cache and are not asked. None: answer afresh."""
    holders = {cached for epsilon, cached in sessions if epsilon > 0 or cached}
    if len(holders) == 1 and "" not in holders:
        return holders.pop()
    return None


def answer_to_release(
    cached: str | None,
    reuse: Callable[[Mapping[str, Any]], R],
    fresh: Callable[[], R],
) -> tuple[R, str]:
    """The result to release and the text every node keeps for it: the cached answer (`reuse`
    renames it for this query; the nodes get back the very text they hold, so none takes it for
    a different answer), or a `fresh` one."""
    if cached is not None:
        return reuse(json.loads(cached)), cached
    result = fresh()
    return result, json.dumps(result.to_json(), sort_keys=True)
