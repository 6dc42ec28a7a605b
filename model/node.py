"""What a node tells the coordinator: its description and the outcome of opening a session."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.members import LoadTally
from protocols.profile import Attribute


@dataclass(frozen=True)
class NodeDescription:
    """What the node tells the coordinator about itself."""

    party: str
    id_types: tuple[str, ...]
    profile_version: str
    psi_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SessionOpened:
    """The outcome of opening a session: set size and the load report (counts only)."""

    party: str
    set_size: int
    report: LoadTally
    paillier_n: int | None = None
    attributes: tuple[Attribute, ...] = ()
    min_cohort: int = 1
    epsilon: float = 0.0
    cached_answer: str = ""
    paillier_key_signature: bytes = b""
    set_fingerprint: str = ""  # the querier's node only: its fingerprint of its set
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # owners: display labels
