"""The coordinator's choice of a query's PSI group: the querier's first that every party serves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from coordinator.node_client import Deadline, NodeClient
from model.errors import NoCommonGroup, QueryRefused
from protocols.group_names import DEFAULT_GROUPS, LEGACY_GROUP, UnknownGroup, check_names, choose
from runtime.signing import SignedQueryError, signed_groups
from wire.v1 import query_pb2


def allowed_groups(
    requested: Sequence[str], signed: query_pb2.SignedQuery | None
) -> tuple[str, ...]:
    """The groups the querier allows: the signed ones (a request naming others is refused),
    else those requested, else x25519 then ristretto255. A signed payload that cannot be read
    is left to the nodes, which verify signatures and refuse it (PERMISSION_DENIED, audited)."""
    try:
        names = check_names(requested, "psi_groups") if requested else None
    except UnknownGroup as error:
        raise QueryRefused(str(error)) from None
    if signed is None:
        return names or DEFAULT_GROUPS
    try:
        signed_as = signed_groups(signed.payload)
    except SignedQueryError:
        return names or DEFAULT_GROUPS
    if names is not None and names != signed_as:
        raise QueryRefused(
            f"the request allows PSI groups {', '.join(names)} but the querier signed "
            f"{', '.join(signed_as)}",
        )
    return signed_as


def choose_group(
    nodes: Mapping[str, NodeClient],
    requested: Sequence[str],
    signed: query_pb2.SignedQuery | None,
    deadline: Deadline,
) -> str:
    """Ask every node which groups it serves (Describe; a node that names none serves only
    ristretto255) and pick the querier's first that all serve; one line naming who serves
    what when none is."""
    allowed = allowed_groups(requested, signed)
    served = {
        party: tuple(node.describe(deadline).psi_groups) or (LEGACY_GROUP,)
        for party, node in nodes.items()
    }
    try:
        return choose(allowed, served)
    except UnknownGroup as error:
        raise NoCommonGroup(str(error)) from None
