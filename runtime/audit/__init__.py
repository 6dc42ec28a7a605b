"""Tamper-evident, hash-chained and signed audit log of every request a party handles."""

from runtime.audit.chain import ChainFault, FaultKind, VerifyReport, verify_chain
from runtime.audit.errors import (
    AuditError,
    AuditKeyError,
    AuditLogNotFound,
    AuditPartyMismatch,
    AuditRecordInvalid,
    CheckpointKeyMissing,
)
from runtime.audit.export import CSV_COLUMNS, export
from runtime.audit.keys import load_private_key, load_public_key, private_key_pem, public_key_pem
from runtime.audit.log import AuditLog, RecordFilter
from runtime.audit.reconcile import (
    HeadFault,
    LogFault,
    MissingQuery,
    QueryConflict,
    ReconcileReport,
    reconcile,
)
from runtime.audit.record import (
    GENESIS_HASH,
    AuditRecord,
    Checkpoint,
    SignedHead,
    StoredRecord,
    Witness,
    chain_hash,
)
from runtime.audit.sql import DEFAULT_CHECKPOINT_EVERY, SqlAuditLog, open_audit_log
from runtime.audit.witness import settle_witness, signed_head

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_CHECKPOINT_EVERY",
    "GENESIS_HASH",
    "AuditError",
    "AuditKeyError",
    "AuditLog",
    "AuditLogNotFound",
    "AuditPartyMismatch",
    "AuditRecord",
    "AuditRecordInvalid",
    "ChainFault",
    "Checkpoint",
    "CheckpointKeyMissing",
    "FaultKind",
    "HeadFault",
    "LogFault",
    "MissingQuery",
    "QueryConflict",
    "ReconcileReport",
    "RecordFilter",
    "SignedHead",
    "SqlAuditLog",
    "StoredRecord",
    "VerifyReport",
    "Witness",
    "chain_hash",
    "export",
    "load_private_key",
    "load_public_key",
    "open_audit_log",
    "private_key_pem",
    "public_key_pem",
    "reconcile",
    "settle_witness",
    "signed_head",
    "verify_chain",
]
