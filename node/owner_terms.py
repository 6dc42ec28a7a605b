"""An owner's release terms for one profile query, signed by the owner and checked by the querier.

Why. The querier's node applies the release rules (node/profile_release.py) under each owner's
terms: its k (`min_cohort`), its noise epsilon (0: exact) and its list size. Named by the
coordinator alone, a deviating coordinator could lower k, or claim exact mode for a noised owner
(no error bars, exact-mode suppression), and read cells the owner's rules hide.

How. Owner D, returning its aggregate of query q, signs with its party's Ed25519 key (node config
`signing_key`) `terms_statement`: the query id, the querier Q, D, its set size, k, epsilon, its
attribute specs as declared, the Paillier key fingerprint and the SHA-256 of exactly the aggregate
ciphertexts it returns. Q verifies it under `partners.<D>.signing_key` from its policy before it
decrypts anything, so changed terms, terms replayed from another query or querier, and cells
swapped under genuine terms are refused (SignatureRefused, rule `owner_terms`, audited). Nodes
run with `insecure_no_policy` have no partner keys: the signature is not checked (local tests).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node.sessions import QuerySession
from protocols.paillier import PaillierPublicKey, ciphertext_to_bytes
from protocols.paillier_attributes import Attribute, CategoricalAttribute
from protocols.plausibility import OwnerTerms
from protocols.profile import OwnerAggregate

TERMS_VERSION = "gongying/owner-terms/v1"


@dataclass(frozen=True)
class SignedAggregate:
    """One owner's aggregate as the coordinator relays it, with the terms the owner signed."""

    aggregate: OwnerAggregate
    terms: OwnerTerms
    signature: bytes


def spec_document(spec: Attribute) -> dict[str, Any]:
    """An attribute's declaration as plain JSON values (what the statement covers)."""
    if isinstance(spec, CategoricalAttribute):
        return {"name": spec.name, "domain": list(spec.domain)}
    return {"name": spec.name, "lower": spec.lower, "upper": spec.upper, "scale": spec.scale}


def aggregate_digest(public_key: PaillierPublicKey, aggregate: OwnerAggregate) -> bytes:
    """SHA-256 of the aggregate's fixed-width ciphertexts in cell order."""
    digest = hashlib.sha256()
    for value in aggregate.ciphertexts():
        digest.update(ciphertext_to_bytes(public_key, value))
    return digest.digest()


def terms_statement(
    query_id: str,
    querier: str,
    terms: OwnerTerms,
    aggregate: OwnerAggregate,
    public_key: PaillierPublicKey,
) -> bytes:
    """The bytes D signs for its terms and aggregate in one query: sorted-key compact JSON."""
    document = {
        "v": TERMS_VERSION,
        "query_id": query_id,
        "querier": querier,
        "owner": terms.party,
        "set_size": terms.set_size,
        "min_cohort": terms.min_cohort,
        "epsilon": repr(float(terms.epsilon)),
        "specs": [spec_document(item.attribute) for item in aggregate.attributes],
        "key": public_key.fingerprint().hex(),
        "cells": aggregate_digest(public_key, aggregate).hex(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def terms_signed(
    key: Ed25519PublicKey,
    query_id: str,
    querier: str,
    signed: SignedAggregate,
    public_key: PaillierPublicKey,
) -> bool:
    """Whether the owner named in `signed.terms` signed exactly these terms and cells."""
    statement = terms_statement(query_id, querier, signed.terms, signed.aggregate, public_key)
    try:
        key.verify(signed.signature, statement)
    except InvalidSignature:
        return False
    return True


def owner_terms(
    session: QuerySession,
    party: str,
    key: Ed25519PrivateKey | None,
    aggregate: OwnerAggregate,
) -> tuple[OwnerTerms, bytes]:
    """As owner: this query's terms and the signature over them and `aggregate` (b"" without
    a signing key)."""
    admission = session.admission
    terms = OwnerTerms(
        party,
        len(session.elements),
        admission.epsilon if admission is not None else 0.0,
        admission.min_cohort if admission is not None else 0,
    )
    if key is None or session.paillier_n is None:
        return terms, b""
    querier = admission.querier if admission is not None else session.parties[0]
    public_key = PaillierPublicKey(session.paillier_n)
    return terms, key.sign(terms_statement(session.query_id, querier, terms, aggregate, public_key))
