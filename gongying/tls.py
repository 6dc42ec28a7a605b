"""Mutual TLS material of one party: its CA, certificate and key, as gRPC credentials."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gongying.config_file import ConfigError, require

INSECURE_FLAG = "insecure_plaintext"


class TLSError(ConfigError):
    """A TLS file is missing or unreadable, or the transport settings are contradictory."""


@dataclass(frozen=True)
class TLSFiles:
    """A party's TLS files: the CA that signs every party, its certificate chain and its key."""

    ca: Path
    cert: Path
    key: Path

    def _read(self, which: str, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as error:
            raise TLSError(f"TLS {which} file {path} cannot be read: {error.strerror}") from None

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials for a server that requires and verifies a client certificate."""
        return grpc.ssl_server_credentials(
            [(self._read("key", self.key), self._read("cert", self.cert))],
            root_certificates=self._read("ca", self.ca),
            require_client_auth=True,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials for a client that presents its certificate and verifies the server's."""
        return grpc.ssl_channel_credentials(
            root_certificates=self._read("ca", self.ca),
            private_key=self._read("key", self.key),
            certificate_chain=self._read("cert", self.cert),
        )


# The SDK's name for the TLS files a querier presents to the coordinator.
ClientTLS = TLSFiles


def parse_tls_table(raw: Mapping[str, Any], base: Path, where: str) -> TLSFiles | None:
    """The `[tls]` table (ca, cert, key; relative to the config's folder), or None."""
    if "tls" not in raw:
        return None
    table = require(raw, "tls", dict, where)

    def path(key: str) -> Path:
        value = Path(require(table, key, str, f"{where} [tls]"))
        return value if value.is_absolute() else base / value

    return TLSFiles(ca=path("ca"), cert=path("cert"), key=path("key"))


def transport_security(
    role: str, tls: TLSFiles | None, insecure_plaintext: bool
) -> TLSFiles | None:
    """The TLS files to serve with; refuse plaintext unless `insecure_plaintext` says so.

    Plaintext prints a warning line to stderr: no encryption, no peer identities, no allow-list.
    """
    if tls is not None and insecure_plaintext:
        raise TLSError(f"{role}: both a [tls] table and {INSECURE_FLAG} = true are set; remove one")
    if tls is None and not insecure_plaintext:
        raise TLSError(
            f"{role}: no [tls] table (ca, cert, key); refusing to serve plaintext gRPC. Create "
            "certificates with `gongying certs init`, or set "
            f"{INSECURE_FLAG} = true for a throwaway local test"
        )
    if tls is None:
        print(
            f"WARNING: {role} serves PLAINTEXT gRPC ({INSECURE_FLAG} = true): traffic is "
            "neither encrypted nor authenticated and every caller is accepted",
            file=sys.stderr,
            flush=True,
        )
    return tls
