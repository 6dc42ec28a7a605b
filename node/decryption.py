"""The querier's node decrypting aggregate cells: wire checks, plausibility, refusal, audit."""

from __future__ import annotations

import threading

from model.errors import AnswerImplausible
from node.governance import NodeGovernance
from node.policy import DEFAULT_MAX_SET_SIZE
from node.refusals import QueryRefusals
from node.sessions import QuerySession, SessionStore
from protocols.paillier import PaillierPrivateKey
from protocols.plausibility import (
    Cell,
    DecryptionTally,
    ImplausibleAggregate,
    OwnerTerms,
    cell_names,
)
from protocols.profile import Attribute, OwnerAggregate
from protocols.profile_parties import ProfileQuerier
from runtime.signing import SHARED

PLAUSIBILITY_RULE = "plausibility"
COMBINED = "combined"


class QuerierDecryption:
    """Decrypts the aggregates of this querier's open queries, releasing only plausible ones.

    Decryption itself is the querier's protocol object (`ProfileQuerier`, protocols/).

    Nothing decrypted leaves unless ``DecryptionTally`` finds the cells plausible for 0/1
    indicators over the querier's set; otherwise the query is refused (audited, rule
    ``plausibility``) and its session dropped, so no later request decrypts anything for it.
    The plaintexts go to the release rules (node/profile_release.py), never onto the wire.
    """

    def __init__(
        self, key: PaillierPrivateKey, governance: NodeGovernance, sessions: SessionStore
    ) -> None:
        self.querier = ProfileQuerier(key)
        self.governance = governance
        self.sessions = sessions
        self.refusals = QueryRefusals(governance, sessions)
        self._tallies: dict[str, DecryptionTally] = {}
        self._lock = threading.Lock()

    def decrypt(
        self,
        session: QuerySession,
        aggregate: OwnerAggregate,
        owner: str,
        owners: list[OwnerTerms],
    ) -> list[int]:
        """The cells of one owner's (or the combined) aggregate, decrypted, if plausible."""
        specs = tuple(item.attribute for item in aggregate.attributes)
        names = cell_names(specs)
        plain = self.querier.decrypt_cells(aggregate)
        with self._lock:
            tally = self._tally(session)
            try:
                self._check(tally, session, owner, owners, names, specs, plain)
            except ImplausibleAggregate as error:
                self._tallies.pop(session.query_id, None)
                message = f"{self.governance.party} releases nothing for query {session.query_id}"
                self.refusals.refuse(
                    session, PLAUSIBILITY_RULE, f"{message}: {error}", AnswerImplausible
                )
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
