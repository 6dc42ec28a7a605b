"""Narrow exceptions raised by the audit log."""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every audit-log error."""


class AuditRecordInvalid(AuditError, ValueError):
    """An audit record field has a value the log refuses to store."""


class AuditPartyMismatch(AuditError):
    """A record or log belongs to a different party than the one writing it."""


class AuditKeyError(AuditError):
    """An Ed25519 key file is missing, unreadable or of the wrong kind."""


class CheckpointKeyMissing(AuditError):
    """A checkpoint was requested from a log opened without a signing key."""


class AuditLogNotFound(AuditError):
    """A reader asked for an audit log that does not exist at the given path or URL."""
