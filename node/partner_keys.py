"""Partners' Ed25519 verify keys as the owner's policy names them, each loaded once."""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from model.errors import SignatureRefused
from node.governance import NodeGovernance
from runtime.signing import SignedQueryError, load_verify_key


class PartnerKeys:
    """The keys under `partners.<party>.signing_key`; a missing or unreadable one is a refusal
    (`SignatureRefused`, rule `partners.<party>.signing_key`) saying what it was needed for."""

    def __init__(self, governance: NodeGovernance) -> None:
        self.governance = governance
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._lock = threading.Lock()

    def key(self, party: str, needed_for: str) -> Ed25519PublicKey:
        """`party`'s verify key, to check `needed_for` (e.g. "retailer_a's re-blinding")."""
        policy = self.governance.policy
        assert policy is not None
        terms = policy.partners.get(party)
        rule = f"partners.{party}.signing_key"
        if terms is None or terms.signing_key is None:
            raise SignatureRefused(
                rule,
                f"{self.governance.party} cannot check {needed_for}: set {rule} in "
                f"{policy.path or 'its policy'} (the path of {party}.sign.pub)",
            )
        with self._lock:
            key = self._keys.get(party)
        if key is None:
            try:
                key = load_verify_key(terms.signing_key)
            except SignedQueryError as error:
                raise SignatureRefused(rule, f"{rule}: {error}") from None
            with self._lock:
                self._keys[party] = key
        return key
