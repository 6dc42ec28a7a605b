"""The Kubernetes manifests stay honest without a cluster: the kustomization's generators name
committed configs or files `gongying certs init` makes, every pod mounts the files its config
names, probes and services line up, and `kubectl kustomize` builds them where kubectl exists.

The YAML tests need PyYAML; without it they are skipped with that reason.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from coordinator.config import load_coordinator_config
from node.config import NodeConfig, load_node_config
from node.policy import load_policy
from runtime.certs import init_certs
from tests.deploy.layout import (
    COORDINATOR,
    K8S,
    NODES,
    PROBE,
    load_yaml,
    policy_files,
    yaml_module,
)


def _kustomization() -> dict[str, Any]:
    (doc,) = load_yaml(K8S / "kustomization.yaml")
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
        docs += load_yaml(K8S / resource)
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
            files += [str(p) for p in policy_files(policy)]
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
    yaml = yaml_module()
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
