"""Mutual TLS material of one party: its CA, certificate and key, as gRPC credentials."""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from runtime.config_file import ConfigError, refuse_unknown_keys, require

INSECURE_FLAG = "insecure_plaintext"
TLS_KEYS = frozenset({"ca", "cert", "key"})


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


def tls_problems(tls: TLSFiles, where: str) -> list[str]:
    """What stops `tls` from working, one line each: unreadable or non-PEM files, a key that
    is not the certificate's, a certificate the CA did not sign."""
    problems: list[str] = []
    loaded: dict[str, bytes] = {}
    for which, path in (("ca", tls.ca), ("cert", tls.cert), ("key", tls.key)):
        try:
            loaded[which] = path.read_bytes()
        except OSError as error:
            problems.append(f"{where} [tls].{which}: cannot read {path}: {error.strerror}")
    if problems:
        return problems
    try:
        ca = x509.load_pem_x509_certificate(loaded["ca"])
    except ValueError:
        return [f"{where} [tls].ca: {tls.ca} is not a PEM certificate"]
    try:
        cert = x509.load_pem_x509_certificate(loaded["cert"])
    except ValueError:
        return [f"{where} [tls].cert: {tls.cert} is not a PEM certificate"]
    try:
        key = serialization.load_pem_private_key(loaded["key"], password=None)
    except (ValueError, TypeError):
        return [f"{where} [tls].key: {tls.key} is not an unencrypted PEM private key"]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != cert.public_key().public_bytes(
        encoding, public
    ):
        problems.append(
            f"{where} [tls].key: {tls.key} is not the private key of certificate {tls.cert} "
            "(use the .key file made with that .pem by `gongying certs init`)"
        )
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        problems.append(
            f"{where} [tls].cert: {tls.cert} is not signed by the CA in {tls.ca} "
            "(every party's certificate must come from the same `gongying certs init`)"
        )
    return problems


def speaks_tls(address: str, timeout: float = 3.0) -> bool:
    """Whether the server at HOST:PORT answers a TLS handshake (for a plaintext caller's hint)."""
    host, _, port = address.rpartition(":")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw,
            context.wrap_socket(raw) as wrapped,
        ):
            wrapped.do_handshake()
    except ssl.SSLError as error:
        # a TLS server that wants a client certificate answers with an alert
        return "ALERT" in str(error).upper()
    except (OSError, ValueError):
        return False
    return True


def transport_problems(tls: TLSFiles | None, insecure_plaintext: bool, where: str) -> list[str]:
    """A missing or contradictory transport setting, and what is wrong with the TLS files."""
    if tls is None and not insecure_plaintext:
        return [
            f"{where}: no [tls] table (ca, cert, key); create certificates with `gongying certs "
            f"init` and add them, or set {INSECURE_FLAG} = true for a throwaway local test"
        ]
    if tls is not None and insecure_plaintext:
        return [f"{where}: both a [tls] table and {INSECURE_FLAG} = true are set; remove one"]
    return tls_problems(tls, where) if tls is not None else []


# The SDK's name for the TLS files a querier presents to the coordinator.
ClientTLS = TLSFiles


def parse_tls_table(raw: Mapping[str, Any], base: Path, where: str) -> TLSFiles | None:
    """The `[tls]` table (ca, cert, key; relative to the config's folder), or None."""
    if "tls" not in raw:
        return None
    table = require(raw, "tls", dict, where)
    refuse_unknown_keys(table, TLS_KEYS, f"{where} [tls]")

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
