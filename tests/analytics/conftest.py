"""Real nodes over mutual TLS for the joint-operations analyses: the privacy arena (brand,
retailer_a, retailer_b under the careful policies), exact and noised, and its plaintext data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest

from tests.privacy import conftest as privacy_arena
from tests.privacy.conftest import BRAND, PARTIES, RETAILER_B, Arena, build_arena


def plaintext_sets(arena: Arena) -> dict[str, set[str]]:
    """Each party's member emails as its CSV file holds them: the oracle's input."""
    sets = {}
    for party in PARTIES:
        frame = pd.read_csv(Path(arena.root) / "data" / f"{party}.csv")
        sets[party] = set(frame["email"].str.strip().str.lower())
    return sets


@pytest.fixture(scope="module")
def exact_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = build_arena(tmp_path_factory.mktemp("analytics-exact"), exact=True)
    yield arena
    arena.stop()


@pytest.fixture(scope="module")
def noised_arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = build_arena(tmp_path_factory.mktemp("analytics-noised"), exact=False)
    yield arena
    arena.stop()


_ARENA_POLICY = privacy_arena._policy


def _allowing_audiences(partner_of: str, others: Sequence[str], exact: bool) -> str:
    """The arena's policy text, with retailer_a (whose co-party is retailer_b) letting the brand
    ask for every audience; retailer_b keeps the default (shared only)."""
    text = _ARENA_POLICY(partner_of, others, exact)
    if partner_of == BRAND and list(others) == [RETAILER_B]:
        text += 'audiences = ["shared", "prospects", "base"]\n'
    return text


def audience_arena(root: Path, exact: bool) -> Arena:
    """The privacy arena where retailer_a allows the brand prospects and base profiles."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(privacy_arena, "_policy", _allowing_audiences)
        return build_arena(root, exact)


@pytest.fixture(scope="module")
def exact_audiences(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = audience_arena(tmp_path_factory.mktemp("audiences-exact"), exact=True)
    yield arena
    arena.stop()


@pytest.fixture(scope="module")
def noised_audiences(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = audience_arena(tmp_path_factory.mktemp("audiences-noised"), exact=False)
    yield arena
    arena.stop()
