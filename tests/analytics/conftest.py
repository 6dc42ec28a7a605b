"""Real nodes over mutual TLS for the joint-operations analyses: the privacy arena (brand,
retailer_a, retailer_b under the careful policies), exact and noised, and its plaintext data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.privacy.conftest import PARTIES, Arena, build_arena


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


def audience_arena(root: Path, exact: bool) -> Arena:
    """The privacy arena where retailer_a allows the brand prospects and base profiles."""
    return build_arena(root, exact, audiences=("shared", "prospects", "base"))


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
