"""Starting nodes and a coordinator as separate local processes, and waiting until they serve."""

from __future__ import annotations

import functools
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from runtime.serving import channel as open_channel
from runtime.tls import TLSFiles


class LaunchError(RuntimeError):
    """A local party process did not start or did not become healthy in time."""


LOWEST_PORT = 20_000  # above the well-known database and broker ports
_PORT_DRAWS = random.SystemRandom()  # not the global generator, which tests and callers may seed


@functools.cache
def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections and to listeners on port 0."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port() -> int:
    """A TCP port on loopback that is free right now, picked at random below the kernel's
    ephemeral range: between this call and the bind that follows, no outgoing connection and no
    listener on port 0 (of this machine's other processes) can take it."""
    low = _ephemeral_low()
    tries = 200 if low - LOWEST_PORT >= 1_000 else 0
    draws = (_PORT_DRAWS.randrange(LOWEST_PORT, low) for _ in range(tries))
    for port in itertools.chain(draws, [0]):  # port 0: the kernel's choice, if none was free
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            bound: int = probe.getsockname()[1]
            return bound
    raise LaunchError("no free TCP port on 127.0.0.1")


def wait_healthy(
    address: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    tls: TLSFiles | None = None,
    server_name: str | None = None,
) -> None:
    """Poll the gRPC health service at `address` until it reports SERVING.

    With `tls` the probe presents that certificate (any identity from the CA may probe health)
    and checks the server's certificate names `server_name` when given.
    """
    deadline = time.monotonic() + timeout
    with open_channel(address, tls, server_name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise LaunchError(f"process for {address} exited with status {process.returncode}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise LaunchError(f"{address} did not report SERVING within {timeout:.0f} s")


@dataclass
class LocalProcesses:
    """Party processes started by this program; stopped together with SIGTERM."""

    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(
        self,
        name: str,
        role: str,
        config: Path,
        address: str,
        timeout: float = 90.0,
        tls: TLSFiles | None = None,
        server_name: str | None = None,
    ) -> None:
        """Run `gongying ROLE serve --config CONFIG` and wait until it is healthy
        (probing over mutual TLS with `tls`)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gongying", role, "serve", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.processes[name] = process
        try:
            wait_healthy(address, timeout, process, tls, server_name)
        except LaunchError as error:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise LaunchError(f"{role} {name}: {error}; log {log_path}:\n{tail}") from None

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every process, then SIGKILL what is still alive after `grace` seconds."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
