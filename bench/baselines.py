"""OpenMined PSI in cardinality mode, run end to end in one process as a reference point.

Every message is serialised to bytes and parsed back, as if it crossed a wire, and the bytes
are counted. The server's setup message is a Golomb-compressed set (GCS) filter of its blinded
items, so the count can exceed the true intersection with probability at most ``fpr`` over the
whole client set; it never falls short of it.
"""

from __future__ import annotations

import resource
import secrets
import sys
import time
from dataclasses import dataclass

import private_set_intersection.python as psi


@dataclass(frozen=True)
class BaselineResult:
    """One run: the intersection size the client learned, and what it cost."""

    count: int
    seconds: float
    wire_bytes: int
    elements_per_second: float


def run_openmined_cardinality(
    client_items: list[str], server_items: list[str], fpr: float = 1e-9
) -> BaselineResult:
    """Server setup, client request, server response, client count; bytes summed over messages."""
    started = time.perf_counter()
    server = psi.server.CreateWithNewKey(False)
    client = psi.client.CreateWithNewKey(False)

    setup_bytes = server.CreateSetupMessage(
        fpr, len(client_items), server_items
    ).SerializeToString()
    request_bytes = client.CreateRequest(client_items).SerializeToString()
    request = psi.Request()
    request.ParseFromString(request_bytes)
    response_bytes = server.ProcessRequest(request).SerializeToString()

    setup, response = psi.ServerSetup(), psi.Response()
    setup.ParseFromString(setup_bytes)
    response.ParseFromString(response_bytes)
    count = int(client.GetIntersectionSize(setup, response))

    seconds = time.perf_counter() - started
    elements = len(client_items) + len(server_items)
    return BaselineResult(
        count=count,
        seconds=seconds,
        wire_bytes=len(setup_bytes) + len(request_bytes) + len(response_bytes),
        elements_per_second=elements / seconds if seconds > 0 else float("inf"),
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def random_emails(count: int, prefix: str = "") -> list[str]:
    """``count`` distinct random addresses, ``prefix`` prepended to each local part."""
    return [f"{prefix}{secrets.token_hex(8)}@example.com" for _ in range(count)]


def main() -> None:
    """10k x 10k emails with 5k in common; prints count, time, bytes, rate and peak memory."""
    shared = random_emails(5_000, "shared.")
    client = shared + random_emails(5_000, "client.")
    server = shared + random_emails(5_000, "server.")
    result = run_openmined_cardinality(client, server)
    print(f"openmined-psi {psi.__version__} cardinality, 10k x 10k, GCS fpr 1e-9")
    print(f"  count             {result.count} (true {len(shared)})")
    print(f"  wall seconds      {result.seconds:.3f}")
    print(f"  wire bytes        {result.wire_bytes:,}")
    print(f"  elements/s        {result.elements_per_second:,.0f}")
    print(f"  peak RSS MiB      {peak_rss_mb():.1f}")


if __name__ == "__main__":
    main()
