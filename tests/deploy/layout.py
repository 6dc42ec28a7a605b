"""Where the deploy files are, and the rehearsal's parties (shared by the deploy tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from node.policy import Policy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REHEARSAL = DEPLOY / "rehearsal"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
HEALTHCHECK = DEPLOY / "healthcheck.py"

NODES = ("brand", "retailer_a", "retailer_b", "retailer_c")
COORDINATOR = "coordinator"
CONTAINER_ROOT = "/etc/gongying"  # where compose mounts deploy/rehearsal
"""Compose mounts `deploy/rehearsal` here; the query services' paths start with it."""


def rehearsal_config(party: str) -> Path:
    """The rehearsal config of a node or of the coordinator."""
    return REHEARSAL / "configs" / f"{party}.toml"


def _as_brand(root: str) -> list[str]:
    certs = f"{root}/certs"
    return [
        "--ca",
        f"{certs}/ca.pem",
        "--cert",
        f"{certs}/brand.pem",
        "--key",
        f"{certs}/brand.key",
        "--signing-key",
        f"{certs}/brand.sign.key",
    ]


PROFILE_ATTRIBUTES = (
    "age_band",
    "gender",
    "city_tier",
    "favourite_category",
    "spend_12m",
    "visits_12m",
)


def overlap_args(root: str, coordinator: str) -> list[str]:
    """`gongying` arguments of the compose `query` service, with the rehearsal folder at `root`
    and the coordinator at `coordinator`."""
    return [
        "query",
        "overlap",
        "--coordinator",
        coordinator,
        "--parties",
        ",".join(NODES),
        "--id-type",
        "email",
        *_as_brand(root),
    ]


def profile_args(root: str, coordinator: str) -> list[str]:
    """`gongying` arguments of the compose `query-profile` service."""
    return [
        "query",
        "profile",
        "--coordinator",
        coordinator,
        "--querier",
        "brand",
        "--owners",
        ",".join(NODES[1:]),
        "--attributes",
        ",".join(PROFILE_ATTRIBUTES),
        "--id-type",
        "email",
        *_as_brand(root),
    ]


PROBE = "/usr/local/lib/gongying/healthcheck.py"  # where the Dockerfile puts deploy/healthcheck.py


def load_yaml(path: Path) -> list[Any]:
    """The YAML documents of `path` (the test is skipped, saying why, without PyYAML)."""
    return [doc for doc in yaml_module().safe_load_all(path.read_text()) if doc is not None]


def yaml_module() -> Any:
    """PyYAML (the test is skipped, saying why, without it)."""
    return pytest.importorskip("yaml", reason="PyYAML is needed to parse compose/k8s YAML")


def policy_files(policy: Policy) -> list[Path]:
    """The partners' signing keys a policy names."""
    return [t.signing_key for t in policy.partners.values() if t.signing_key is not None]
