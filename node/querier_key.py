"""The querier's Paillier key pair on disk: loaded at start-up, created once when missing."""

from __future__ import annotations

import os
from pathlib import Path

from protocols.paillier import PaillierPrivateKey, generate_keypair


def load_or_create_key(path: Path, bits: int) -> PaillierPrivateKey:
    """Read the key file, or generate a `bits`-bit key pair and write it with mode 0600."""
    if path.exists():
        return PaillierPrivateKey.from_json(path.read_text())
    _, private_key = generate_keypair(bits)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(private_key.to_json())
    return private_key
