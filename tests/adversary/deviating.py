"""A governed mutual-TLS deployment for attacking it as a deviating coordinator would.

brand (querier, Paillier key) and two owners, retailer_a and retailer_b (the demo attributes),
on fixed loopback ports so a node can be restarted in place; each with a policy (owners answer
brand's overlap and profile queries, exact (k = 5, no noise); brand lists the owners with their
query-signing keys), an audit log, a ledger and a signing key. The coordinator admits the client
`analyst`, which may submit queries brand signed (`[acting_for]`). Queries are built here as the
coordinator would send them, so a test can deviate at any step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from client.sdk import CoordinatorClient, QuerySigner
from connectors.identifiers import NormalisationProfile
from gongying.demo_data import generate_demo_data
from gongying.demo_profile import ATTRIBUTES, DEMO_ATTRIBUTES
from protocols.indicators import encrypt_indicators
from protocols.masks import MaskTable, build_mask_table, generate_masks
from protocols.matching import matched_positions, sorted_reference
from protocols.paillier import PaillierPublicKey, encrypt
from runtime.config_writer import PolicyTerms
from tests.cluster import EMAIL_PHONE, EXACT, Cluster, Party, start_cluster
from wire.streams import frame, point_messages, read_header, unframe
from wire.v1 import node_pb2, node_pb2_grpc, points_pb2, query_pb2

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
OWNERS = (RETAILER_A, RETAILER_B)
PARTIES = (BRAND, *OWNERS)
ANALYST = "analyst"
PROFILE_ATTRIBUTES = tuple(ATTRIBUTES)


EXACT_TERMS: PolicyTerms = {**EXACT, "max_concurrent": 100}


@dataclass
class Deployment(Cluster):
    """Running nodes and coordinator on fixed ports, their files, and the data behind them."""

    @property
    def paths(self) -> dict[str, Path]:
        return {p: Path(str(spec.source.path)) for p, spec in self.parties.items()}

    @property
    def ports(self) -> dict[str, int]:
        return {p: int(address.rpartition(":")[2]) for p, address in self.listen.items()}

    def client(
        self, party: str, signer: str | None = BRAND, signed: bool = True
    ) -> CoordinatorClient:
        """A client presenting `party`'s certificate and submitting queries `signer` signs."""
        return super().client(party, signer, signed)

    def node(self, party: str) -> node_pb2_grpc.PartyNodeStub:
        """Call a node as the coordinator does (its certificate), free to deviate."""
        return self.node_stub(party)


def start_deployment(root: Path, members: int = 400) -> Deployment:
    """Write certificates, data, policies and configs; start the nodes and the coordinator."""
    data = generate_demo_data(root / "data", members=members, seed=11)
    owner_terms: PolicyTerms = {"attributes": list(ATTRIBUTES)}
    parties = [
        Party(
            party,
            data.paths[party],
            EMAIL_PHONE,
            attributes=DEMO_ATTRIBUTES if party in OWNERS else (),
            paillier_bits=2048 if party == BRAND else None,
            partners={o: {} for o in OWNERS} if party == BRAND else {BRAND: owner_terms},
            defaults=EXACT_TERMS,
            fixed_port=True,
        )
        for party in PARTIES
    ]
    return start_cluster(
        root,
        parties,
        kind=Deployment,
        identities=[ANALYST],
        clients=[ANALYST],
        acting_for={ANALYST: (BRAND,)},
    )


def signed_profile(deployment: Deployment, query_id: str, owners: Sequence[str] = OWNERS) -> (
    query_pb2.SignedQuery
):  # fmt: skip
    """brand's signature on a profile query over `owners`."""
    signer = QuerySigner.from_file(BRAND, deployment.certs.parties[BRAND].sign_key)
    return signer.sign(
        query_id, "profile", [BRAND, *owners], "email", owners=owners,
        attributes=PROFILE_ATTRIBUTES,
    )  # fmt: skip


def open_profile(
    deployment: Deployment, query_id: str, owners: Sequence[str] = OWNERS
) -> dict[str, node_pb2.OpenSessionResponse]:
    """Open brand's querier session and each owner's session, as the coordinator does."""
    signed = signed_profile(deployment, query_id, owners)
    base = node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=node_pb2.QUERY_KIND_PROFILE,
        id_type="email",
        profile_version=NormalisationProfile().label(),
        parties=[BRAND, *owners],
        signed=signed,
        role=node_pb2.SESSION_ROLE_QUERIER,
    )
    opened = {BRAND: deployment.node(BRAND).OpenSession(base)}
    for owner in owners:
        request = node_pb2.OpenSessionRequest()
        request.CopyFrom(base)
        request.role = node_pb2.SESSION_ROLE_OWNER
        request.attributes.extend(PROFILE_ATTRIBUTES)
        request.paillier_n = opened[BRAND].paillier_n
        request.paillier_key_signature = opened[BRAND].paillier_key_signature
        opened[owner] = deployment.node(owner).OpenSession(request)
    return opened


def read_points(
    replies: Iterator[points_pb2.PointMessage],
) -> tuple[points_pb2.StreamHeader, bytes]:
    """A node's point stream, read whole: its header and its points."""
    header = read_header(replies, "node reply")
    return header, b"".join(unframe(replies, 32, "points", "node reply"))


def own_set(deployment: Deployment, party: str, query_id: str) -> bytes:
    """`party`'s blinded set for the query (StreamOwnSet)."""
    stub = deployment.node(party)
    return read_points(stub.StreamOwnSet(node_pb2.StreamOwnSetRequest(query_id=query_id)))[1]


def reblind(
    deployment: Deployment, party: str, header: points_pb2.StreamHeader, points: bytes
) -> tuple[points_pb2.StreamHeader, bytes]:
    """Send `points` under `header` to `party`'s Reblind and read the reply whole."""
    return read_points(deployment.node(party).Reblind(point_messages(header, iter((points,)))))


def querier_key(opened: Mapping[str, node_pb2.OpenSessionResponse]) -> PaillierPublicKey:
    """brand's Paillier public key as its OpenSession returned it."""
    return PaillierPublicKey(int.from_bytes(opened[BRAND].paillier_n, "big"))


_MASK_TABLES: dict[int, MaskTable] = {}


def _masks(public_key: PaillierPublicKey, count: int) -> list[int]:
    """Fresh masks from a fixed-base table built once per key (as the coordinator's supply)."""
    table = _MASK_TABLES.get(public_key.n)
    if table is None:
        table = _MASK_TABLES.setdefault(public_key.n, build_mask_table(public_key))
    return generate_masks(table, count)


def owner_aggregate(
    deployment: Deployment,
    query_id: str,
    owner: str,
    public_key: PaillierPublicKey,
    select: Callable[[np.ndarray], np.ndarray] | None = None,
    rows: int | None = None,
) -> node_pb2.AggregateResponse:
    """The coordinator's steps for one owner of an opened profile query: brand's set re-blinded
    by `owner` and unblinded by brand, `owner`'s list matched, indicators encrypted (0/1 on the
    matches, or `select(matches)` for a deviating coordinator: 0/1 or integer weights) and
    aggregated by `owner`; its signed aggregate as the coordinator receives it. With `rows` (the
    owner's set size) the matching is skipped and every indicator is Enc(0)."""
    if rows is not None:
        indicators = np.zeros(rows, dtype=bool)
    else:
        mine = own_set(deployment, BRAND, query_id)
        first = points_pb2.StreamHeader(query_id=query_id, set_owner=BRAND)
        signed, both = reblind(deployment, owner, first, mine)
        unblind = points_pb2.StreamHeader(
            query_id=query_id,
            set_owner=BRAND,
            unblind=True,
            reblinded_by=owner,
            reblind_signature=signed.reblind_signature,
        )
        reference = sorted_reference(reblind(deployment, BRAND, unblind, both)[1])
        matched = matched_positions(own_set(deployment, owner, query_id), reference)
        indicators = select(matched) if select is not None else matched
    masks = _masks(public_key, len(indicators))
    if indicators.dtype == bool:
        ciphertexts = encrypt_indicators(public_key, indicators, masks)
    else:  # integer weights: what a deviating coordinator may encrypt instead of 0/1
        width = public_key.ciphertext_width
        ciphertexts = b"".join(
            encrypt(public_key, int(w), m).to_bytes(width, "big")
            for w, m in zip(indicators.tolist(), masks, strict=True)
        )
    header = node_pb2.IndicatorMessage(
        header=node_pb2.IndicatorHeader(query_id=query_id, key_fingerprint=public_key.fingerprint())
    )
    body = frame(
        iter((ciphertexts,)),
        public_key.ciphertext_width,
        lambda seq, data: node_pb2.IndicatorMessage(
            chunk=node_pb2.CiphertextChunk(seq=seq, ciphertexts=data)
        ),
        lambda trailer: node_pb2.IndicatorMessage(trailer=trailer),
    )
    response: node_pb2.AggregateResponse = deployment.node(owner).Aggregate(
        itertools.chain((header,), body)
    )
    return response
