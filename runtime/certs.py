"""A development CA: one ECDSA P-256 TLS identity and one Ed25519 query-signing key per party."""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

COORDINATOR = "coordinator"
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")
PARTY_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
# gRPC's BoringSSL refuses Ed25519 certificates in the TLS handshake
# (NO_COMMON_SIGNATURE_ALGORITHMS), so TLS identities use ECDSA P-256; Ed25519 signs queries.
TLS_CURVE = ec.SECP256R1()


class CertsError(ValueError):
    """Certificates cannot be created as asked (bad party name, files already there, ...)."""


@dataclass(frozen=True)
class PartyFiles:
    """Where one party's TLS certificate and key and its query-signing key pair are."""

    party: str
    cert: Path
    key: Path
    sign_key: Path
    sign_pub: Path


@dataclass(frozen=True)
class CertSet:
    """The development CA certificate and every party's files under one folder."""

    folder: Path
    ca: Path
    ca_key: Path
    parties: dict[str, PartyFiles]


def party_files(folder: Path, party: str) -> PartyFiles:
    """The file layout of `party` under `folder` (the files need not exist)."""
    return PartyFiles(
        party,
        cert=folder / f"{party}.pem",
        key=folder / f"{party}.key",
        sign_key=folder / f"{party}.sign.key",
        sign_pub=folder / f"{party}.sign.pub",
    )


def check_party_names(parties: Sequence[str]) -> tuple[str, ...]:
    """The names with `coordinator` added; lower-case DNS-label-like names, no repeats."""
    for party in parties:
        if not PARTY_NAME.match(party):
            raise CertsError(
                f"party name {party!r} must be 1-63 characters of a-z, 0-9, '_' or '-', "
                "starting and ending with a letter or digit"
            )
    if len(set(parties)) != len(parties):
        raise CertsError(f"a party is named twice in {', '.join(parties)}")
    return (*parties, COORDINATOR) if COORDINATOR not in parties else tuple(parties)


def _write(path: Path, data: bytes, private: bool) -> None:
    """Create `path` with mode 0600 (private) or 0644 before any byte is written."""
    mode = 0o600 if private else 0o644
    if path.exists():
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _private_pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _valid_for(
    days: int, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    """A certificate of `subject`'s key by `issuer`, valid from five minutes ago for `days`."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


def _key_usage(signs_certificates: bool) -> x509.KeyUsage:
    """Digital signatures, and certificate and CRL signing for the CA only."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, days: int) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gongying development CA")])
    return (
        _valid_for(days, name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _party_certificate(
    party: str,
    key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    days: int,
) -> x509.Certificate:
    names: list[x509.GeneralName] = [x509.DNSName(party)]
    names += [x509.DNSName(n) for n in LOOPBACK_NAMES]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party)])
    return (
        _valid_for(days, subject, ca.subject, key.public_key())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def init_certs(
    folder: Path, parties: Sequence[str], days: int = 365, overwrite: bool = False
) -> CertSet:
    """Create a CA and every party's TLS and signing keys under `folder`.

    Layout: ca.pem, ca.key, and per party <party>.pem, <party>.key, <party>.sign.key,
    <party>.sign.pub. Private keys are written with mode 0600. A `coordinator` party is added
    when not named. Existing files are refused unless `overwrite`.
    """
    if days < 1:
        raise CertsError(f"--days must be at least 1, got {days}")
    names = check_party_names(parties)
    folder.mkdir(parents=True, exist_ok=True)
    ca_path, ca_key_path = folder / "ca.pem", folder / "ca.key"
    files = {party: party_files(folder, party) for party in names}
    planned = [ca_path, ca_key_path]
    for entry in files.values():
        planned += [entry.cert, entry.key, entry.sign_key, entry.sign_pub]
    existing = [str(p) for p in planned if p.exists()]
    if existing and not overwrite:
        raise CertsError(f"{', '.join(existing)} already exist; pass --force to replace them")
    ca_key = ec.generate_private_key(TLS_CURVE)
    ca = _ca_certificate(ca_key, days)
    _write(ca_key_path, _private_pem(ca_key), private=True)
    _write(ca_path, ca.public_bytes(serialization.Encoding.PEM), private=False)
    for party, entry in files.items():
        key = ec.generate_private_key(TLS_CURVE)
        cert = _party_certificate(party, key, ca, ca_key, days)
        _write(entry.key, _private_pem(key), private=True)
        _write(entry.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)
        signing = ed25519.Ed25519PrivateKey.generate()
        _write(entry.sign_key, _private_pem(signing), private=True)
        _write(
            entry.sign_pub,
            signing.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            private=False,
        )
    return CertSet(folder, ca_path, ca_key_path, files)
