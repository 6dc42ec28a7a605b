"""The node's gatekeeper: signed query, owner policy and privacy budget before any work; one
audit record per request and outcome; the budget charged only when a result is released."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gongying.signing import (
    QueryFields,
    ReplayGuard,
    SignedQuery,
    SignedQueryError,
    load_signing_key,
    load_verify_key,
    verify_query,
)
from node.audit import AuditLog, AuditRecord, Witness, open_audit_log
from node.config import NodeConfig
from node.ledger import LedgerRefusal, PrivacyLedger
from node.nonces import SqlNonces
from node.policy import (
    FAILED_PRECONDITION,
    PERMISSION_DENIED,
    PartnerTerms,
    Policy,
    PolicyRequest,
    load_policy,
)

Clock = Callable[[], datetime]


class GovernanceRefusal(Exception):
    """A request refused by signature, policy or budget; `code` is the gRPC status name."""

    def __init__(self, code: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.rule = rule


@dataclass
class Admission:
    """An admitted request: who asks, on which terms, and what to charge at release."""

    query_id: str
    kind: str
    querier: str
    parties: tuple[str, ...]
    attributes: tuple[str, ...]
    terms: PartnerTerms | None
    query_key: str
    cached_answer: str | None = None
    started: float = field(default_factory=time.monotonic)
    settled: bool = False

    @property
    def min_cohort(self) -> int:
        """k for this querier; 0 when no policy applies (no suppression)."""
        return self.terms.min_cohort if self.terms else 0

    @property
    def epsilon(self) -> float:
        return self.terms.epsilon_per_query if self.terms else 0.0


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
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._lock = threading.Lock()

    def admit(
        self,
        query_id: str,
        kind: str,
        id_type: str,
        parties: Sequence[str],
        attributes: Sequence[str],
        signed: SignedQuery | None,
        requester: str,
    ) -> Admission:
        """Verify the querier's signature, apply the policy, reserve budget; or refuse (logged)."""
        now = self.clock()
        querier = signed.signer if signed is not None else requester
        try:
            fields = self._verified(signed, now) if self.policy is not None else None
            if fields is not None:
                querier = fields.querier
                _match(fields, query_id, kind, id_type, parties, attributes, self.party)
            terms = self._terms(querier, kind, id_type, parties, attributes)
            key = query_key(kind, querier, parties, attributes, id_type, terms, now)
            admission = Admission(
                query_id, kind, querier, tuple(parties), tuple(attributes), terms, key
            )
            if terms is not None and self.ledger is not None:
                if terms.noised:
                    admission.cached_answer = self.ledger.cached_answer(terms.name, key)
                if admission.cached_answer is None:
                    self.ledger.reserve(terms.name, query_id, terms.epsilon_per_query, now)
            return admission
        except GovernanceRefusal as refusal:
            self._record(
                query_id,
                kind,
                querier,
                parties,
                attributes,
                "refused",
                refusal.rule,
                error=str(refusal),
            )
            raise
        except LedgerRefusal as refusal:
            self._record(
                query_id,
                kind,
                querier,
                parties,
                attributes,
                "refused",
                refusal.rule,
                error=str(refusal),
            )
            raise GovernanceRefusal(refusal.code, refusal.rule, str(refusal)) from None

    def _verified(self, signed: SignedQuery | None, now: datetime) -> QueryFields:
        if signed is None or not signed.payload:
            raise GovernanceRefusal(
                PERMISSION_DENIED, "signed_query", "the query is not signed by its querier"
            )
        assert self.policy is not None
        if signed.signer == self.party and self.own_key is not None:
            return self._checked(signed, self.own_key, now)  # the node's own party asking
        partner = self.policy.partner_for_identity(signed.signer)
        terms = self.policy.partners.get(partner) if partner else None
        if terms is None:
            raise GovernanceRefusal(
                PERMISSION_DENIED,
                "partners",
                f"{signed.signer!r} is not listed as a partner in the policy of {self.party}",
            )
        if terms.signing_key is None:
            raise GovernanceRefusal(
                PERMISSION_DENIED,
                f"partners.{terms.name}.signing_key",
                f"no query-signing key is configured for {signed.signer!r} at {self.party}",
            )
        return self._checked(signed, self._key(terms.signing_key), now)

    def _checked(self, signed: SignedQuery, key: Ed25519PublicKey, now: datetime) -> QueryFields:
        try:
            fields = verify_query(signed, key, now)
            self.replays.check(fields, now)
        except SignedQueryError as error:
            raise GovernanceRefusal(PERMISSION_DENIED, "signed_query", str(error)) from None
        return fields

    def _key(self, path: Path) -> Ed25519PublicKey:
        with self._lock:
            key = self._keys.get(str(path))
            if key is None:
                key = load_verify_key(path)
                self._keys[str(path)] = key
            return key

    def _terms(
        self,
        querier: str,
        kind: str,
        id_type: str,
        parties: Sequence[str],
        attributes: Sequence[str],
    ) -> PartnerTerms | None:
        if self.policy is None or querier == self.party:
            return None  # no policy (local tests), or the node's own party asking
        partner = self.policy.partner_for_identity(querier)
        decision = self.policy.check(
            partner, PolicyRequest(kind, id_type, tuple(parties), tuple(attributes))
        )
        if not decision.allowed:
            raise GovernanceRefusal(decision.code, decision.rule, decision.message)
        assert partner is not None
        return self.policy.terms(partner)

    def check_counterparty(self, admission: Admission, counterparty: str, size: int) -> None:
        """Refuse to go on intersecting with a counter-party set smaller than the policy allows."""
        terms = admission.terms
        if terms is None or counterparty == self.party or size >= terms.min_counterparty_set:
            return
        refusal = GovernanceRefusal(
            FAILED_PRECONDITION,
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
        if admission.terms is not None and self.ledger is not None:
            self.ledger.cancel(admission.query_id)
        self._record(
            admission.query_id,
            admission.kind,
            admission.querier,
            admission.parties,
            admission.attributes,
            "refused",
            refusal.rule,
            duration_ms=int((time.monotonic() - admission.started) * 1000),
            error=str(refusal),
        )

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
        """Charge and log a released answer, or refund and log a failure; once per query.

        `witnessed`: peers' signed audit-log heads received with the settle, kept in its record.
        """
        with self._lock:
            if admission.settled:
                return False
            admission.settled = True
        terms = admission.terms
        charged = 0.0
        if outcome == "released":
            if terms is not None and self.ledger is not None and admission.cached_answer is None:
                # only a noised answer is a cache entry: the ledger releases, uncharged, a
                # reservation whose key matches an earlier committed one, so an un-noised query
                # gets a key of its own and every one counts against queries_per_day
                key = admission.query_key
                if not terms.noised:
                    key = f"{key}:{admission.query_id}"
                kept = self.ledger.commit(admission.query_id, answer_json, key)
                if kept != answer_json:
                    self._stale_answer(admission, terms)
                charged = terms.epsilon_per_query
        elif terms is not None and self.ledger is not None:
            self.ledger.cancel(admission.query_id)
        self._record(
            admission.query_id,
            admission.kind,
            admission.querier,
            admission.parties,
            admission.attributes,
            "released" if outcome == "released" else "failed",
            f"partners.{terms.name}" if terms else None,
            released=dict(released or {}),
            suppressed=suppressed,
            epsilon=charged,
            duration_ms=int((time.monotonic() - admission.started) * 1000),
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
        self._record(
            admission.query_id,
            admission.kind,
            admission.querier,
            admission.parties,
            admission.attributes,
            "failed",
            rule,
            duration_ms=int((time.monotonic() - admission.started) * 1000),
            error=message,
        )
        raise GovernanceRefusal("ABORTED", rule, message)

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
        """At start-up: refund and log as failed every query a previous run of this node
        admitted but never settled (it was killed mid-query); the ids of those queries."""
        if self.ledger is None:
            return []
        interrupted = self.ledger.cancel_reserved()
        for query_id, partner in interrupted:
            self._record(
                query_id,
                "",
                partner,
                (),
                (),
                "failed",
                f"partners.{partner}",
                error=f"{self.party} stopped before the query was settled (interrupted); "
                "nothing was released and its reserved budget is refunded",
            )
        return [query_id for query_id, _ in interrupted]

    def close(self) -> None:
        """Write the audit log's closing checkpoint and release the databases."""
        if self.audit is not None:
            self.audit.close()
        if self.ledger is not None:
            self.ledger.close()
        self.replays.close()


def _match(
    fields: QueryFields,
    query_id: str,
    kind: str,
    id_type: str,
    parties: Sequence[str],
    attributes: Sequence[str],
    party: str,
) -> None:
    """The coordinator's request must be exactly what the querier signed."""
    differences = [
        name
        for name, signed, asked in (
            ("query_id", fields.query_id, query_id),
            ("kind", fields.kind, kind),
            ("id_type", fields.id_type, id_type),
            ("parties", tuple(fields.parties), tuple(parties)),
        )
        if signed != asked
    ]
    if attributes and tuple(fields.attributes) != tuple(attributes):
        differences.append("attributes")
    if party not in fields.parties:
        differences.append(f"parties (no {party})")
    if differences:
        raise GovernanceRefusal(
            PERMISSION_DENIED,
            "signed_query",
            f"the request differs from what {fields.querier} signed: {', '.join(differences)}",
        )


def query_key(
    kind: str,
    querier: str,
    parties: Sequence[str],
    attributes: Sequence[str],
    id_type: str,
    terms: PartnerTerms | None,
    now: datetime,
) -> str:
    """The identity of a query's content within a budget period (for cached noised answers)."""
    period = 0
    if terms is not None:
        period = (now.date().toordinal() // terms.period_days) if terms.period_days else 0
    content = {
        "kind": kind,
        "querier": querier,
        "parties": list(parties),
        "attributes": list(attributes),
        "id_type": id_type,
        "period": period,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def open_governance(config: NodeConfig) -> NodeGovernance:
    """The node's policy, budget ledger and audit log as its config names them."""
    signing_key = load_signing_key(config.signing_key) if config.signing_key else None
    audit = (
        open_audit_log(config.audit_log, party=config.party, signing_key=signing_key)
        if config.audit_log
        else None
    )
    policy = load_policy(config.policy) if config.policy else None
    ledger = PrivacyLedger.open(config.ledger, policy) if policy and config.ledger else None
    own_key = signing_key.public_key() if signing_key is not None else None
    # seen nonces live beside the budget in the ledger database, so replays fail after restarts
    nonces = SqlNonces.open(config.ledger) if ledger is not None and config.ledger else None
    replays = ReplayGuard(nonces) if nonces is not None else None
    governance = NodeGovernance(
        config.party, audit, policy, ledger, own_key=own_key, replays=replays
    )
    governance.recover_interrupted()  # one node process per ledger (one replica)
    return governance
