"""The ledger side of an admitted query (DESIGN 7): counted and its epsilon held at admission,
charged for good the moment this node's contribution leaves it, refunded only before that,
its released answer cached; and the partner's cap on queries open at once."""

from __future__ import annotations

from datetime import datetime

from model.errors import QueryIdReused
from node.admission import Admission, OpenQueries
from node.ledger import LedgerRefusal, PrivacyLedger, QueryIdConflict


class QueryCharges:
    """Admissions' charges at one node (no ledger: nothing is counted or charged)."""

    def __init__(self, party: str, ledger: PrivacyLedger | None) -> None:
        self.ledger = ledger
        self.open_queries = OpenQueries(party)

    def admit(self, admission: Admission, now: datetime) -> None:
        """Take a place among the partner's open queries, then count the query: with the answer
        released for an identical noised query (nothing charged) or a reservation of its
        epsilon; refusals as GovernanceRefusal kinds, leaving nothing held."""
        terms = admission.terms
        if terms is None:
            return
        self.open_queries.hold(terms, admission.query_id)
        try:
            if self.ledger is not None and terms.noised:
                admission.cached_answer = self.ledger.cached_answer(
                    terms.name, admission.query_key, now
                )
            if self.ledger is not None and admission.cached_answer is None:
                self._reserve(admission, now)
            elif self.ledger is not None:  # counted like every admitted query, charged nothing
                self._reserve(admission, now, cached=True)
        except BaseException:
            self.open_queries.release(admission)
            raise

    def _reserve(self, admission: Admission, now: datetime, cached: bool = False) -> None:
        """Count the query and hold its epsilon. A query id that already ended here is refused:
        reusing it would let a retry take the place (and the count) of the query it reuses."""
        terms = admission.terms
        assert terms is not None and self.ledger is not None
        try:
            self.ledger.reserve(
                terms.name, admission.query_id, terms.epsilon_per_query, now, cached
            )
        except QueryIdConflict as conflict:
            raise QueryIdReused("query_id", str(conflict)) from None
        except LedgerRefusal as refusal:
            raise refusal.decision.refusal() from None
        admission.reserved = not cached

    def spend(self, admission: Admission, now: datetime) -> None:
        """Charge the query's epsilon for good (idempotent). An admission answered from the
        cache that must contribute afresh after all is counted and charged like a new query."""
        if admission.terms is None or self.ledger is None or admission.charged:
            return
        if not admission.reserved:
            self._reserve(admission, now)
            admission.cached_answer = None
        admission.charged = self.ledger.spend(admission.query_id)

    def end_failed(self, admission: Admission) -> float:
        """The query ended here without a release: free its place; refund its epsilon unless it
        was spent. The epsilon charged (kept)."""
        self.open_queries.release(admission)
        if admission.reserved and self.ledger is not None:
            return self.ledger.fail(admission.query_id)
        return 0.0

    def commit(self, admission: Admission, answer_json: str, now: datetime) -> str | None:
        """The query's answer is released: free its place, charge and cache the answer. Returns
        the earlier answer when an identical query was answered first (this one is then not
        released), else None."""
        self.open_queries.release(admission)
        terms = admission.terms
        if terms is None or self.ledger is None or not admission.reserved:
            return None
        # only a noised answer is a cache entry: the ledger releases, uncharged, a reservation
        # whose key matches an earlier committed one, so an un-noised query gets a key of its
        # own and every one counts against queries_per_day
        key = admission.query_key if terms.noised else f"{admission.query_key}:{admission.query_id}"
        kept = self.ledger.commit(admission.query_id, answer_json, key, now)
        if kept != answer_json:
            return kept  # this query stays charged only if its contribution had left
        admission.charged = terms.epsilon_per_query
        return None
