"""Starting and stopping a gRPC server with health checking and graceful shutdown."""

from __future__ import annotations

import errno
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from model.errors import StreamError
from runtime.identity import AllowListInterceptor
from runtime.tls import TLSFiles

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
GRACE_SECONDS = 10.0
RECONNECT_BACKOFF_MS = 1000


class _Malformed:
    """Stands in for a request message that could not be parsed."""

    def __init__(self, error: BaseException) -> None:
        self.error = f"{type(error).__name__}: {error}"


def _tolerant(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as error:  # DecodeError and friends: the caller sent garbage
            return _Malformed(error)

    return parse


class MalformedRequestInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Answers a request that is not a valid message with INVALID_ARGUMENT and a message.

    Without it gRPC reports INTERNAL ("Exception deserializing request!") and logs a traceback.
    A bad message inside a request stream raises StreamError in the handler's iteration, which
    every servicer maps to INVALID_ARGUMENT.
    """

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = details.method
        parse = _tolerant(handler.request_deserializer)
        serializer = handler.response_serializer
        if not handler.request_streaming:
            behavior = handler.unary_stream if handler.response_streaming else handler.unary_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                if isinstance(request, _Malformed):
                    context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{method}: the request is not a valid message ({request.error})",
                    )
                return behavior(request, context)

            make = (
                grpc.unary_stream_rpc_method_handler
                if handler.response_streaming
                else grpc.unary_unary_rpc_method_handler
            )
            return make(unary, request_deserializer=parse, response_serializer=serializer)
        behavior = handler.stream_stream if handler.response_streaming else handler.stream_unary

        def checked(requests: Iterator[Any]) -> Iterator[Any]:
            for request in requests:
                if isinstance(request, _Malformed):
                    raise StreamError(
                        f"{method}: a message in the stream is not valid ({request.error})"
                    )
                yield request

        def streaming(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            return behavior(checked(requests), context)

        make = (
            grpc.stream_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.stream_unary_rpc_method_handler
        )
        return make(streaming, request_deserializer=parse, response_serializer=serializer)


@dataclass
class RunningServer:
    """A started gRPC server, the port it bound, and its health servicer."""

    server: grpc.Server
    port: int
    health: health.HealthServicer

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Report NOT_SERVING, stop accepting, let in-flight calls finish within `grace`."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_server(
    address: str,
    register: Callable[[grpc.Server], None],
    service_names: tuple[str, ...],
    threads: int = 32,
    tls: TLSFiles | None = None,
    allowed: Iterable[str] = (),
) -> RunningServer:
    """Bind `address` (port 0 picks a free one), register services and health, and start.

    With `tls` the port needs mutual TLS and only callers whose certificate names one of
    `allowed` reach the services (health excepted); without it the port is plaintext and open.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads),
        interceptors=[
            *([AllowListInterceptor(allowed)] if tls is not None else []),
            MalformedRequestInterceptor(),
        ],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # no port sharing: a second server on a taken port must fail, not split the traffic
            ("grpc.so_reuseport", 0),
        ],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        if tls is not None:
            port = server.add_secure_port(address, tls.server_credentials())
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:  # gRPC's "Failed to bind to address"
        port = 0
    if port == 0:
        raise OSError(f"could not bind {address}: {port_problem(address) or 'bind failed'}")
    server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, health_servicer)


def port_problem(address: str) -> str | None:
    """Why `address` (HOST:PORT) cannot be bound now, or None when it can (port 0 always can)."""
    host, _, port = address.rpartition(":")
    if int(port) == 0:
        return None
    try:
        infos = socket.getaddrinfo(
            host.strip("[]") or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        return f"host {host!r} does not resolve ({error.strerror})"
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} is already in use by another process (another node?)"
            if error.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine"
            return f"cannot bind {address}: {error.strerror}"
    return None


def wait_for_termination(running: RunningServer, on_stop: Callable[[], None]) -> None:
    """Block until SIGTERM or SIGINT, then stop gracefully and run `on_stop`."""
    stopping = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    # Wake up regularly: a signal the kernel delivers to one of gRPC's threads only sets a flag,
    # and Python runs the handler when the main thread next executes bytecode.
    while not stopping.wait(0.25):
        pass
    running.stop()
    on_stop()


def channel(
    address: str, tls: TLSFiles | None = None, server_name: str | None = None
) -> grpc.Channel:
    """A client channel with the project's message limits; mutual TLS when `tls` is given.

    `server_name` is the identity the server's certificate must carry (a party name, or
    `coordinator`); without it the certificate must match the host in `address`.
    """
    options: list[tuple[str, str | int]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # a restarted peer is found again within a second: gRPC's default backoff grows to
        # minutes while the peer is down, and every call in the meantime fails at once
        ("grpc.initial_reconnect_backoff_ms", RECONNECT_BACKOFF_MS // 5),
        ("grpc.min_reconnect_backoff_ms", RECONNECT_BACKOFF_MS // 5),
        ("grpc.max_reconnect_backoff_ms", RECONNECT_BACKOFF_MS),
    ]
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(address, tls.channel_credentials(), options=options)
