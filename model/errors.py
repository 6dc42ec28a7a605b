"""Domain errors raised below the wire, mapped to gRPC status in one table (wire.status)."""

from __future__ import annotations


class QueryRefused(ValueError):
    """The request cannot be served as asked (bad query id, party list, id type, profile)."""


class SessionNotFound(LookupError):
    """No open session for this query id (never opened, closed, or expired)."""


class SessionExists(RuntimeError):
    """A session for this query id is already open."""


class AttributeTypeError(ValueError):
    """A numeric attribute's column holds values that are not numbers."""


class IdentifierUnavailable(LookupError):
    """The node holds no column that can serve the requested identifier type."""


class GovernanceRefusal(Exception):
    """A request refused by signature, policy or budget; `code` is the gRPC status name."""

    def __init__(self, code: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.rule = rule


class StreamError(ValueError):
    """A chunked stream is malformed, truncated, or disagrees with its trailer."""
