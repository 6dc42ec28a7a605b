"""Starting and stopping a gRPC server with health checking and graceful shutdown."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from gongying.identity import AllowListInterceptor
from gongying.tls import TLSFiles

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
GRACE_SECONDS = 10.0


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
        interceptors=[AllowListInterceptor(allowed)] if tls is not None else None,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    register(server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if tls is not None:
        port = server.add_secure_port(address, tls.server_credentials())
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    server.start()
    for name in ("", *service_names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, health_servicer)


def wait_for_termination(running: RunningServer, on_stop: Callable[[], None]) -> None:
    """Block until SIGTERM or SIGINT, then stop gracefully and run `on_stop`."""
    stopping = threading.Event()

    def handle(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stopping.wait()
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
    ]
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(address, tls.channel_credentials(), options=options)
