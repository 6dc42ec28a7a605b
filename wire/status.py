"""The one table from domain errors to gRPC status codes, used by every servicer."""

from __future__ import annotations

import logging
from types import TracebackType

import grpc

from connectors.errors import ConnectorError, IdentifierTypeError, ProfileError
from model.errors import (
    AttributeTypeError,
    GovernanceRefusal,
    IdentifierUnavailable,
    QueryRefused,
    SessionExists,
    SessionNotFound,
    StreamError,
)
from protocols.matching import DuplicatePoints
from protocols.paillier import PaillierError
from protocols.profile import AttributeMismatch, MissingAttributeValues, PlaintextOverflow
from protocols.psi import KeyForgotten
from protocols.ristretto import InvalidPoint
from runtime.config_file import ConfigError
from runtime.signing import SignedQueryError

log = logging.getLogger(__name__)


class QueryFailed(RuntimeError):
    """A query could not complete; carries the status code to report and names the party."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


_TABLE: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
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
    (KeyForgotten, grpc.StatusCode.NOT_FOUND),
    (SessionExists, grpc.StatusCode.ALREADY_EXISTS),
    (PaillierError, grpc.StatusCode.INVALID_ARGUMENT),
    (AttributeMismatch, grpc.StatusCode.INVALID_ARGUMENT),
    (MissingAttributeValues, grpc.StatusCode.INVALID_ARGUMENT),
    (PlaintextOverflow, grpc.StatusCode.FAILED_PRECONDITION),
    (AttributeTypeError, grpc.StatusCode.FAILED_PRECONDITION),
    (SignedQueryError, grpc.StatusCode.PERMISSION_DENIED),
)


def status_for(error: BaseException) -> grpc.StatusCode:
    """The status code for a domain error; INTERNAL for anything unexpected."""
    if isinstance(error, QueryFailed):
        return error.code
    if isinstance(error, GovernanceRefusal):
        return grpc.StatusCode[error.code]
    for kind, code in _TABLE:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


class _Reported:
    """The context of one servicer handler; `__exit__` returns None, so it never swallows."""

    def __init__(self, context: grpc.ServicerContext, where: str) -> None:
        self.context = context
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None or not isinstance(error, Exception):
            return
        context, where = self.context, self.where
        if isinstance(error, grpc.RpcError) and not context.is_active():
            # a request stream raises this when the caller cancelled or dropped the call
            log.info("%s: the caller cancelled the call", where)
            context.abort(grpc.StatusCode.CANCELLED, f"{where}: the caller cancelled the call")
        code = status_for(error)
        if code == grpc.StatusCode.INTERNAL:
            log.exception("%s failed unexpectedly", where, exc_info=error)
        message = str(error) or type(error).__name__
        context.abort(code, f"{where}: {message}")


def reported(context: grpc.ServicerContext, where: str) -> _Reported:
    """Turn an exception raised inside a handler into an abort with a mapped status (the only
    place a domain error becomes a gRPC status)."""
    return _Reported(context, where)
