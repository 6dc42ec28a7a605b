"""The querier's node releasing a profile: owners' signed terms checked, decrypted, rules applied.

Nothing decrypted leaves the querier's node except what the release rules (`release.profile`)
release, under terms each owner signed (node/owner_terms.py). One request carries every owner's
aggregate of the query, once per query; the node checks, in this order, and otherwise refuses
(audited, the session dropped, nothing decrypted returned):
- the request carries exactly one aggregate per owner of the query (rule `release`): no single
  owner's cells, no subset, no second release for the same query;
- each owner's terms and cells verify under its key from the policy (rule `owner_terms`);
- each owner's cells are plausible, and so is the combined aggregate (rule `plausibility`);
then it combines the attributes asked for (every owner declared each identically), applies the
release rules with each owner's signed k and epsilon, and returns the released profiles only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from model.errors import SignatureRefused
from model.outcomes import COMBINED, DecryptedProfile
from model.results import OwnerProfile
from node.decryption import QuerierDecryption
from node.governance import NodeGovernance
from node.owner_terms import SignedAggregate, terms_signed
from node.refusals import QueryRefusals
from node.sessions import QuerySession, SessionStore
from protocols.paillier import PaillierPublicKey
from protocols.plausibility import OwnerTerms, cell_names
from protocols.profile import OwnerAggregate, combine_aggregates
from release.profile import released_profiles

RELEASE_RULE = "release"
TERMS_RULE = "owner_terms"


@dataclass(frozen=True)
class ReleaseRequest:
    """A ReleaseProfile call: every owner's signed aggregate of the query, under the querier's
    key (`fingerprint`), and the attributes to combine across owners (none: no combined)."""

    query_id: str
    fingerprint: bytes
    aggregates: list[SignedAggregate]
    combined: list[str]


class ProfileRelease:
    """The querier's release step of its profile queries."""

    def __init__(self, party: str, governance: NodeGovernance, sessions: SessionStore) -> None:
        self.party = party
        self.governance = governance
        self.sessions = sessions
        self.refusals = QueryRefusals(governance, sessions)
        self._released: set[str] = set()
        self._lock = threading.Lock()

    def release(
        self,
        session: QuerySession,
        aggregates: Sequence[SignedAggregate],
        combined: Sequence[str],
        decryption: QuerierDecryption,
    ) -> list[OwnerProfile]:
        """The released profiles of every owner (query order) and, if asked, the combined one."""
        public_key = decryption.querier.public_key
        where = f"query {session.query_id}"
        with self._lock:
            open_ids = set(self.sessions.query_ids())
            self._released &= open_ids
            again = session.query_id in self._released
            self._released.add(session.query_id)
        if again:
            self.refusals.refuse(session, RELEASE_RULE, f"{self.party} releases {where} once")
        owners = [p for p in session.parties if p != self.party]
        named = [a.terms.party for a in aggregates]
        if sorted(named) != sorted(owners):
            self.refusals.refuse(
                session,
                RELEASE_RULE,
                f"{self.party} releases a profile of {where} only from one aggregate of each of "
                f"its owners {owners}; the request carries {named}",
            )
        for signed in aggregates:
            self._check_terms(session, public_key, signed)
        by_owner = {a.terms.party: a for a in aggregates}
        decrypted: list[DecryptedProfile] = []
        for owner in owners:
            signed = by_owner[owner]
            terms = [signed.terms]
            decrypted.append(_decrypted(session, owner, signed.aggregate, terms, decryption))
        if combined:
            whole = self._combined(session, public_key, [by_owner[o] for o in owners], combined)
            every = [by_owner[o].terms for o in owners]
            decrypted.append(_decrypted(session, COMBINED, whole, every, decryption))
        terms_of = {a.terms.party: (a.terms.min_cohort, a.terms.epsilon) for a in aggregates}
        return released_profiles(decrypted, terms_of)

    def _check_terms(
        self, session: QuerySession, public_key: PaillierPublicKey, signed: SignedAggregate
    ) -> None:
        owner = signed.terms.party
        where = f"query {session.query_id}"
        if signed.aggregate.key_fingerprint != public_key.fingerprint():
            self.refusals.refuse(
                session, TERMS_RULE, f"{owner}'s aggregate in {where} is under another key"
            )
        if self.governance.policy is None:
            return  # insecure_no_policy: no partner keys to check against (local tests)
        if not signed.signature:
            self.refusals.refuse(
                session,
                TERMS_RULE,
                f"{owner} signed no terms for its aggregate in {where}; set signing_key in "
                f"{owner}'s node config",
                SignatureRefused,
            )
        key = self.refusals.partner_key(session, owner, f"{owner}'s terms")
        if not terms_signed(key, session.query_id, self.party, signed, public_key):
            self.refusals.refuse(
                session,
                TERMS_RULE,
                f"the terms or cells of {owner}'s aggregate in {where} are not those {owner} "
                f"signed for {self.party} in this query (k, epsilon, set size, specs, cells)",
                SignatureRefused,
            )

    def _combined(
        self,
        session: QuerySession,
        public_key: PaillierPublicKey,
        aggregates: Sequence[SignedAggregate],
        names: Sequence[str],
    ) -> OwnerAggregate:
        """The homomorphic sum of the named attributes, each declared alike by every owner."""
        trimmed = []
        for signed in aggregates:
            items = {item.attribute.name: item for item in signed.aggregate.attributes}
            missing = [n for n in names if n not in items]
            if missing:
                self.refusals.refuse(
                    session,
                    RELEASE_RULE,
                    f"cannot combine {missing} in query {session.query_id}: "
                    f"{signed.terms.party} did not aggregate them",
                )
            trimmed.append(
                OwnerAggregate(
                    key_fingerprint=signed.aggregate.key_fingerprint,
                    rows=signed.aggregate.rows,
                    overlap=signed.aggregate.overlap,
                    attributes=tuple(items[n] for n in names),
                    sealed=signed.aggregate.sealed,
                )
            )
        if len(trimmed) < 2 or len(set(names)) != len(names):
            self.refusals.refuse(
                session,
                RELEASE_RULE,
                f"a combined profile sums two or more owners, each attribute once; query "
                f"{session.query_id} asked {list(names)} over {len(trimmed)} owner(s)",
            )
        try:
            return combine_aggregates(public_key, trimmed)
        except ValueError as error:
            where = f"query {session.query_id}"
            self.refusals.refuse(session, RELEASE_RULE, f"cannot combine in {where}: {error}")


def _decrypted(
    session: QuerySession,
    owner: str,
    aggregate: OwnerAggregate,
    terms: list[OwnerTerms],
    decryption: QuerierDecryption,
) -> DecryptedProfile:
    specs = tuple(item.attribute for item in aggregate.attributes)
    values = decryption.decrypt(session, aggregate, owner, terms)
    return DecryptedProfile(owner, specs, dict(zip(cell_names(specs), values, strict=True)))
