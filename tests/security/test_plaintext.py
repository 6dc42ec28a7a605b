"""Plaintext gRPC only behind `insecure_plaintext = true`, loudly; TLS settings from node.toml."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from coordinator.config import CoordinatorConfig, load_coordinator_config
from coordinator.server import start_coordinator
from node.config import NodeConfig, load_node_config
from node.server import start_node
from runtime.certs import CertSet
from runtime.tls import TLSError, TLSFiles
from tests.integration.deployment import node_config
from tests.security.conftest import tls_of


def _node_toml(tmp_path: Path, body: str) -> Path:
    (tmp_path / "members.csv").write_text("email\na@example.com\n")
    path = tmp_path / "node.toml"
    path.write_text(
        'party = "retailer_a"\nlisten = "127.0.0.1:0"\nworkers = 1\ninsecure_no_policy = true\n'
        + body
        + '\n[source]\nkind = "csv"\npath = "members.csv"\n[identifiers]\nemail = "email"\n'
    )
    return path


def _plain_node(tmp_path: Path) -> NodeConfig:
    from connectors.source_spec import SourceSpec

    return replace(
        node_config("retailer_a", SourceSpec(kind="csv", path=str(tmp_path / "m.csv"))),
        insecure_plaintext=False,
    )


def test_node_without_tls_refuses_to_start(tmp_path: Path) -> None:
    config = load_node_config(_node_toml(tmp_path, ""))
    assert config.tls is None and not config.insecure_plaintext
    with pytest.raises(TLSError, match=r"node retailer_a: no \[tls\] table.*insecure_plaintext"):
        start_node(config)
    with pytest.raises(TLSError, match="no \\[tls\\] table"):
        start_node(_plain_node(tmp_path))


def test_coordinator_without_tls_refuses_to_start() -> None:
    config = CoordinatorConfig(listen="127.0.0.1:0", parties={"a": "x:1", "b": "y:2"}, workers=0)
    with pytest.raises(TLSError, match=r"coordinator: no \[tls\] table"):
        start_coordinator(config)


def test_insecure_flag_starts_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_node_config(_node_toml(tmp_path, "insecure_plaintext = true\n"))
    node = start_node(config)
    try:
        assert "WARNING: node retailer_a serves PLAINTEXT gRPC" in capsys.readouterr().err
    finally:
        node.stop(grace=0)


def test_tls_and_insecure_flag_together_are_refused(tmp_path: Path, certs: CertSet) -> None:
    config = replace(_plain_node(tmp_path), insecure_plaintext=True, tls=tls_of(certs, "brand"))
    with pytest.raises(TLSError, match="both a \\[tls\\] table and insecure_plaintext"):
        start_node(config)


def test_tls_table_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    body = (
        'coordinator_identity = "hub"\n'
        '[tls]\nca = "certs/ca.pem"\ncert = "certs/retailer_a.pem"\nkey = "/abs/retailer_a.key"\n'
    )
    config = load_node_config(_node_toml(tmp_path, body))
    assert config.tls == TLSFiles(
        tmp_path / "certs" / "ca.pem",
        tmp_path / "certs" / "retailer_a.pem",
        Path("/abs/retailer_a.key"),
    )
    assert config.coordinator_identity == "hub"


def test_missing_tls_file_is_named(tmp_path: Path) -> None:
    body = '[tls]\nca = "certs/ca.pem"\ncert = "certs/a.pem"\nkey = "certs/a.key"\n'
    config = load_node_config(_node_toml(tmp_path, body))
    with pytest.raises(TLSError, match=r"TLS key file .*certs/a\.key cannot be read"):
        start_node(config)


def test_coordinator_toml_tls_and_clients(tmp_path: Path) -> None:
    path = tmp_path / "coordinator.toml"
    path.write_text(
        'listen = "127.0.0.1:0"\nclients = ["analyst"]\n'
        '[tls]\nca = "c/ca.pem"\ncert = "c/coordinator.pem"\nkey = "c/coordinator.key"\n'
        '[parties]\nbrand = "127.0.0.1:1"\nretailer_a = "127.0.0.1:2"\n'
    )
    config = load_coordinator_config(path)
    assert config.tls is not None and config.tls.cert == tmp_path / "c" / "coordinator.pem"
    assert config.allowed_callers() == {"brand", "retailer_a", "analyst"}
    assert not config.insecure_plaintext
