"""Cached answers: an identical repeated query gets the answer released before, when every
party that noises it holds that same answer (so none of them is asked to contribute afresh)."""

from __future__ import annotations

from collections.abc import Iterable


def reusable_answer(sessions: Iterable[tuple[float, str]]) -> str | None:
    """The cached answer to release instead of a fresh one, from the parties' (epsilon,
    cached answer) at admission: every party that noises the query, or holds a cached answer
    for it, holds the same one. Parties that add no noise (the querier's own node, partners
    without noise) keep no cache and are not asked. None: answer afresh."""
    holders = {cached for epsilon, cached in sessions if epsilon > 0 or cached}
    if len(holders) == 1 and "" not in holders:
        return holders.pop()
    return None
