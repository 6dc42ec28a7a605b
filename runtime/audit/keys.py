"""Loading and writing the Ed25519 PEM keys that sign and verify audit checkpoints."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from runtime.audit.errors import AuditKeyError


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"key file {path} cannot be read: {exc.strerror}") from exc


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The unencrypted Ed25519 private key in PEM file `path`."""
    path = Path(path)
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as exc:
        raise AuditKeyError(f"key file {path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"key file {path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM file `path`."""
    path = Path(path)
    try:
        key = serialization.load_pem_public_key(_read(path))
    except ValueError as exc:
        raise AuditKeyError(f"key file {path} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"key file {path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM of `key`, unencrypted."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of `key`."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
