"""Peer identity from the caller's TLS certificate, and an allow-list checked before any work."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

import grpc

from runtime.certs import LOOPBACK_NAMES

HEALTH_PREFIX = "/grpc.health.v1.Health/"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def peer_identities(context: grpc.ServicerContext) -> tuple[str, ...]:
    """The caller's names: its certificate's DNS SANs (loopback names and IPs left out),
    else its common name; () for a plaintext caller."""
    auth = context.auth_context()
    sans = auth.get("peer_dns") or auth.get("x509_subject_alternative_name") or []
    names = [san.decode("utf-8", "replace") for san in sans]
    names = [n for n in names if n not in LOOPBACK_NAMES and not _is_ip(n)]
    if names:
        return tuple(names)
    common = auth.get("x509_common_name") or []
    return tuple(c.decode("utf-8", "replace") for c in common)


def peer_identity(context: grpc.ServicerContext) -> str | None:
    """The caller's first identity, or None when it presented no certificate."""
    names = peer_identities(context)
    return names[0] if names else None


def authorised_identity(context: grpc.ServicerContext, allowed: frozenset[str]) -> str:
    """The caller's identity that `allowed` lists; abort PERMISSION_DENIED naming it otherwise."""
    names = peer_identities(context)
    for name in names:
        if name in allowed:
            return name
    shown = ", ".join(repr(n) for n in names) or "no certificate identity"
    context.abort(
        grpc.StatusCode.PERMISSION_DENIED,
        f"caller {shown} is not allowed here; allowed: {', '.join(sorted(allowed))}",
    )
    raise AssertionError("context.abort returned")  # pragma: no cover


def _guard(behaviour: Callable[..., Any], allowed: frozenset[str]) -> Callable[..., Any]:
    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        authorised_identity(context, allowed)
        return behaviour(request, context)

    return guarded


class AllowListInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses every call whose peer identity is not allowed, before the servicer runs.

    The gRPC health service is exempt: any certificate from the CA may probe it (the TLS
    handshake itself still requires one).
    """

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(allowed)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(HEALTH_PREFIX):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _guard(handler.unary_unary, self.allowed),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _guard(handler.unary_stream, self.allowed),
                handler.request_deserializer,
                handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _guard(handler.stream_unary, self.allowed),
                handler.request_deserializer,
                handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            _guard(handler.stream_stream, self.allowed),
            handler.request_deserializer,
            handler.response_serializer,
        )
