"""Mutual TLS over real loopback gRPC: who may call a node and the coordinator, and who not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import grpc
import pytest
from typer.testing import CliRunner

from client.sdk import ClientTLS, CoordinatorClient, QueryError
from connectors.identifiers import NormalisationProfile
from coordinator.config import CoordinatorConfig
from coordinator.server import CoordinatorServer, start_coordinator
from gongying.cli import app
from gongying.demo_data import generate_demo_data
from gongying.launch import LaunchError, wait_healthy
from node.server import NodeServer, start_node
from runtime.certs import CertSet
from runtime.serving import channel
from tests.integration.deployment import node_config, source_for
from tests.security.conftest import tls_of
from wire.v1 import node_pb2, node_pb2_grpc

NODES = ("brand", "retailer_a")


class Secured:
    """Two mTLS nodes and an mTLS coordinator that also lets the client `analyst` in."""

    def __init__(self, nodes: dict[str, NodeServer], coordinator: CoordinatorServer) -> None:
        self.nodes = nodes
        self.coordinator = coordinator

    def open_sessions(self) -> dict[str, int]:
        return {p: n.service.sessions.open_count() for p, n in self.nodes.items()}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, certs: CertSet) -> Iterator[Secured]:
    root = tmp_path_factory.mktemp("mtls")
    data = generate_demo_data(root / "data", members=60, seed=5)
    nodes: dict[str, NodeServer] = {}
    try:
        for party in NODES:
            config = node_config(party, source_for("csv", data.paths[party], root))
            secure = replace(config, insecure_plaintext=False, tls=tls_of(certs, party))
            nodes[party] = start_node(secure)
        coordinator = start_coordinator(
            CoordinatorConfig(
                listen="127.0.0.1:0",
                parties={p: n.address for p, n in nodes.items()},
                deadline_seconds=60,
                workers=0,
                tls=tls_of(certs, "coordinator"),
                clients=("analyst",),
            )
        )
    except BaseException:
        for node in nodes.values():
            node.stop(grace=0)
        raise
    yield Secured(nodes, coordinator)
    coordinator.stop(grace=1)
    for node in nodes.values():
        node.stop(grace=1)


def _open_request(query_id: str) -> node_pb2.OpenSessionRequest:
    return node_pb2.OpenSessionRequest(
        query_id=query_id,
        kind=node_pb2.QUERY_KIND_OVERLAP,
        id_type="email",
        profile_version=NormalisationProfile().label(),
        parties=list(NODES),
        role=node_pb2.SESSION_ROLE_MEMBER,
    )


def _open_at_node(node: NodeServer, credentials: grpc.ChannelCredentials, query_id: str) -> None:
    options = [("grpc.ssl_target_name_override", node.config.party)]
    with grpc.secure_channel(node.address, credentials, options=options) as open_channel:
        node_pb2_grpc.PartyNodeStub(open_channel).OpenSession(_open_request(query_id), timeout=10)


def test_overlap_over_mutual_tls(secured: Secured, certs: CertSet) -> None:
    with CoordinatorClient(
        secured.coordinator.address,
        ClientTLS(certs.ca, certs.parties["brand"].cert, certs.parties["brand"].key),
    ) as client:
        result = client.overlap(list(NODES), "email")
    assert result.parties == NODES
    assert (result.all_parties or 0) > 0
    assert secured.open_sessions() == dict.fromkeys(NODES, 0)


def test_coordinator_identity_may_open_a_session(secured: Secured, certs: CertSet) -> None:
    """The control for the refusals below: the same request with the coordinator's cert works."""
    node = secured.nodes["retailer_a"]
    _open_at_node(node, tls_of(certs, "coordinator").channel_credentials(), "control")
    assert node.service.sessions.open_count() == 1
    with channel(node.address, tls_of(certs, "coordinator"), "retailer_a") as open_channel:
        node_pb2_grpc.PartyNodeStub(open_channel).CloseSession(
            node_pb2.CloseSessionRequest(query_id="control"), timeout=10
        )
    assert node.service.sessions.open_count() == 0


def test_unlisted_identity_is_refused_before_any_work(secured: Secured, certs: CertSet) -> None:
    node = secured.nodes["retailer_a"]
    for party in ("brand", "intruder"):  # a CA-signed party, but not the coordinator
        with pytest.raises(grpc.RpcError) as caught:
            _open_at_node(node, tls_of(certs, party).channel_credentials(), f"by-{party}")
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert repr(party) in (caught.value.details() or "")
        assert "coordinator" in (caught.value.details() or "")
    assert secured.open_sessions() == dict.fromkeys(NODES, 0)


def test_certificate_from_another_ca_is_refused(
    secured: Secured, certs: CertSet, foreign_certs: CertSet
) -> None:
    node = secured.nodes["retailer_a"]
    # the foreign "brand" cert trusting our CA, so only the client side is wrong
    foreign = tls_of(foreign_certs, "brand", ca=certs.ca)
    with pytest.raises(grpc.RpcError) as caught:
        _open_at_node(node, foreign.channel_credentials(), "foreign")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    foreign_coordinator = tls_of(foreign_certs, "coordinator", ca=certs.ca)
    with pytest.raises(grpc.RpcError) as caught:
        _open_at_node(node, foreign_coordinator.channel_credentials(), "foreign-coordinator")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert secured.open_sessions() == dict.fromkeys(NODES, 0)


def test_client_without_certificate_is_refused(secured: Secured, certs: CertSet) -> None:
    node = secured.nodes["retailer_a"]
    no_cert = grpc.ssl_channel_credentials(root_certificates=certs.ca.read_bytes())
    with pytest.raises(grpc.RpcError) as caught:
        _open_at_node(node, no_cert, "anonymous")
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(node.address) as plain, pytest.raises(grpc.RpcError) as caught:
        node_pb2_grpc.PartyNodeStub(plain).OpenSession(_open_request("plain"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert secured.open_sessions() == dict.fromkeys(NODES, 0)


def test_coordinator_refuses_unlisted_caller(secured: Secured, certs: CertSet) -> None:
    with (
        CoordinatorClient(secured.coordinator.address, tls_of(certs, "intruder")) as client,
        pytest.raises(QueryError) as caught,
    ):
        client.overlap(list(NODES), "email")
    assert caught.value.code == "PERMISSION_DENIED"
    assert "'intruder'" in str(caught.value)
    assert secured.open_sessions() == dict.fromkeys(NODES, 0)


def test_coordinator_admits_listed_client(secured: Secured, certs: CertSet) -> None:
    """`analyst` is no party, but coordinator.toml lists it in `clients`."""
    with CoordinatorClient(secured.coordinator.address, tls_of(certs, "analyst")) as client:
        assert set(client.parties()) == set(NODES)


def test_coordinator_with_foreign_certificate_is_refused(
    secured: Secured, certs: CertSet, foreign_certs: CertSet
) -> None:
    foreign = tls_of(foreign_certs, "brand", ca=certs.ca)
    with (
        CoordinatorClient(secured.coordinator.address, foreign) as client,
        pytest.raises(QueryError) as caught,
    ):
        client.parties(timeout=5)
    assert caught.value.code == "UNAVAILABLE"


def test_coordinator_checks_the_node_is_who_it_says(secured: Secured, certs: CertSet) -> None:
    """A coordinator told retailer_a lives at the brand's address refuses the brand's cert."""
    swapped = start_coordinator(
        CoordinatorConfig(
            listen="127.0.0.1:0",
            parties={
                "brand": secured.nodes["brand"].address,
                "retailer_a": secured.nodes["brand"].address,
            },
            deadline_seconds=20,
            workers=0,
            tls=tls_of(certs, "coordinator"),
        )
    )
    try:
        with (
            CoordinatorClient(swapped.address, tls_of(certs, "brand")) as client,
            pytest.raises(QueryError) as caught,
        ):
            client.overlap(list(NODES), "email")
    finally:
        swapped.stop(grace=0)
    assert caught.value.code == "UNAVAILABLE"
    assert "retailer_a" in str(caught.value)
    assert secured.open_sessions() == dict.fromkeys(NODES, 0)


def test_health_needs_a_ca_certificate_but_any_identity(secured: Secured, certs: CertSet) -> None:
    node = secured.nodes["retailer_a"]
    wait_healthy(node.address, 10, tls=tls_of(certs, "intruder"), server_name="retailer_a")
    wait_healthy(secured.coordinator.address, 10, tls=tls_of(certs, "intruder"))
    with pytest.raises(LaunchError):
        wait_healthy(node.address, 1.5)


def test_cli_query_over_mutual_tls(secured: Secured, certs: CertSet) -> None:
    brand = certs.parties["brand"]
    tls_args = ["--ca", str(certs.ca), "--cert", str(brand.cert), "--key", str(brand.key)]
    base = ["query", "overlap", "--coordinator", secured.coordinator.address]
    result = CliRunner().invoke(app, [*base, "--parties", "brand,retailer_a", "--json", *tls_args])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["parties"] == list(NODES)
    partial = CliRunner().invoke(app, [*base, "--parties", "brand,retailer_a", *tls_args[:2]])
    assert partial.exit_code == 2
    assert "--ca, --cert and --key go together" in partial.stderr
    plain = CliRunner().invoke(app, [*base, "--parties", "brand,retailer_a"])
    assert plain.exit_code == 2
    assert "requires mutual TLS: pass --ca, --cert and --key" in plain.stderr
