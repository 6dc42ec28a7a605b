"""Where the deploy files are, and the rehearsal's parties (shared by the deploy tests)."""

from __future__ import annotations

from pathlib import Path

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
