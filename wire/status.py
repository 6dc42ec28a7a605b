"""The one table from domain errors to gRPC status codes, used by every servicer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import grpc

from connectors.errors import ConnectorError, IdentifierTypeError, ProfileError
from model.errors import (
    AnswerImplausible,
    AnswerSuperseded,
    AttributeTypeError,
    CallerRefused,
    CoordinatorMisconfigured,
    CounterpartySetTooSmall,
    DeadlinePassed,
    GovernanceRefusal,
    IdentifierUnavailable,
    LimitReached,
    NoCommonGroup,
    NotPermitted,
    PartyFailed,
    PartyMisconfigured,
    ProtocolViolation,
    QuerierKeyTooWeak,
    QueryCancelled,
    QueryEnded,
    QueryIdReused,
    QueryRefused,
    SessionExists,
    SessionNotFound,
    SignatureRefused,
    SpillFailed,
    StreamError,
    UnknownQuery,
)
from protocols.matching import DuplicatePoints
from protocols.paillier import PaillierError
from protocols.profile import AttributeMismatch, MissingAttributeValues, PlaintextOverflow
from protocols.psi import KeyForgotten
from protocols.ristretto import InvalidPoint
from runtime.config_file import ConfigError
from runtime.signing import SignedQueryError

log = logging.getLogger(__name__)


CARRIED = None
"""A table entry for an error that names its own status (`code`): a partner node's answer,
relayed to the querier."""

_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode | None], ...] = (
    (InvalidPoint, grpc.StatusCode.INVALID_ARGUMENT),
    (StreamError, grpc.StatusCode.INVALID_ARGUMENT),
    (DuplicatePoints, grpc.StatusCode.INVALID_ARGUMENT),
    (QueryRefused, grpc.StatusCode.INVALID_ARGUMENT),
    (ProfileError, grpc.StatusCode.INVALID_ARGUMENT),
    (IdentifierTypeError, grpc.StatusCode.FAILED_PRECONDITION),
    (IdentifierUnavailable, grpc.StatusCode.FAILED_PRECONDITION),
    (ConnectorError, grpc.StatusCode.FAILED_PRECONDITION),
    (ConfigError, grpc.StatusCode.FAILED_PRECONDITION),
    (SessionNotFound, grpc.StatusCode.NOT_FOUND),
    (UnknownQuery, grpc.StatusCode.NOT_FOUND),
    (KeyForgotten, grpc.StatusCode.NOT_FOUND),
    (SessionExists, grpc.StatusCode.ALREADY_EXISTS),
    (PaillierError, grpc.StatusCode.INVALID_ARGUMENT),
    (AttributeMismatch, grpc.StatusCode.INVALID_ARGUMENT),
    (MissingAttributeValues, grpc.StatusCode.INVALID_ARGUMENT),
    (PlaintextOverflow, grpc.StatusCode.FAILED_PRECONDITION),
    (AttributeTypeError, grpc.StatusCode.FAILED_PRECONDITION),
    (SignedQueryError, grpc.StatusCode.PERMISSION_DENIED),
    (CallerRefused, grpc.StatusCode.PERMISSION_DENIED),
    (QueryCancelled, grpc.StatusCode.CANCELLED),
    (DeadlinePassed, grpc.StatusCode.DEADLINE_EXCEEDED),
    (PartyMisconfigured, grpc.StatusCode.FAILED_PRECONDITION),
    (NoCommonGroup, grpc.StatusCode.FAILED_PRECONDITION),
    (CoordinatorMisconfigured, grpc.StatusCode.FAILED_PRECONDITION),
    (ProtocolViolation, grpc.StatusCode.INTERNAL),
    (SpillFailed, grpc.StatusCode.INTERNAL),
    # a node's governance refusals, by kind
    (NotPermitted, grpc.StatusCode.PERMISSION_DENIED),
    (SignatureRefused, grpc.StatusCode.PERMISSION_DENIED),
    (LimitReached, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (CounterpartySetTooSmall, grpc.StatusCode.FAILED_PRECONDITION),
    (QuerierKeyTooWeak, grpc.StatusCode.FAILED_PRECONDITION),
    (AnswerImplausible, grpc.StatusCode.FAILED_PRECONDITION),
    (QueryIdReused, grpc.StatusCode.ALREADY_EXISTS),
    (QueryEnded, grpc.StatusCode.ABORTED),
    (AnswerSuperseded, grpc.StatusCode.ABORTED),
    (GovernanceRefusal, grpc.StatusCode.PERMISSION_DENIED),  # of no more particular kind
    (PartyFailed, CARRIED),
)


def table_entry(kind: type[BaseException]) -> tuple[type[BaseException], grpc.StatusCode | None]:
    """The table's entry for an error class: the first it is a subclass of (a subclass is listed
    before its base); LookupError when there is none."""
    for entry in _TABLE:
        if issubclass(kind, entry[0]):
            return entry
    raise LookupError(f"{kind.__name__} has no entry in the status table (wire/status.py)")


def status_for(error: BaseException) -> grpc.StatusCode:
    """The status code for a domain error; INTERNAL for anything unexpected (a bug)."""
    try:
        _, code = table_entry(type(error))
    except LookupError:
        return grpc.StatusCode.INTERNAL
    if code is CARRIED:
        return grpc.StatusCode[getattr(error, "code", "UNKNOWN")]
    return code


@contextlib.contextmanager
def reported(context: grpc.ServicerContext, where: str) -> Iterator[None]:
    """Turn an exception raised inside a handler into an abort with a mapped status (the only
    place a domain error becomes a gRPC status)."""
    try:
        yield
    except Exception as error:
        if isinstance(error, grpc.RpcError) and not context.is_active():
            # a request stream raises this when the caller cancelled or dropped the call
            log.info("%s: the caller cancelled the call", where)
            context.abort(grpc.StatusCode.CANCELLED, f"{where}: the caller cancelled the call")
        code = status_for(error)
        if code == grpc.StatusCode.INTERNAL:
            log.exception("%s failed unexpectedly", where, exc_info=error)
        message = str(error) or type(error).__name__
        context.abort(code, f"{where}: {message}")
        raise  # abort raises; a context that does not must not swallow the error
