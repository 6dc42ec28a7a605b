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


class UnknownQuery(LookupError):
    """No running (or recently finished) query has this id."""

    def __init__(self, query_id: str) -> None:
        super().__init__(f"no query {query_id!r} is running")
        self.query_id = query_id


class CallerRefused(Exception):
    """The caller may not submit this query: its certificate names neither the querier who
    signed it nor a party it acts for (a result goes only to the querier)."""


class QueryCancelled(Exception):
    """The querier cancelled the query (its call ended early)."""


class DeadlinePassed(Exception):
    """The query's deadline passed before it finished."""


class PartyFailed(Exception):
    """A partner node's call failed (unreachable, too slow, or refused); `code` is the gRPC status
    name the node answered, relayed to the querier as it is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PartyMisconfigured(Exception):
    """A partner node is not set up for this query: it answers or signs as another party, sends
    a settle witness that cannot be read, or (the querier's node) offers no or a weak Paillier
    key."""


class NoCommonGroup(Exception):
    """No PSI group that the query allows is served by every party."""


class CoordinatorMisconfigured(Exception):
    """This coordinator is not set up for the query (a profile query needs mask workers)."""


class ProtocolViolation(Exception):
    """A party's answer breaks the protocol: a set returned with another size than announced, an
    aggregate or released profile that cannot be read. A bug or a misbehaving node."""


class SpillFailed(Exception):
    """The coordinator could not spill a set's points to its scratch disk."""
