"""The querier's node decrypting aggregate cells: wire checks, plausibility, refusal, audit."""

from __future__ import annotations

import threading

from model.errors import GovernanceRefusal
from node.governance import NodeGovernance
from node.policy import DEFAULT_MAX_SET_SIZE, FAILED_PRECONDITION
from node.sessions import QuerySession, SessionStore
from protocols.paillier import (
    InvalidCiphertext,
    PaillierPrivateKey,
    check_ciphertexts,
    ciphertext_from_bytes,
)
from protocols.plausibility import Cell, DecryptionTally, ImplausibleAggregate, OwnerTerms
from protocols.profile import Attribute
from runtime.signing import SHARED

PLAUSIBILITY_RULE = "plausibility"
COMBINED = "combined"


class QuerierDecryption:
    """Decrypts the aggregates of this querier's open queries, releasing only plausible ones.

    Nothing decrypted leaves unless ``DecryptionTally`` finds the cells plausible for 0/1
    indicators over the querier's set; otherwise the query is refused (audited, rule
    ``plausibility``) and its session dropped, so no later request decrypts anything for it.
    The plaintexts go to the release rules (node/profile_release.py), never onto the wire.
    """

    def __init__(
        self, key: PaillierPrivateKey, governance: NodeGovernance, sessions: SessionStore
    ) -> None:
        self.key = key
        self.governance = governance
        self.sessions = sessions
        self._tallies: dict[str, DecryptionTally] = {}
        self._lock = threading.Lock()

    def decrypt(
        self,
        session: QuerySession,
        fingerprint: bytes,
        ciphertexts: list[bytes],
        names: list[Cell],
        owner: str,
        owners: list[OwnerTerms],
        specs: tuple[Attribute, ...],
    ) -> list[int]:
        public_key = self.key.public_key
        if fingerprint != public_key.fingerprint():
            raise InvalidCiphertext("aggregates are encrypted against a different key")
        values = [ciphertext_from_bytes(public_key, c) for c in ciphertexts]
        check_ciphertexts(public_key, values, fingerprint)
        plain = [self.key.decrypt_signed(c) for c in values]
        with self._lock:
            tally = self._tally(session)
            try:
                self._check(tally, session, owner, owners, names, specs, plain)
            except ImplausibleAggregate as error:
                self._tallies.pop(session.query_id, None)
                refusal = GovernanceRefusal(
                    FAILED_PRECONDITION,
                    PLAUSIBILITY_RULE,
                    f"{self.governance.party} releases nothing for query {session.query_id}: "
                    f"{error}",
                )
                if session.admission is not None:
                    self.governance.refuse(session.admission, refusal)
                self.sessions.close(session.query_id)
                raise refusal from None
        return plain

    def _tally(self, session: QuerySession) -> DecryptionTally:
        """The query's tally; tallies of queries no longer open are dropped on the way."""
        open_ids = set(self.sessions.query_ids())
        for stale in [q for q in self._tallies if q not in open_ids]:
            del self._tallies[stale]
        tally = self._tallies.get(session.query_id)
        if tally is None:
            audience = session.admission.audience if session.admission is not None else SHARED
            ceiling = None if audience == SHARED else self._largest_owner_set()
            tally = DecryptionTally(len(session.elements), audience_ceiling=ceiling)
            self._tallies[session.query_id] = tally
        return tally

    def _largest_owner_set(self) -> int:
        """The largest owner set this querier accepts: its policy's largest max_set_size."""
        policy = self.governance.policy
        sizes = [t.max_set_size for t in policy.partners.values()] if policy is not None else []
        return max(sizes, default=DEFAULT_MAX_SET_SIZE)

    def _check(
        self,
        tally: DecryptionTally,
        session: QuerySession,
        owner: str,
        owners: list[OwnerTerms],
        names: list[Cell],
        specs: tuple[Attribute, ...],
        plain: list[int],
    ) -> None:
        if len(names) != len(plain):
            raise ImplausibleAggregate("the request names fewer or more cells than it sends")
        strangers = [
            o.party
            for o in owners
            if o.party not in session.parties or o.party == self.governance.party
        ]
        if strangers or not owners:
            raise ImplausibleAggregate(f"owners {strangers} are not owners of this query")
        if owner == COMBINED:
            tally.check_combined([o.party for o in owners], specs, names, plain)
        elif len(owners) == 1 and owners[0].party == owner:
            tally.check_owner(owners[0], specs, names, plain)
        else:
            raise ImplausibleAggregate(f"the request for owner {owner!r} names other owners")
