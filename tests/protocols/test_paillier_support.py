"""Shared test material for the Paillier tests: session-cached keys, tables, deterministic bytes."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache

from protocols.masks import MaskTable, build_mask_table, generate_masks
from protocols.paillier import PaillierPrivateKey, PaillierPublicKey, encrypt, generate_keypair


def cached_keypair(bits: int = 1024, slot: int = 0) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """One key pair per (size, slot) for the whole test session (key generation is slow)."""
    return _keypair(bits, slot)


def cached_table(bits: int = 1024, slot: int = 0) -> MaskTable:
    """The mask table of ``cached_keypair(bits, slot)``."""
    return _table(bits, slot)


@cache
def _keypair(bits: int, slot: int) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    return generate_keypair(bits, insecure_test_size=bits not in (2048, 3072))


@cache
def _table(bits: int, slot: int) -> MaskTable:
    return build_mask_table(_keypair(bits, slot)[0])


def seeded_bytes(seed: int) -> Callable[[int], bytes]:
    """A deterministic stand-in for ``secrets.token_bytes`` (tests only)."""
    source = random.Random(seed)
    return source.randbytes


def encrypt_indicators(
    public_key: PaillierPublicKey, table: MaskTable, matched: list[bool]
) -> list[int]:
    """Enc(1)/Enc(0) per position, as the coordinator would produce them."""
    masks = generate_masks(table, len(matched))
    return [encrypt(public_key, int(bit), mask) for bit, mask in zip(matched, masks, strict=True)]
