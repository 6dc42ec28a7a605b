"""An admitted query at a node: its terms and charge state, refusals, and the per-partner cap
on queries open at once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from model.errors import LimitReached
from node.policy import PartnerTerms
from runtime.signing import SHARED, Segment


@dataclass
class Admission:
    """An admitted request: who asks, on which terms, and what was charged for it."""

    query_id: str
    kind: str
    querier: str
    parties: tuple[str, ...]
    attributes: tuple[str, ...]
    terms: PartnerTerms | None
    query_key: str
    cached_answer: str | None = None
    audience: str = SHARED  # whom a profile describes, as the querier signed it
    agreement: str = ""  # the agreement hash the querier signed the query for ("" when none)
    segment: Segment | None = None  # the part of the querier's own list it profiles with
    started: float = field(default_factory=time.monotonic)
    settled: bool = False
    reserved: bool = False  # a ledger row counts this query (and holds its epsilon)
    charged: float = 0.0  # epsilon charged for good (this node's contribution left it)

    @property
    def min_cohort(self) -> int:
        """k for this querier; 0 when no policy applies (no suppression)."""
        return self.terms.min_cohort if self.terms else 0

    @property
    def epsilon(self) -> float:
        return self.terms.epsilon_per_query if self.terms else 0.0

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


class OpenQueries:
    """Each partner's admitted, unsettled queries at this node, capped by `max_concurrent`."""

    def __init__(self, party: str) -> None:
        self.party = party
        self._open: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def hold(self, terms: PartnerTerms, query_id: str) -> None:
        """Count the query among the partner's open ones, or refuse past `max_concurrent`."""
        with self._lock:
            running = self._open.setdefault(terms.name, set())
            if len(running) >= terms.max_concurrent and query_id not in running:
                rule = f"partners.{terms.name}.max_concurrent"
                raise LimitReached(
                    rule,
                    f"{terms.name} already has {len(running)} queries open at {self.party}; "
                    f"{rule} is {terms.max_concurrent} (retry when one finishes)",
                )
            running.add(query_id)

    def release(self, admission: Admission) -> None:
        """The query ended here (settled or refused): free its place."""
        if admission.terms is not None:
            with self._lock:
                self._open.get(admission.terms.name, set()).discard(admission.query_id)

    def count(self, partner: str) -> int:
        with self._lock:
            return len(self._open.get(partner, ()))
