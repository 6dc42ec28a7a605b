"""Counted answers: an overlap's regions and sessions before release; a profile as released."""

from __future__ import annotations

from dataclasses import dataclass

from model.node import SessionOpened
from model.results import OwnerProfile
from protocols.matching import RegionCounts
from protocols.profile import Attribute

COMBINED = "combined"


@dataclass(frozen=True)
class OverlapOutcome:
    """The counted overlap plus each party's load report."""

    query_id: str
    id_type: str
    counts: RegionCounts | None
    sessions: dict[str, SessionOpened]
    seconds: float
    cached: str | None = None


@dataclass(frozen=True)
class DecryptedProfile:
    """Plaintext aggregate cells of one owner (or `combined`) and the specs to decode them."""

    owner: str
    specs: tuple[Attribute, ...]
    cells: dict[tuple[str, str], int]


@dataclass(frozen=True)
class ProfileOutcome:
    """Everything the coordinator releases for a profile query: the profiles the querier's node
    released (owners, then combined), never a hidden cell."""

    query_id: str
    querier: str
    profiles: list[OwnerProfile]
    not_combined: dict[str, str]
    sessions: dict[str, SessionOpened]
    seconds: float
    phases: dict[str, float]
    cached: str | None = None
