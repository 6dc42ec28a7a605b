"""The querier's Paillier key at a node: kept on disk, bound to each query by signature, checked.

The querier's node generates its key pair once (gmpy2, ``protocols.paillier``) and, for every
profile query it opens as querier, signs ``key_binding_statement(query_id, n)`` with its party's
Ed25519 query-signing key (node config ``signing_key``, the key it signs queries with). An owner
node accepts the modulus only when it passes ``check_querier_modulus`` and, under a policy, when
that signature verifies under the querier's verify key from the policy
(``partners.<querier>.signing_key``): a coordinator that substitutes its own key, or replays a
key signed for another query, is refused. Without a policy (``insecure_no_policy``, local tests
only) no verify key is known, so the signature is not checked; the structural checks still are.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from model.errors import GovernanceRefusal, QuerierKeyTooWeak, SignatureRefused
from node.governance import Admission, NodeGovernance
from protocols.paillier import PaillierPrivateKey, PaillierPublicKey, generate_keypair
from protocols.querier_keys import WeakQuerierKey, check_querier_modulus, key_binding_statement
from runtime.signing import load_verify_key

KEY_RULE = "querier_key"
"""The audit rule named when a querier's key is refused."""


class UnboundQuerierKey(ValueError):
    """The querier's key is not the one the querier signed for this query (names why)."""


def load_or_create_key(path: Path, bits: int) -> PaillierPrivateKey:
    """Read the key file, or generate a `bits`-bit key pair and write it with mode 0600."""
    if path.exists():
        return PaillierPrivateKey.from_json(path.read_text())
    _, private_key = generate_keypair(bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(private_key.to_json())
    return private_key


class KeyBindingSigner:
    """Signs the querier's key for each query with the party's query-signing key, if it has one.

    A node without ``signing_key`` returns an empty signature: owners without a policy accept
    that; owners with a policy refuse it.
    """

    def __init__(self, signing_key: Ed25519PrivateKey | None) -> None:
        self.key = signing_key

    def sign(self, query_id: str, public_key: PaillierPublicKey) -> bytes:
        if self.key is None:
            return b""
        return self.key.sign(key_binding_statement(query_id, public_key))


def verify_key_binding(
    governance: NodeGovernance,
    querier: str,
    query_id: str,
    public_key: PaillierPublicKey,
    signature: bytes,
) -> None:
    """Raise ``UnboundQuerierKey`` unless `querier` signed this key for this query.

    The verify key is the querier's from this node's policy; without a policy there is none to
    check against, and the key is taken as given (insecure local tests only).
    """
    policy = governance.policy
    if policy is None:
        return
    key: Ed25519PublicKey | None
    where: str
    if querier == governance.party:
        key, where = governance.own_key, f"{governance.party}'s own signing key"
    else:
        partner = policy.partner_for_identity(querier)
        terms = policy.partners.get(partner) if partner else None
        path = terms.signing_key if terms is not None else None
        key = load_verify_key(path) if path is not None else None
        where = f"partners.{partner or querier}.signing_key"
    if key is None:
        raise UnboundQuerierKey(f"no verify key for querier {querier!r}: set {where}")
    if not signature:
        raise UnboundQuerierKey(
            f"the key carries no signature by querier {querier!r} "
            f"(the querier's node needs signing_key in its config)"
        )
    try:
        key.verify(signature, key_binding_statement(query_id, public_key))
    except InvalidSignature:
        raise UnboundQuerierKey(
            f"the key is not the one querier {querier!r} signed for query {query_id!r} "
            f"(its signature does not verify under {where})"
        ) from None


def accept_querier_key(
    governance: NodeGovernance,
    admission: Admission,
    query_id: str,
    modulus: int | None,
    signature: bytes,
) -> PaillierPublicKey:
    """The querier's key for an owner session, or a refusal (audited with rule ``querier_key``).

    The modulus must pass ``check_querier_modulus`` and be the one the querier signed for this
    query (``verify_key_binding``).
    """
    querier = admission.querier
    who = f"querier {querier!r}" if querier else "the querier (unnamed: the query is not signed)"
    try:
        public_key = check_querier_modulus(modulus or 0)
        verify_key_binding(governance, querier, query_id, public_key, signature)
    except WeakQuerierKey as error:
        kind: type[GovernanceRefusal] = QuerierKeyTooWeak
        message = str(error)
    except UnboundQuerierKey as error:
        kind, message = SignatureRefused, str(error)
    else:
        return public_key
    refusal = kind(
        KEY_RULE,
        f"{governance.party} refuses the Paillier key of {who}: {message}",
    )
    governance.refuse(admission, refusal)
    raise refusal
