"""Real nodes over mutual TLS for the joint-operations analyses: the privacy arena (brand,
retailer_a, retailer_b under the careful policies), exact and noised, and its plaintext data."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest

from protocols.paillier_attributes import NumericAttribute
from tests.privacy.conftest import BRAND, PARTIES, Arena, age_band, build_arena, email


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


OUTCOME = NumericAttribute("converted", 0.0, 1.0, 1)


def exposed(person: int) -> bool:
    """The brand's campaign groups: even people exposed, odd people held out."""
    return person % 2 == 0


def converted(person: int) -> int:
    """Retailers' outcome: 3 in 5 exposed people bought in the period, 1 in 5 held-out ones."""
    return int(person % 5 < (3 if exposed(person) else 1))


def spend(person: int) -> int:
    """The arena's spend column (privacy_arena writes the same)."""
    return (person * 37) % 1000


def group(person: int) -> str:
    """People 550..579 are a small pilot group (30 people); the others exposed or holdout by
    parity."""
    if 550 <= person < 580:
        return "pilot"
    return "exposed" if exposed(person) else "holdout"


LIFT_BRAND = [p for p in range(650) if not (p < 20 or 200 <= p < 220 or 580 <= p < 600)]
"""The brand's list: people 0..649 but three blocks of 20 (so each retailer, and both, hold
members the brand lacks), 600..649 its own only; 180 of each group at each retailer."""


def _write_lift_csv(path: Path, people: Sequence[int], emails: Sequence[str] = ()) -> None:
    """The arena's member files with an outcome column (retailers) and a group column (brand)."""
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["email", "age_band", "spend", "converted", "group"])
        for person in people:
            row = [email(person), age_band(person), spend(person)]
            writer.writerow([*row, converted(person), group(person)])
        for address in emails:
            writer.writerow([address, "", "", "", ""])


def lift_arena(root: Path, exact: bool) -> Arena:
    """The privacy arena whose retailers declare and allow an outcome `converted`, and whose
    brand list (LIFT_BRAND) carries a `group` column."""
    arena = build_arena(root, exact, write_csv=_write_lift_csv, attributes=(OUTCOME,))
    _write_lift_csv(root / "data" / f"{BRAND}.csv", LIFT_BRAND)
    return arena


@pytest.fixture(scope="session")
def exact_lift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = lift_arena(tmp_path_factory.mktemp("lift-exact"), exact=True)
    yield arena
    arena.stop()


@pytest.fixture(scope="session")
def noised_lift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = lift_arena(tmp_path_factory.mktemp("lift-noised"), exact=False)
    yield arena
    arena.stop()
