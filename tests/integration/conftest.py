"""One deployment for the integration package: 3 data nodes (CSV, Parquet, SQLite), two
misconfigured nodes, an unreachable party, and a coordinator, all on loopback gRPC."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.identifiers import ColumnKind
from connectors.source_spec import SourceSpec
from node.config import IdentifierColumn
from tests.integration.deployment import BOTH_IDS, Deployment, node_config, start_deployment

SOURCES = {"brand": "csv", "retailer_a": "parquet", "retailer_b": "sqlite"}


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("integration")
    missing = root / "no-such-members.csv"
    # the brand's CSV read under a wrong email column name; the file exists
    wrong_column = (IdentifierColumn("e_mail", ColumnKind.EMAIL), BOTH_IDS[1])
    extra = {
        "nofile": node_config("nofile", SourceSpec(kind="csv", path=str(missing))),
        "nocolumn": node_config(
            "nocolumn",
            SourceSpec(kind="csv", path=str(root / "data" / "brand.csv")),
            wrong_column,
        ),
    }
    running = start_deployment(root, SOURCES, members=200, extra_nodes=extra, unreachable=["ghost"])
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def no_session_left(deployment: Deployment) -> Iterator[None]:
    """After every test, no node holds an open session."""
    yield
    assert deployment.open_sessions() == dict.fromkeys(deployment.nodes, 0)
