"""Refusing a query part-way at this node: audited against its admission, its session dropped."""

from __future__ import annotations

from typing import NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from model.errors import GovernanceRefusal, NotPermitted
from node.governance import NodeGovernance
from node.partner_keys import PartnerKeys
from node.sessions import QuerySession, SessionStore


class QueryRefusals:
    """One node's refusals of a query step: each is logged with its rule (which settles the
    admission), the session is closed (`sessions`, where given) and the refusal raised."""

    def __init__(self, governance: NodeGovernance, sessions: SessionStore | None) -> None:
        self.governance = governance
        self.sessions = sessions
        self.keys = PartnerKeys(governance)

    def refuse(
        self,
        session: QuerySession,
        rule: str,
        message: str,
        kind: type[GovernanceRefusal] = NotPermitted,
    ) -> NoReturn:
        """Refuse `session`'s query under `rule`, saying why in `message` (a refusal of `kind`)."""
        refusal = kind(rule, message)
        if session.admission is not None:
            self.governance.refuse(session.admission, refusal)
        if self.sessions is not None:
            self.sessions.close(session.query_id)
        raise refusal

    def partner_key(self, session: QuerySession, party: str, needed_for: str) -> Ed25519PublicKey:
        """`party`'s verify key from the policy; refused as above when it has none."""
        try:
            return self.keys.key(party, needed_for)
        except GovernanceRefusal as refusal:
            self.refuse(session, refusal.rule, str(refusal), type(refusal))
