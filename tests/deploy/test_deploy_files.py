"""The deploy files stay honest without a container engine: every config and policy loads with the
project's own loaders, the Dockerfile copies what exists, and the compose file and Kubernetes
manifests parse and reference only files that exist (or that `gongying certs init` creates).

The YAML tests need PyYAML; without it they are skipped with that reason.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from coordinator.config import load_coordinator_config
from node.config import load_node_config
from node.policy import load_policy
from tests.deploy.layout import (
    COMPOSE,
    CONTAINER_ROOT,
    COORDINATOR,
    DEPLOY,
    DOCKERFILE,
    NODES,
    PROBE,
    REHEARSAL,
    ROOT,
    load_yaml,
    overlap_args,
    policy_files,
    profile_args,
    rehearsal_config,
)


def _tomls() -> Iterator[Path]:
    yield from sorted(DEPLOY.rglob("*.toml"))


def _is_policy(path: Path) -> bool:
    return path.name.endswith("policy.toml")


def _is_coordinator(path: Path) -> bool:
    return "parties" in tomllib.loads(path.read_text())


# --- every config and policy loads -------------------------------------------------------------


def test_every_config_and_policy_under_deploy_loads() -> None:
    kinds = {"node": 0, "coordinator": 0, "policy": 0}
    for path in _tomls():
        if _is_policy(path):
            assert load_policy(path).partners, path
            kinds["policy"] += 1
        elif _is_coordinator(path):
            config = load_coordinator_config(path)
            assert config.tls is not None and config.signing_key is not None, path
            kinds["coordinator"] += 1
        else:
            node = load_node_config(path)
            assert node.tls is not None and node.policy is not None, f"{path}: not governed"
            assert not node.insecure_plaintext and not node.insecure_no_policy, path
            kinds["node"] += 1
    # rehearsal: 4 nodes + coordinator + 4 policies; k8s: 1 node, coordinator, 1 policy; example
    assert kinds == {"node": 5, "coordinator": 2, "policy": 6}, kinds


def _rehearsal_file(path: Path, cert_names: frozenset[str]) -> None:
    """A file a rehearsal config names: committed, or created by certs init, or runtime state."""
    relative = path.resolve().relative_to(REHEARSAL.resolve())
    top = relative.parts[0]
    if top == "certs":
        assert len(relative.parts) == 2 and relative.name in cert_names, relative
    elif top == "state":
        assert len(relative.parts) == 2, relative  # written by the party at run time
    else:
        assert path.is_file(), f"{relative} does not exist"


def test_rehearsal_configs_name_only_files_that_exist_or_certs_init_creates(
    cert_names: frozenset[str],
) -> None:
    for party in NODES:
        config = load_node_config(rehearsal_config(party))
        assert config.party == party
        assert config.tls is not None and config.policy is not None
        assert config.source.path is not None and config.signing_key is not None
        assert config.audit_log is not None and config.ledger is not None
        files = [config.tls.ca, config.tls.cert, config.tls.key, config.signing_key, config.policy]
        files += [Path(config.source.path), Path(config.audit_log), Path(config.ledger)]
        files += [config.paillier_key_file] if config.paillier_key_file else []
        files += policy_files(load_policy(config.policy))
        for path in files:
            _rehearsal_file(path, cert_names)
        assert config.tls.cert.name == f"{party}.pem", "a node presents its own certificate"
    coordinator = load_coordinator_config(rehearsal_config(COORDINATOR))
    assert coordinator.tls is not None and coordinator.signing_key is not None
    assert coordinator.audit_log is not None
    for path in (coordinator.tls.ca, coordinator.tls.cert, coordinator.tls.key):
        _rehearsal_file(path, cert_names)
    _rehearsal_file(coordinator.signing_key, cert_names)
    _rehearsal_file(Path(coordinator.audit_log), cert_names)


def test_the_coordinator_routes_to_every_node_by_compose_service_name_and_port() -> None:
    coordinator = load_coordinator_config(rehearsal_config(COORDINATOR))
    assert set(coordinator.parties) == set(NODES)
    ports = set()
    for party in NODES:
        listen = load_node_config(rehearsal_config(party)).listen
        host, _, port = listen.rpartition(":")
        assert host == "0.0.0.0", f"{party} must listen on all interfaces in its container"
        assert coordinator.parties[party] == f"{party}:{port}"
        ports.add(port)
    assert len(ports) == len(NODES)


def test_rehearsal_sample_data_is_small_and_committed() -> None:
    for party in NODES:
        rows = (REHEARSAL / "data" / f"{party}.csv").read_text().count("\n") - 1
        assert 100 <= rows <= 1000, f"{party}: {rows} rows"


# --- Dockerfile ----------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_dockerfile_is_multi_stage_non_root_with_the_gongying_entry_point() -> None:
    steps = _dockerfile_instructions()
    stages = [rest for word, rest in steps if word == "FROM"]
    assert stages == ["python:3.11-slim AS builder", "python:3.11-slim"]
    assert ("ENTRYPOINT", '["gongying"]') in steps
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "gongying" in scripts
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert len(health) == 1 and PROBE in health[0]
    exposed = {int(p) for word, rest in steps if word == "EXPOSE" for p in rest.split()}
    rehearsal_ports = {
        int(load_node_config(rehearsal_config(p)).listen.rpartition(":")[2]) for p in NODES
    }
    coordinator_port = load_coordinator_config(rehearsal_config(COORDINATOR)).listen
    assert rehearsal_ports | {int(coordinator_port.rpartition(":")[2])} <= exposed


def test_dockerfile_copies_only_files_that_exist_and_the_dockerignore_keeps() -> None:
    steps = _dockerfile_instructions()
    copies = [rest.split() for word, rest in steps if word == "COPY"]
    assert copies
    kept = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    destinations = []
    for parts in copies:
        assert not any(p.startswith("--from") for p in parts), "wheels come by a bind mount"
        *sources, destination = parts
        destinations.append(destination)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source.rstrip("/") in kept, f"COPY {source}: excluded by Dockerfile.dockerignore"
    assert PROBE in destinations
    # the wheel must hold every package pyproject.toml ships
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    copied = {s.rstrip("/") for parts in copies for s in parts[:-1]}
    assert {p.rstrip("*") for p in packages} <= copied


# --- compose -------------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    (compose,) = load_yaml(COMPOSE)
    assert isinstance(compose, dict)
    return compose


def _host_path(container_path: str, volumes: list[str]) -> Path | None:
    """The host file behind `container_path` under the service's bind mounts (longest match)."""
    best: tuple[int, Path] | None = None
    for volume in volumes:
        source, target = volume.split(":")[:2]
        inside = PurePosixPath(container_path)
        if inside == PurePosixPath(target) or PurePosixPath(target) in inside.parents:
            depth = len(PurePosixPath(target).parts)
            if best is None or depth > best[0]:
                rest = inside.relative_to(target)
                best = (depth, (DEPLOY / source / rest).resolve())
    return None if best is None else best[1]


def test_compose_runs_the_five_parties_from_the_rehearsal_configs() -> None:
    services = _compose()["services"]
    assert {*NODES, COORDINATOR} <= set(services)
    for name in (*NODES, COORDINATOR):
        service = services[name]
        role = "coordinator" if name == COORDINATOR else "node"
        config = f"{CONTAINER_ROOT}/configs/{name}.toml"
        assert service["command"] == [role, "serve", "--config", config]
        assert service["environment"]["GONGYING_CONFIG"] == config, "the health probe's config"
        assert _host_path(config, service["volumes"]) == rehearsal_config(name).resolve()
        assert service["healthcheck"]["test"] == ["CMD", "python", PROBE]
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    for name in NODES:
        assert services[COORDINATOR]["depends_on"][name]["condition"] == "service_healthy"


def test_compose_mounts_exist_and_state_is_writable() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            assert (DEPLOY / source).is_dir(), f"{name}: mount source {source} does not exist"
            if target.endswith("/state"):
                assert mode != ["ro"], f"{name}: state must be writable"
            else:
                assert mode == ["ro"], f"{name}: {target} should be read-only"


def test_compose_query_services_are_the_commands_the_rehearsal_runs(
    cert_names: frozenset[str],
) -> None:
    services = _compose()["services"]
    coordinator = f"{COORDINATOR}:50050"
    assert services["query"]["command"] == overlap_args(CONTAINER_ROOT, coordinator)
    assert services["query-profile"]["command"] == profile_args(CONTAINER_ROOT, coordinator)
    listen = load_coordinator_config(rehearsal_config(COORDINATOR)).listen
    assert listen.endswith(":50050")
    for name in ("query", "query-profile"):
        service = services[name]
        assert service["profiles"] == ["query"]
        for argument in service["command"]:
            if argument.startswith(f"{CONTAINER_ROOT}/"):
                host = _host_path(argument, service["volumes"])
                assert host is not None, argument
                _rehearsal_file(host, cert_names)
