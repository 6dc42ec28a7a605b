"""Queriers' signatures at a node: verified under the key its policy lists for the signer, no
replay, and the coordinator's request exactly what the querier signed."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from model.errors import NotPermitted, SignatureRefused
from node.policy import Policy
from runtime.signing import (
    QueryFields,
    ReplayGuard,
    SignedQuery,
    SignedQueryError,
    load_verify_key,
    verify_query,
)


class QuerySignatures:
    """Verifies signed queries for one node; partners' verification keys are loaded once."""

    def __init__(self, party: str, replays: ReplayGuard) -> None:
        self.party = party
        self.replays = replays
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._lock = threading.Lock()

    def verified(
        self,
        signed: SignedQuery | None,
        now: datetime,
        policy: Policy,
        own_key: Ed25519PublicKey | None,
    ) -> QueryFields:
        """The signed fields, if `signed` verifies under its signer's key in `policy` (or this
        node's own key for its own party) and is no replay; refused otherwise."""
        if signed is None or not signed.payload:
            raise SignatureRefused("signed_query", "the query is not signed by its querier")
        if signed.signer == self.party and own_key is not None:
            return self._checked(signed, own_key, now)  # the node's own party asking
        partner = policy.partner_for_identity(signed.signer)
        terms = policy.partners.get(partner) if partner else None
        if terms is None:
            raise NotPermitted(
                "partners",
                f"{signed.signer!r} is not listed as a partner in the policy of {self.party}",
            )
        if terms.signing_key is None:
            raise SignatureRefused(
                f"partners.{terms.name}.signing_key",
                f"no query-signing key is configured for {signed.signer!r} at {self.party}",
            )
        return self._checked(signed, self._key(terms.signing_key), now)

    def _checked(self, signed: SignedQuery, key: Ed25519PublicKey, now: datetime) -> QueryFields:
        try:
            fields = verify_query(signed, key, now)
            self.replays.check(fields, now)
        except SignedQueryError as error:
            raise SignatureRefused("signed_query", str(error)) from None
        return fields

    def _key(self, path: Path) -> Ed25519PublicKey:
        with self._lock:
            key = self._keys.get(str(path))
            if key is None:
                key = load_verify_key(path)
                self._keys[str(path)] = key
            return key


def match_signed(
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
        raise SignatureRefused(
            "signed_query",
            f"the request differs from what {fields.querier} signed: {', '.join(differences)}",
        )
