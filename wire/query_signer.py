"""A querier's signer: its Ed25519 key signing query fields into the wire's SignedQuery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocols.group_names import DEFAULT_GROUPS
from runtime.signing import Segment, load_signing_key, new_query_fields, sign_query
from wire.v1 import query_pb2


@dataclass(frozen=True)
class QuerySigner:
    """Signs queries as `party` with its Ed25519 query-signing key (<party>.sign.key)."""

    party: str
    key: Ed25519PrivateKey

    @classmethod
    def from_file(cls, party: str, path: Path) -> QuerySigner:
        return cls(party, load_signing_key(path))

    def sign(
        self,
        query_id: str,
        kind: str,
        parties: Sequence[str],
        id_type: str,
        owners: Sequence[str] = (),
        attributes: Sequence[str] = (),
        audience: str = "shared",
        agreement: str = "",
        segment: Segment | None = None,
        groups: Sequence[str] = DEFAULT_GROUPS,
    ) -> query_pb2.SignedQuery:
        fields = new_query_fields(
            query_id,
            kind,
            self.party,
            parties,
            id_type,
            owners=owners,
            attributes=attributes,
            audience=audience,
            agreement=agreement,
            segment=segment,
            groups=groups,
        )
        signed = sign_query(fields, self.key)
        return query_pb2.SignedQuery(
            payload=signed.payload, signature=signed.signature, signer=signed.signer
        )
