"""Opening a node's governance from its config: policy, budget ledger, nonces, audit log."""

from __future__ import annotations

import logging

from node.config import NodeConfig
from node.governance import NodeGovernance
from node.ledger import PrivacyLedger
from node.nonces import SqlNonces
from node.policy import exact_partners, load_policy
from runtime.audit import open_audit_log
from runtime.signing import ReplayGuard, load_signing_key

log = logging.getLogger("node.governance")  # the governance's own logger, as operators know it


def open_governance(config: NodeConfig) -> NodeGovernance:
    """The node's policy, budget ledger and audit log as its config names them."""
    signing_key = load_signing_key(config.signing_key) if config.signing_key else None
    audit = (
        open_audit_log(config.audit_log, party=config.party, signing_key=signing_key)
        if config.audit_log
        else None
    )
    policy = load_policy(config.policy) if config.policy else None
    ledger = PrivacyLedger.open(config.ledger, policy) if policy and config.ledger else None
    own_key = signing_key.public_key() if signing_key is not None else None
    for terms in exact_partners(policy) if policy is not None else []:
        log.warning(
            "%s: partner %s has exact = true in %s: its answers carry no noise and no budget "
            "(only min_cohort %d and the caps protect members; see README 'Policy and refusals')",
            config.party,
            terms.name,
            policy.path if policy is not None else "the policy",
            terms.min_cohort,
        )
    # seen nonces live beside the budget in the ledger database, so replays fail after restarts
    nonces = SqlNonces.open(config.ledger) if ledger is not None and config.ledger else None
    replays = ReplayGuard(nonces) if nonces is not None else None
    governance = NodeGovernance(
        config.party, audit, policy, ledger, own_key=own_key, replays=replays
    )
    governance.recover_interrupted()  # one node process per ledger (one replica)
    return governance
