"""Signed log heads that parties exchange when a query settles, so each log has witnesses."""

from __future__ import annotations

from runtime.audit.errors import CheckpointKeyMissing
from runtime.audit.log import AuditLog
from runtime.audit.record import SignedHead, Witness


def signed_head(log: AuditLog | None) -> SignedHead | None:
    """Sign the head of `log` now (a checkpoint) and return it; None when it cannot sign."""
    if log is None:
        return None
    try:
        return log.checkpoint().head()
    except CheckpointKeyMissing:
        return None


def settle_witness(log: AuditLog | None, query_id: str) -> Witness | None:
    """What a party hands its peer when `query_id` settles: its head, signed now (so the records
    of the settled query are covered), and the epsilon its log charged for the query.

    None when the party keeps no log or its log cannot sign.
    """
    if log is None:
        return None
    charged = sum(
        stored.record.epsilon
        for stored in log.records(query_id=query_id)
        if stored.record.decision == "released"
    )
    head = signed_head(log)
    return None if head is None else Witness(head, charged)
