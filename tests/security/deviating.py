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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from client.sdk import ClientTLS, CoordinatorClient, QuerySigner
from connectors.identifiers import NormalisationProfile
from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.demo_data import generate_demo_data
from gongying.demo_profile import ATTRIBUTES, attributes_toml
from gongying.launch import free_port
from node.config import load_node_config
from node.server import NodeServer, start_node
from protocols.indicators import encrypt_indicators
from protocols.masks import MaskTable, build_mask_table, generate_masks
from protocols.matching import matched_positions, sorted_reference
from protocols.paillier import PaillierPublicKey, encrypt
from runtime.audit import StoredRecord
from runtime.certs import COORDINATOR, CertSet, init_certs
from runtime.serving import channel
from wire.streams import frame, point_messages, read_header, unframe
from wire.v1 import coordinator_pb2_grpc, node_pb2, node_pb2_grpc, points_pb2, query_pb2

BRAND, RETAILER_A, RETAILER_B = "brand", "retailer_a", "retailer_b"
OWNERS = (RETAILER_A, RETAILER_B)
PARTIES = (BRAND, *OWNERS)
ANALYST = "analyst"
PROFILE_ATTRIBUTES = tuple(ATTRIBUTES)


def _policy(party: str) -> str:
    text = (
        '[defaults]\nquery_kinds = ["overlap", "profile"]\nid_types = ["email"]\n'
        "min_cohort = 5\nmin_counterparty_set = 1\nqueries_per_day = 100000\n"
        # exact answers (compared with the truth), an explicit opt-in with its floor k >= 5;
        # either owner may appear in brand's queries
        'exact = true\nco_parties = ["*"]\nmax_concurrent = 100\n'
    )
    partners = OWNERS if party == BRAND else (BRAND,)
    attributes = ", ".join(f'"{a}"' for a in ATTRIBUTES)
    for partner in partners:
        text += f'\n[partners.{partner}]\nsigning_key = "certs/{partner}.sign.pub"\n'
        if party != BRAND:
            text += f"attributes = [{attributes}]\n"
    return text


def _node_toml(party: str, port: int, data: Path) -> str:
    extra = attributes_toml() if party != BRAND else ""
    if party == BRAND:
        extra = '[paillier]\nkey_file = "brand.paillier.json"\nbits = 2048\n'
    return f"""party = "{party}"
listen = "127.0.0.1:{port}"
workers = 1
policy = "{party}.policy.toml"
signing_key = "certs/{party}.sign.key"

[tls]
ca = "certs/ca.pem"
cert = "certs/{party}.pem"
key = "certs/{party}.key"

[source]
kind = "csv"
path = "{data}"

[identifiers]
email = "email"
phone = "phone"

{extra}"""


@dataclass
class Deployment:
    """Running nodes and coordinator, their files, and the coordinator's view of the nodes."""

    root: Path
    certs: CertSet
    paths: dict[str, Path]
    ports: dict[str, int]
    nodes: dict[str, NodeServer] = field(default_factory=dict)
    coordinator: CoordinatorServer | None = None

    def tls(self, party: str) -> ClientTLS:
        files = self.certs.parties[party]
        return ClientTLS(self.certs.ca, files.cert, files.key)

    def start_node(self, party: str) -> NodeServer:
        node = start_node(load_node_config(self.root / f"{party}.toml"))
        self.nodes[party] = node
        return node

    def stop_node(self, party: str) -> None:
        self.nodes.pop(party).stop(grace=1.0)

    def client(self, party: str, signer: str = BRAND) -> CoordinatorClient:
        """A client presenting `party`'s certificate and submitting queries `signer` signs."""
        assert self.coordinator is not None
        key = self.certs.parties[signer].sign_key
        return CoordinatorClient(
            self.coordinator.address, self.tls(party), signer=QuerySigner.from_file(signer, key)
        )

    def coordinator_stub(self, party: str) -> coordinator_pb2_grpc.CoordinatorStub:
        assert self.coordinator is not None
        return coordinator_pb2_grpc.CoordinatorStub(
            channel(self.coordinator.address, self.tls(party), server_name=COORDINATOR)
        )

    def node(self, party: str) -> node_pb2_grpc.PartyNodeStub:
        """Call a node as the coordinator does (its certificate), free to deviate."""
        return node_pb2_grpc.PartyNodeStub(
            channel(f"127.0.0.1:{self.ports[party]}", self.tls(COORDINATOR), server_name=party)
        )

    def records(self, party: str, query_id: str) -> list[StoredRecord]:
        if party == COORDINATOR:
            assert self.coordinator is not None and self.coordinator.service.audit is not None
            return list(self.coordinator.service.audit.records(query_id=query_id))
        audit = self.nodes[party].service.governance.audit
        assert audit is not None
        return list(audit.records(query_id=query_id))

    def stop(self) -> None:
        if self.coordinator is not None:
            self.coordinator.stop(grace=1.0)
        for node in self.nodes.values():
            node.stop(grace=1.0)
        self.nodes.clear()


def start_deployment(root: Path, members: int = 400) -> Deployment:
    """Write certificates, data, policies and configs; start the nodes and the coordinator."""
    certs = init_certs(root / "certs", [*PARTIES, ANALYST], days=2)
    data = generate_demo_data(root / "data", members=members, seed=11)
    paths = {p: data.paths[p] for p in PARTIES}
    deployment = Deployment(root, certs, paths, {p: free_port() for p in PARTIES})
    try:
        for party in PARTIES:
            (root / f"{party}.policy.toml").write_text(_policy(party))
            config = _node_toml(party, deployment.ports[party], paths[party])
            (root / f"{party}.toml").write_text(config)
            deployment.start_node(party)
        deployment.coordinator = start_coordinator(
            CoordinatorConfig(
                listen="127.0.0.1:0",
                parties={p: f"127.0.0.1:{port}" for p, port in deployment.ports.items()},
                deadline_seconds=60,
                workers=1,
                tls=deployment.tls(COORDINATOR),
                clients=(ANALYST,),
                acting_for={ANALYST: (BRAND,)},
                audit_log=str(root / "coordinator.audit.db"),
                signing_key=certs.parties[COORDINATOR].sign_key,
            )
        )
    except BaseException:
        deployment.stop()
        raise
    return deployment


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
