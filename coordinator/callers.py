"""Who may submit a query: the caller's certificate must name its signer, so a result goes only to
the party that signed the query (or a client that coordinator.toml lets act for it)."""

from __future__ import annotations

from coordinator.config import CoordinatorConfig
from model.errors import CallerRefused


def requester_label(identity: str, querier: str) -> str:
    """How the audit log names who asked: the querier, or `client for querier` when a listed
    client's certificate submits the querier's query."""
    if not identity or not querier or identity == querier:
        return querier or identity
    return f"{identity} for {querier}"


def check_caller(config: CoordinatorConfig, identity: str, signer: str, querier: str = "") -> None:
    """Refuse (PERMISSION_DENIED) a query whose signer, or for an unsigned profile query whose
    querier, is not the identity of the caller's certificate nor a party it acts for.

    `identity` is empty only on a plaintext coordinator (`insecure_plaintext`, local tests),
    where there is no certificate to compare: the nodes' signature checks still apply.
    """
    if signer and querier and signer != querier:
        raise CallerRefused(
            f"the profile query names querier {querier!r} but is signed by {signer!r}"
        )
    asker = signer or querier
    if not identity or not asker or asker in config.signers_for(identity):
        return
    hint = (
        f' (to let {identity} act for {asker}: [acting_for] {identity} = ["{asker}"] in '
        "coordinator.toml)"
        if identity in config.clients
        else ""
    )
    raise CallerRefused(
        f"the caller's certificate names {identity!r} but the query is "
        f"{'signed by' if signer else 'asked for'} {asker!r}; a result goes only to "
        f"{asker}{hint}",
    )
