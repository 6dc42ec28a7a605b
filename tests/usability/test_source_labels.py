"""Nothing about an owner's infrastructure reaches the querier: load reports and errors name the
source by its label. Attacked by reading everything the querier receives for the owner's
database path, table name and column names. Real nodes and coordinator, mutual TLS."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.sdk import ClientTLS, CoordinatorClient, QueryError, QuerySigner
from coordinator.config import load_coordinator_config
from coordinator.server import CoordinatorServer, start_coordinator
from node.config import load_node_config
from node.server import NodeServer, start_node
from tests.usability.conftest import ROWS, Shared, write_node

pytestmark = pytest.mark.slow  # real deployments per test

LOOPBACK = "127.0.0.1:0"
# what the retailer's database would tell about its infrastructure
ATTRIBUTES = (
    '[attributes.age_band]\nkind = "categorical"\ndomain = ["18-24", "25-34", "35-44", "45+"]\n'
)
SECRETS = ("members.db", "sqlite", "members", "phone", "age_band", "/")


@dataclass
class Deployment:
    database: Path
    nodes: list[NodeServer]
    coordinator: CoordinatorServer
    client: CoordinatorClient

    def stop(self) -> None:
        self.client.close()
        self.coordinator.stop(0)
        for node in self.nodes:
            node.stop(0)


@pytest.fixture
def deployment(shared: Shared, tmp_path: Path) -> Iterator[Deployment]:
    database = tmp_path / "members.db"
    shutil.copy(shared.database, database)
    retailer_text = shared.node_text().replace(str(shared.database), str(database))
    brand_text = (
        shared.node_text(party="brand")
        .replace(ATTRIBUTES, "")
        .replace(f'kind = "sql"\nurl = "sqlite:///{shared.database}"', 'kind = "csv"')
        .replace('table = "members"\nlabel = "crm"', f'path = "{shared.members_csv}"')
    )
    policy = shared.policy_text()
    nodes = [
        start_node(load_node_config(write_node(tmp_path / party, text, policy)), LOOPBACK)
        for party, text in (("brand", brand_text), ("retailer", retailer_text))
    ]
    coordinator_path = tmp_path / "coordinator.toml"
    coordinator_path.write_text(
        shared.coordinator_text()
        .replace("127.0.0.1:1", nodes[0].address)
        .replace("127.0.0.1:2", nodes[1].address)
    )
    coordinator = start_coordinator(load_coordinator_config(coordinator_path), LOOPBACK)
    brand = shared.certs.parties["brand"]
    client = CoordinatorClient(
        coordinator.address,
        ClientTLS(shared.certs.ca, brand.cert, brand.key),
        signer=QuerySigner.from_file("brand", brand.sign_key),
    )
    running = Deployment(database, nodes, coordinator, client)
    yield running
    running.stop()


def test_load_reports_name_the_label(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gongying.queries")
    result = deployment.client.overlap(["brand", "retailer"], query_id="q-label", timeout=60)
    assert result.all_parties == ROWS // 2  # brand holds the even persons below 2 * ROWS
    assert {load.party: load.source for load in result.loads} == {"brand": "csv", "retailer": "crm"}
    received = json.dumps(result.to_json())
    for secret in (str(deployment.database), *SECRETS):
        assert secret not in received, secret
    # every node logs the outcome in one line, without identifiers
    lines = [r.getMessage() for r in caplog.records if r.name == "gongying.queries"]
    for party in ("brand", "retailer"):
        mine = [line for line in lines if line.startswith(f"{party} query q-label ")]
        assert len(mine) == 1, lines
        assert "kind=overlap requester=brand parties=brand,retailer" in mine[0]
        assert "outcome=released" in mine[0], mine[0]
    assert not any("@example.cn" in line for line in lines)


def test_a_missing_table_is_reported_by_label(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gongying.queries")
    with sqlite3.connect(deployment.database) as connection:
        connection.execute("ALTER TABLE members RENAME TO members_old")
    with pytest.raises(QueryError) as caught:
        deployment.client.overlap(["brand", "retailer"], query_id="q-gone", timeout=60)
    lines = [r.getMessage() for r in caplog.records if r.name == "gongying.queries"]
    assert any(
        line.startswith("retailer query q-gone kind=overlap") and "outcome=failed" in line
        for line in lines
    ), lines
    message = str(caught.value)
    assert "member source not found: crm" in message
    for secret in SECRETS:
        assert secret not in message, (secret, message)


def test_a_missing_column_is_reported_by_label(deployment: Deployment) -> None:
    with sqlite3.connect(deployment.database) as connection:
        connection.execute("ALTER TABLE members RENAME COLUMN email TO mail")
    with pytest.raises(QueryError) as caught:
        deployment.client.overlap(["brand", "retailer"], timeout=60)
    message = str(caught.value)
    assert "member source crm lacks a column" in message
    for secret in (*SECRETS, "mail'", "email,"):
        assert secret not in message, (secret, message)


def test_an_unreadable_database_keeps_the_driver_detail_home(deployment: Deployment) -> None:
    deployment.database.write_bytes(b"not a database, and longer than a header" * 4)
    with pytest.raises(QueryError) as caught:
        deployment.client.overlap(["brand", "retailer"], timeout=60)
    message = str(caught.value)
    assert "cannot read member source crm" in message
    assert "file is not a database" not in message
    for secret in SECRETS:
        assert secret not in message, (secret, message)


def test_a_bad_identifier_value_names_the_config_key(deployment: Deployment) -> None:
    with sqlite3.connect(deployment.database) as connection:
        connection.execute("UPDATE members SET email = x'00ff' WHERE rowid = 3")
    with pytest.raises(QueryError) as caught:
        deployment.client.overlap(["brand", "retailer"], timeout=60)
    message = str(caught.value)
    assert "column '[identifiers].email' of member source crm, data row 3" in message
    for secret in SECRETS:
        assert secret not in message, (secret, message)
