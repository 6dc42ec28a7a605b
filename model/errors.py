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
    """A request a node's governance refuses, audited under `rule` (the policy key it breaks);
    each subclass below is a kind of refusal, and says why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class NotPermitted(GovernanceRefusal):
    """The owner's policy or the node's rules do not permit this: an unlisted partner, query
    kind, id type, attribute, audience, agreement or co-party; a step asked of the wrong party,
    about another party's set, or more often than once."""


class SignatureRefused(GovernanceRefusal):
    """A signature the request must carry is missing, does not verify, is replayed or signs
    something else; or there is no verify key configured to check it with."""


class LimitReached(GovernanceRefusal):
    """A partner's limit is reached: its privacy budget, its queries per day, its queries open
    at once, or the size of the set it sends."""


class CounterpartySetTooSmall(GovernanceRefusal):
    """A counter-party's set is smaller than the partner's `min_counterparty_set`."""


class QuerierKeyTooWeak(GovernanceRefusal):
    """The querier's Paillier key fails a structural check (too short, or malformed)."""


class AnswerImplausible(GovernanceRefusal):
    """Decrypted cells that the query's sets could not have produced: nothing is released."""


class QueryIdReused(GovernanceRefusal):
    """A query id that this node already counted (for another partner or epsilon, or after the
    query ended) used again."""


class QueryEnded(GovernanceRefusal):
    """The query already ended at this node (settled or refused) when a later step asked for
    its contribution."""


class AnswerSuperseded(GovernanceRefusal):
    """An identical noised query was answered first, while this one ran: only that answer is
    released (asking again returns it)."""


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
