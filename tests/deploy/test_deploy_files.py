"""The deploy files stay honest without a container engine: every config and policy loads with the
project's own loaders, the Dockerfile copies what exists, and the compose file and Kubernetes
manifests parse and reference only files that exist (or that `gongying certs init` creates).

The YAML tests need PyYAML; without it they are skipped with that reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from coordinator.config import load_coordinator_config
from node.config import NodeConfig, load_node_config
from node.policy import Policy, load_policy
from runtime.certs import init_certs
from tests.deploy.layout import (
    COMPOSE,
    CONTAINER_ROOT,
    COORDINATOR,
    DEPLOY,
    DOCKERFILE,
    K8S,
    NODES,
    REHEARSAL,
    ROOT,
    overlap_args,
    profile_args,
    rehearsal_config,
)

PROBE = "/usr/local/lib/gongying/healthcheck.py"  # where the Dockerfile puts deploy/healthcheck.py


def _yaml() -> Any:
    return pytest.importorskip("yaml", reason="PyYAML is needed to parse compose/k8s YAML")


def _load_yaml(path: Path) -> list[Any]:
    return [doc for doc in _yaml().safe_load_all(path.read_text()) if doc is not None]


@pytest.fixture(scope="module")
def cert_names(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """The file names `gongying certs init --parties brand,retailer_a,...` creates."""
    folder = tmp_path_factory.mktemp("certs")
    init_certs(folder, list(NODES), days=1)
    return frozenset(p.name for p in folder.iterdir())


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


def _policy_files(policy: Policy) -> list[Path]:
    return [t.signing_key for t in policy.partners.values() if t.signing_key is not None]


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
        files += _policy_files(load_policy(config.policy))
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
    (compose,) = _load_yaml(COMPOSE)
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


# --- Kubernetes ----------------------------------------------------------------------------------


def _kustomization() -> dict[str, Any]:
    (doc,) = _load_yaml(K8S / "kustomization.yaml")
    assert isinstance(doc, dict)
    return doc


def _generated(kind: str) -> dict[str, dict[str, Path]]:
    """name -> {key: source file} of the kustomization's configMap/secret generators."""
    found: dict[str, dict[str, Path]] = {}
    for generator in _kustomization().get(kind, []):
        entries = {}
        for item in generator["files"]:
            key, _, source = item.partition("=")
            entries[key if source else Path(key).name] = K8S / (source or key)
        found[generator["name"]] = entries
    return found


def _manifests() -> list[dict[str, Any]]:
    docs = []
    for resource in _kustomization()["resources"]:
        assert (K8S / resource).is_file(), f"resource {resource} does not exist"
        docs += _load_yaml(K8S / resource)
    return docs


def test_k8s_generators_reference_committed_configs_and_certs_init_output(
    cert_names: frozenset[str],
) -> None:
    for generated in (_generated("configMapGenerator"), _generated("secretGenerator")):
        assert generated
        for entries in generated.values():
            for source in entries.values():
                relative = source.relative_to(K8S)
                if relative.parts[0] == "certs":
                    assert relative.name in cert_names, f"{relative}: not made by certs init"
                else:
                    assert source.is_file(), f"{relative} does not exist"


def _deployments() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == "Deployment"}


def _pod_file(path: str, pod: dict[str, Any], container: dict[str, Any]) -> None:
    """`path` lies under one of the container's mounts; in a ConfigMap or Secret it is a key."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    configmaps = _generated("configMapGenerator")
    secrets = _generated("secretGenerator")
    for mount in container["volumeMounts"]:
        target = PurePosixPath(mount["mountPath"])
        if target not in PurePosixPath(path).parents:
            continue
        volume = volumes[mount["name"]]
        key = str(PurePosixPath(path).relative_to(target))
        if "configMap" in volume:
            assert key in configmaps[volume["configMap"]["name"]], f"{path}: not in the ConfigMap"
        elif "secret" in volume:
            assert key in secrets[volume["secret"]["secretName"]], f"{path}: not in the Secret"
        else:
            assert "persistentVolumeClaim" in volume, f"{path}: not on the persistent volume"
        return
    raise AssertionError(f"{path} is not under any volume mount")


def test_k8s_pods_mount_every_file_their_configs_name() -> None:
    deployments = _deployments()
    assert set(deployments) == {"retailer-a", "coordinator"}
    claims = {d["metadata"]["name"] for d in _manifests() if d["kind"] == "PersistentVolumeClaim"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        args = container["args"]
        config_path = args[args.index("--config") + 1]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["GONGYING_CONFIG"] == config_path
        _pod_file(config_path, pod, container)
        source = K8S / "config" / ("coordinator.toml" if name == COORDINATOR else "retailer_a.toml")
        if args[0] == "node":
            config: NodeConfig | Any = load_node_config(source)
            assert config.policy is not None and config.signing_key is not None
            files = [str(config.policy), str(config.signing_key)]
            policy = load_policy(K8S / "config/retailer_a.policy.toml")
            files += [str(p) for p in _policy_files(policy)]
            files += [str(config.audit_log), str(config.ledger)]
        else:
            config = load_coordinator_config(source)
            files = [str(config.signing_key), str(config.audit_log)]
        tls = config.tls
        assert tls is not None, f"{source}: no [tls] table"
        files += [str(tls.ca), str(tls.cert), str(tls.key)]
        for path in files:
            _pod_file(path, pod, container)
        port = int(config.listen.rpartition(":")[2])
        assert container["ports"] == [{"name": "grpc", "containerPort": port}]
        for volume in pod["volumes"]:
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_k8s_probes_run_the_mutual_tls_health_probe_and_resources_are_requested() -> None:
    for name, deployment in _deployments().items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"] == ["python", PROBE], f"{name} {probe}"
        requests = container["resources"]["requests"]
        assert {"cpu", "memory"} <= set(requests)
        assert "memory" in container["resources"]["limits"]
    node = _deployments()["retailer-a"]["spec"]["template"]["spec"]["containers"][0]
    workers = load_node_config(K8S / "config/retailer_a.toml").workers
    # bench figures: ~450 MiB per node process + ~115 MiB per worker at 1M members, 2 CPUs
    assert _mebibytes(node["resources"]["requests"]["memory"]) >= 450 + 115 * workers
    assert node["resources"]["requests"]["cpu"] == str(workers)


def _mebibytes(quantity: str) -> int:
    units = {"Mi": 1, "Gi": 1024}
    return int(quantity[:-2]) * units[quantity[-2:]]


def test_k8s_services_select_the_deployments_and_target_their_ports() -> None:
    manifests = _manifests()
    deployments = _deployments()
    services = {d["metadata"]["name"]: d for d in manifests if d["kind"] == "Service"}
    assert set(services) == set(deployments)
    coordinator = load_coordinator_config(K8S / "config/coordinator.toml")
    host, _, port = coordinator.parties["retailer_a"].rpartition(":")
    assert host in services and services[host]["spec"]["ports"][0]["port"] == int(port)
    for name, service in services.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        assert service["spec"]["ports"][0]["targetPort"] == "grpc"


def test_kubectl_kustomize_builds_the_manifests(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (the manifests are still checked above)")
    yaml = _yaml()
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("certs"))
    init_certs(copy / "certs", list(NODES), days=1)
    built = subprocess.run(
        [kubectl, "kustomize", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("Deployment") == 2 and kinds.count("Secret") == 2
    names = {d["metadata"]["name"] for d in docs if d["kind"] in ("ConfigMap", "Secret")}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        for volume in deployment["spec"]["template"]["spec"]["volumes"]:
            ref = volume.get("configMap", {}).get("name") or volume.get("secret", {}).get(
                "secretName"
            )
            assert ref is None or ref in names, f"{ref}: not generated (hash suffix missing?)"
