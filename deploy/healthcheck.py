"""Health probe for a Gongying node or coordinator, over mutual TLS.

Used by the image's HEALTHCHECK, by compose and by the Kubernetes exec probes. It reads the
party's own config file (GONGYING_CONFIG, or the first argument): `listen` gives the port (probed
on 127.0.0.1), `[tls]` the CA, certificate and key (relative to the config file), and `party`
(absent for the coordinator) the name the server's certificate must carry. Every port of a party
requires a client certificate from the CA; any identity may call the health service, so the
party's own certificate is enough. Kubernetes' built-in `grpc:` probe cannot present one, which is
why the manifests use an exec probe running this file.

Exit status 0 when the gRPC health service answers SERVING within GONGYING_HEALTH_TIMEOUT seconds
(default 3), 1 otherwise (the reason on stderr). Imports only grpc, grpc_health and tomllib, so a
probe costs a fraction of a second.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path


def probe(config_path: Path, timeout: float) -> str | None:
    """None when the party at `config_path` reports SERVING; otherwise why not."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        raw = tomllib.loads(config_path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        return f"cannot read {config_path}: {error}"
    port = str(raw.get("listen", "")).rpartition(":")[2]
    if not port.isdigit():
        return f"{config_path}: no HOST:PORT in listen"
    target = f"127.0.0.1:{port}"
    name = str(raw.get("party", "coordinator"))
    tls = raw.get("tls")
    if isinstance(tls, dict):

        def read(key: str) -> bytes:
            path = Path(str(tls[key]))
            return (path if path.is_absolute() else config_path.parent / path).read_bytes()

        try:
            credentials = grpc.ssl_channel_credentials(read("ca"), read("key"), read("cert"))
        except (OSError, KeyError) as error:
            return f"{config_path} [tls]: {error}"
        channel = grpc.secure_channel(
            target, credentials, options=[("grpc.ssl_target_name_override", name)]
        )
    else:  # insecure_plaintext = true (throwaway local tests only)
        channel = grpc.insecure_channel(target)
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError as error:
            return f"{name} at {target}: {error.code().name} {error.details()}"
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return f"{name} at {target}: {status}"
    return None


def main(argv: list[str]) -> int:
    config = argv[1] if len(argv) > 1 else os.environ.get("GONGYING_CONFIG", "")
    if not config:
        print("usage: healthcheck.py CONFIG (or set GONGYING_CONFIG)", file=sys.stderr)
        return 1
    why = probe(Path(config), float(os.environ.get("GONGYING_HEALTH_TIMEOUT", "3")))
    if why is not None:
        print(f"unhealthy: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
