"""The node's gatekeeper: signed query, owner policy, caps and privacy budget before any work; one
audit record per request and outcome; the budget charged, irrevocably, when this node's
contribution leaves it (DESIGN 7)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from model.errors import (
    AnswerSuperseded,
    CounterpartySetTooSmall,
    GovernanceRefusal,
    LimitReached,
    QueryEnded,
)
from node.admission import Admission
from node.charging import QueryCharges
from node.ledger import PrivacyLedger
from node.policy import PartnerTerms, Policy, PolicyRequest
from node.query_key import FINGERPRINT_SECRET, query_key, set_fingerprint
from node.query_signature import QuerySignatures, match_signed
from node.segments import unverified_segment
from runtime.audit import AuditLog, AuditRecord, Witness
from runtime.signing import (
    SHARED,
    ReplayGuard,
    SignedQuery,
)

Clock = Callable[[], datetime]
__all__ = ["Admission", "GovernanceRefusal", "NodeGovernance"]


class NodeGovernance:
    """Checks and records every request a node serves.

    Without a policy (`insecure_no_policy`, for local tests only) requests are admitted
    unchecked, but they are still audited.
    """

    def __init__(
        self,
        party: str,
        audit: AuditLog | None,
        policy: Policy | None = None,
        ledger: PrivacyLedger | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        own_key: Ed25519PublicKey | None = None,
        replays: ReplayGuard | None = None,
    ) -> None:
        self.party = party
        self.own_key = own_key
        self.audit = audit
        self.policy = policy
        self.ledger = ledger
        self.clock = clock
        self.replays = replays if replays is not None else ReplayGuard()  # memory: no ledger
        self.signatures = QuerySignatures(party, self.replays)
        self._lock = threading.Lock()
        self.charges = QueryCharges(party, ledger)
        self.open_queries = self.charges.open_queries
        self._fingerprint_key = (
            ledger.secret(FINGERPRINT_SECRET) if ledger is not None else secrets.token_bytes(32)
        )

    def admit(
        self,
        query_id: str,
        kind: str,
        id_type: str,
        parties: Sequence[str],
        attributes: Sequence[str],
        signed: SignedQuery | None,
        requester: str,
        querier_set: str = "",
    ) -> Admission:
        """Verify the querier's signature, apply the policy and the concurrency cap, count the
        query and reserve its epsilon; or refuse (logged). `querier_set` is the fingerprint of
        the querier's set (from its node, via the coordinator), part of the cached-answer key."""
        now = self.clock()
        querier = signed.signer if signed is not None else requester
        try:
            fields = (
                self.signatures.verified(signed, now, self.policy, self.own_key)
                if self.policy is not None
                else None
            )
            audience, agreement, segment = SHARED, "", unverified_segment(signed)
            if fields is not None:
                querier, audience = fields.querier, fields.audience
                agreement, segment = fields.agreement, fields.segment
                match_signed(fields, query_id, kind, id_type, parties, attributes, self.party)
            terms = self._terms(querier, kind, id_type, parties, attributes, audience, agreement)
            key = query_key(kind, querier, parties, attributes, id_type, querier_set, audience)
            admission = Admission(
                query_id, kind, querier, tuple(parties), tuple(attributes), terms, key
            )
            admission.audience, admission.agreement = audience, agreement
            admission.segment = segment
            self.charges.admit(admission, now)
            if self.ledger is not None and terms is not None:
                self.ledger.admissions.note(query_id, kind, parties, attributes)
            return admission
        except GovernanceRefusal as refusal:
            rule, message = refusal.rule, str(refusal)
            self._record(
                query_id, kind, querier, parties, attributes, "refused", rule, error=message
            )
            raise

    def fingerprint(self, elements: Iterable[bytes]) -> str:
        """This node's fingerprint of a set it queries with (see node.query_key)."""
        return set_fingerprint(self._fingerprint_key, elements)

    def charge(self, admission: Admission) -> None:
        """This node's contribution to the query is about to leave it: charge the epsilon for
        good (nothing after this refunds it). An admission answered from the cache that must
        contribute afresh after all is counted and charged now like a new query. Refuses (and
        nothing may leave) when the query has already ended here."""
        terms = admission.terms
        with self._lock:
            if admission.settled:
                raise QueryEnded(
                    f"partners.{terms.name}" if terms else "query",
                    f"query {admission.query_id} has already ended at {self.party}",
                )
        try:
            self.charges.spend(admission, self.clock())
        except GovernanceRefusal as refusal:
            self.refuse(admission, refusal)
            raise

    def check_received(self, admission: Admission, set_owner: str, points: int) -> None:
        """Refuse the querier's set once more points of it arrived than `max_set_size`."""
        terms = admission.terms
        if terms is None or set_owner != admission.querier or points <= terms.max_set_size:
            return
        rule = f"partners.{terms.name}.max_set_size"
        refusal = LimitReached(
            rule,
            f"{self.party} received more than {terms.max_set_size} points of the set of "
            f"{set_owner} ({rule}); send a smaller set",
        )
        self.refuse(admission, refusal)
        raise refusal

    def _terms(
        self,
        querier: str,
        kind: str,
        id_type: str,
        parties: Sequence[str],
        attributes: Sequence[str],
        audience: str = SHARED,
        agreement: str = "",
    ) -> PartnerTerms | None:
        if self.policy is None or querier == self.party:
            return None  # no policy (local tests), or the node's own party asking
        partner = self.policy.partner_for_identity(querier)
        request = PolicyRequest(
            kind,
            id_type,
            tuple(parties),
            tuple(attributes),
            querier=querier,
            node=self.party,
            audience=audience,
            agreement=agreement,
        )
        decision = self.policy.check(partner, request)
        if not decision.allowed:
            raise decision.refusal()
        assert partner is not None
        return self.policy.terms(partner)

    def check_counterparty(self, admission: Admission, counterparty: str, size: int) -> None:
        """Refuse to go on intersecting with a counter-party set smaller than the policy allows."""
        terms = admission.terms
        if terms is None or counterparty == self.party or size >= terms.min_counterparty_set:
            return
        refusal = CounterpartySetTooSmall(
            f"partners.{terms.name}.min_counterparty_set",
            f"{self.party} will not intersect with the set of {counterparty} "
            f"({size} members): partner {terms.name} requires at least "
            f"{terms.min_counterparty_set}",
        )
        self.refuse(admission, refusal)
        raise refusal

    def refuse(self, admission: Admission, refusal: GovernanceRefusal) -> None:
        """Refuse an admitted query part-way: release what it reserved and log the refusal
        with its rule (the coordinator's later settlement then finds it settled)."""
        with self._lock:
            if admission.settled:
                return
            admission.settled = True
        charged = self.charges.end_failed(admission)
        self._record_for(admission, "refused", refusal.rule, epsilon=charged, error=str(refusal))

    def settle(
        self,
        admission: Admission,
        outcome: str,
        answer_json: str = "",
        released: Mapping[str, int] | None = None,
        suppressed: int = 0,
        error: str | None = None,
        witnessed: Sequence[Witness] = (),
    ) -> bool:
        """Charge and log a released answer, or log a failure (refunded only when this node's
        contribution never left it, charged otherwise); once per query.

        `witnessed`: peers' signed audit-log heads received with the settle, kept in its record.
        """
        with self._lock:
            if admission.settled:
                return False
            admission.settled = True
        terms = admission.terms
        if outcome == "released":
            earlier = self.charges.commit(admission, answer_json, self.clock())
            if earlier is not None and terms is not None:
                self._stale_answer(admission, terms)
            charged = admission.charged
        else:
            charged = self.charges.end_failed(admission)
        self._record_for(
            admission,
            "released" if outcome == "released" else "failed",
            _admitting_rule(admission),
            released=dict(released or {}),
            suppressed=suppressed,
            epsilon=charged,
            error=error if outcome != "released" else None,
            witnessed=witnessed,
        )
        return outcome == "released"

    def _stale_answer(self, admission: Admission, terms: PartnerTerms) -> None:
        """An identical noised query was answered (and charged) first, while this one ran:
        its fresh noise must not be released next to the earlier answer. Logged; the query
        fails, and asking again returns the earlier answer from the cache."""
        rule = f"partners.{terms.name}.epsilon_per_query"
        message = (
            f"an identical query from {terms.name} was answered first; {self.party} releases "
            "only that answer (ask again to get it)"
        )
        self._record_for(admission, "failed", rule, epsilon=admission.charged, error=message)
        raise AnswerSuperseded(rule, message)

    def _record_for(
        self,
        admission: Admission,
        decision: str,
        rule: str | None,
        released: dict[str, int] | None = None,
        suppressed: int = 0,
        epsilon: float = 0.0,
        error: str | None = None,
        witnessed: Sequence[Witness] = (),
    ) -> None:
        self._record(
            admission.query_id,
            admission.kind,
            admission.querier,
            admission.parties,
            admission.attributes,
            decision,
            rule,
            released,
            suppressed,
            epsilon,
            admission.elapsed_ms(),
            error,
            witnessed,
        )

    def _record(
        self,
        query_id: str,
        kind: str,
        requester: str,
        parties: Sequence[str],
        attributes: Sequence[str],
        decision: str,
        rule: str | None,
        released: dict[str, int] | None = None,
        suppressed: int = 0,
        epsilon: float = 0.0,
        duration_ms: int = 0,
        error: str | None = None,
        witnessed: Sequence[Witness] = (),
    ) -> None:
        if self.audit is None:
            return
        self.audit.append(
            AuditRecord(
                query_id=query_id or "(none)",
                time=self.clock(),
                party=self.party,
                requester=requester or "(unknown)",
                kind=kind or "(unknown)",
                parties=tuple(parties),
                attributes=tuple(attributes),
                decision=decision,
                rule=rule,
                released=released or {},
                suppressed=suppressed,
                epsilon=epsilon,
                duration_ms=duration_ms,
                error=error,
                witnessed=tuple(witnessed),
            )
        )

    def recover_interrupted(self) -> list[str]:
        """At start-up: log as failed every query a previous run of this node admitted but never
        settled (it was killed mid-query): still counted, its epsilon refunded if this node's
        contribution had not left, charged if it had. The ids of those queries."""
        if self.ledger is None:
            return []
        interrupted = self.ledger.recover()
        for query_id, partner, charged in interrupted:
            kind, parties, attributes = self.ledger.admissions.get(query_id) or ("", (), ())
            self._record(
                query_id,
                kind,
                partner,
                parties,
                attributes,
                "failed",
                f"partners.{partner}",
                epsilon=charged,
                error=f"{self.party} stopped before the query was settled (interrupted); "
                + (
                    f"its contribution had left, so epsilon {charged:g} stays charged"
                    if charged
                    else "nothing had left this node; its epsilon is refunded"
                ),
            )
        return [query_id for query_id, _, _ in interrupted]

    def close(self) -> None:
        """Write the audit log's closing checkpoint and release the databases."""
        if self.audit is not None:
            self.audit.close()
        if self.ledger is not None:
            self.ledger.close()
        self.replays.close()


def _admitting_rule(admission: Admission) -> str | None:
    """The policy key a query was admitted under: the partner's table, or its `agreements`
    when the query was signed for an agreement (so a statement's queries can be told apart
    in this node's log)."""
    if admission.terms is None:
        return None
    rule = f"partners.{admission.terms.name}"
    return f"{rule}.agreements" if admission.agreement else rule
