"""The unblinding step of a profile query, bound to the owner's re-blinding by its signature.

Why. `unblind` multiplies points by the inverse of a node's per-query key. Asked of arbitrary
points it is an oracle: an owner's own list k_D*H(x) comes back as H(x), the querier's own output
k_Q*H(y) as H(y), and a known multiple c*k_Q*H(y) as c*H(y), each matched to its identifier by a
dictionary lookup. Refusing the node's own output points is not enough (the multiple), so what
is checked is where the points come from: they must have gone through the owner's per-query key.

How. Owner D, re-blinding the querier Q's set in a profile query, signs with its party's Ed25519
key (node config `signing_key`) the statement `reblind_statement(query_id, Q, D, count, digest)`
over the SHA-256 of exactly the points it returns, once per query. Q's node takes its key off
only when all of these hold, and otherwise refuses (NotPermitted or SignatureRefused, audited):
- its session is the querier session of a profile query, and the points are its own set;
- D is one of the query's owners, and Q has not unblinded for D in this query yet;
- there are exactly as many points as Q's own set has;
- D's signature verifies, under D's key from Q's policy (`partners.<D>.signing_key`), over this
  query, Q, D, the count and the digest of the points received.

What a deviating coordinator can and cannot get. Whatever X it sends D, it gets k_D*X from D and,
with D's signature, k_D*k_Q^-1*X from Q: every point Q unblinds carries k_D, which only D holds
(drawn per query, forgotten when it ends).
- It cannot get H(x) for D's list, nor H(y) or c*H(y) for Q's set: each needs an X = k_D^-1*P
  for a P it knows, that is, k_D.
- It gets k_D*H(y) for Q's elements (what the honest protocol gives it) and, by sending
  c*k_Q*H(y) to D, c*k_D*H(y) for a c it chose: nothing it could not compute from k_D*H(y).
- It cannot change points after D signed them (digest), move a signature to another query,
  querier or owner, or have a second set unblinded for the same owner.
- It can make D re-blind points of its choosing once per query; D's key is fresh per query.
D colluding with the coordinator is outside the model (D holds k_D, and with k_D*H(y) could test
Q's members); so is Q colluding with it. Nodes run with `insecure_no_policy` have no partner keys:
they apply every check above except the signature (local tests only).
"""

from __future__ import annotations

import hashlib
import json
import threading

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from model.errors import SignatureRefused
from node.governance import NodeGovernance
from node.refusals import QueryRefusals
from node.sessions import QuerySession, SessionStore

UNBLIND_VERSION = "gongying/unblind/v1"
RULE = "unblind"


def reblind_statement(query_id: str, querier: str, owner: str, count: int, digest: bytes) -> bytes:
    """The bytes D signs for its re-blinding of Q's set: sorted-key compact JSON, UTF-8."""
    document = {
        "v": UNBLIND_VERSION,
        "query_id": query_id,
        "querier": querier,
        "owner": owner,
        "count": count,
        "digest": digest.hex(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_reblinding(
    key: Ed25519PrivateKey, query_id: str, querier: str, owner: str, points: bytes
) -> bytes:
    """D's signature over the points it returns from re-blinding `querier`'s set."""
    statement = reblind_statement(
        query_id, querier, owner, len(points) // 32, hashlib.sha256(points).digest()
    )
    return key.sign(statement)


def reblinding_signed(
    key: Ed25519PublicKey,
    signature: bytes,
    query_id: str,
    querier: str,
    owner: str,
    points: bytes,
) -> bool:
    """Whether `owner` signed exactly `points` as its re-blinding of `querier`'s set."""
    statement = reblind_statement(
        query_id, querier, owner, len(points) // 32, hashlib.sha256(points).digest()
    )
    try:
        key.verify(signature, statement)
    except InvalidSignature:
        return False
    return True


class Unblinding:
    """One node's two ends of the binding: the owner's signature, the querier's checks."""

    def __init__(
        self,
        party: str,
        governance: NodeGovernance,
        signing_key: Ed25519PrivateKey | None,
        sessions: SessionStore | None = None,
    ) -> None:
        self.party = party
        self.governance = governance
        self.signing_key = signing_key
        self.refusals = QueryRefusals(governance, sessions)
        self._lock = threading.Lock()

    def signs(self, session: QuerySession) -> bool:
        """Whether this node signs its re-blinding in `session` (a profile owner with a key)."""
        owner = session.kind == "profile" and session.role == "owner"
        return owner and self.signing_key is not None

    def owner_signature(self, session: QuerySession, set_owner: str, points: bytes) -> bytes:
        """As owner of a profile query: sign the re-blinded querier set, once per query.

        Nothing is signed in any other session, or by a node without a `signing_key`.
        """
        if not self.signs(session) or self.signing_key is None:
            return b""
        with self._lock:
            if session.reblind_signed:
                self.refusals.refuse(
                    session,
                    RULE,
                    f"{self.party} re-blinds the querier's set once per query; query "
                    f"{session.query_id} asked again (for {set_owner or 'an unnamed party'}'s set)",
                )
            session.reblind_signed = True
        return sign_reblinding(self.signing_key, session.query_id, set_owner, self.party, points)

    def check(
        self,
        session: QuerySession,
        set_owner: str,
        owner: str,
        signature: bytes,
        points: bytes,
    ) -> None:
        """As querier: refuse (audited) unless `points` are this node's own set as `owner`
        re-blinded and signed it for this query, and not unblinded for `owner` before."""
        where = f"query {session.query_id}"
        if session.kind != "profile" or session.role != "querier":
            self.refusals.refuse(
                session,
                RULE,
                f"{self.party} takes its key off only its own set as an owner re-blinded it in "
                f"a profile query it asks; refused in its {session.role} session of {where}",
            )
        if set_owner != self.party:
            self.refusals.refuse(
                session,
                RULE,
                f"{self.party} takes its key off its own set only, not off the set of "
                f"{set_owner or 'an unnamed party'} ({where})",
            )
        if owner == self.party or owner not in session.parties:
            self.refusals.refuse(
                session,
                RULE,
                f"{self.party} unblinds only sets re-blinded by an owner of {where}; "
                f"{owner or 'no owner'!r} is not one",
            )
        size = len(session.elements)
        if len(points) != 32 * size:
            self.refusals.refuse(
                session,
                RULE,
                f"{self.party} unblinds exactly its own {size} points in {where}; "
                f"{len(points) // 32} arrived",
            )
        if self.governance.policy is not None:
            key = self.refusals.partner_key(session, owner, f"{owner}'s re-blinding")
            if not signature:
                self.refusals.refuse(
                    session,
                    RULE,
                    f"{owner} signed no re-blinding for {where}; set signing_key in {owner}'s "
                    "node config",
                    SignatureRefused,
                )
            if not reblinding_signed(key, signature, session.query_id, self.party, owner, points):
                self.refusals.refuse(
                    session,
                    RULE,
                    f"the points to unblind in {where} are not those {owner} signed as its "
                    f"re-blinding of {self.party}'s set",
                    SignatureRefused,
                )
        with self._lock:
            if owner in session.unblinded_for:
                self.refusals.refuse(
                    session,
                    RULE,
                    f"{self.party} already unblinded the set re-blinded by {owner} in {where} "
                    "(once per owner)",
                )
            session.unblinded_for.add(owner)
