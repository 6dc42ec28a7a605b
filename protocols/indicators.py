"""Encrypted match indicators (DESIGN 3.3 step 2): Enc(1) for a matched position, Enc(0) otherwise.

With a pre-made mask r^n mod n^2, Enc(0) is the mask itself and Enc(1) = (1 + n) * mask mod n^2,
so the query does at most one multiplication per position. Each mask must be fresh (never reused).
"""

from __future__ import annotations

from collections.abc import Sequence

import gmpy2
import numpy as np

from protocols.paillier import PaillierPublicKey

AUDIENCE_PATTERNS = {"shared": "matched", "prospects": "not matched", "base": "every member"}
"""Which positions get Enc(1) for each audience a profile may describe."""


def audience_indicators(matched: np.ndarray, audience: str) -> np.ndarray:
    """The 0/1 indicator per position for an audience: the matches (`shared`), the non-matches
    (`prospects`: the owner's members the querier lacks) or every position (`base`)."""
    if audience == "shared":
        return matched
    if audience == "prospects":
        return ~matched.astype(bool)
    if audience == "base":
        return np.ones(len(matched), dtype=bool)
    raise ValueError(f"audience {audience!r} is not one of {', '.join(AUDIENCE_PATTERNS)}")


def encrypt_indicators(
    public_key: PaillierPublicKey, matched: np.ndarray, masks: Sequence[int]
) -> bytes:
    """Fixed-width big-endian ciphertexts, concatenated, one per position of `matched`."""
    if len(masks) != len(matched):
        raise ValueError(f"{len(matched)} indicators need as many masks, got {len(masks)}")
    n_square = gmpy2.mpz(public_key.n_square)
    g = gmpy2.mpz(public_key.n + 1)
    width = public_key.ciphertext_width
    out = bytearray()
    for hit, mask in zip(matched.tolist(), masks, strict=True):
        value = gmpy2.f_mod(g * mask, n_square) if hit else gmpy2.mpz(mask)
        out += int(value).to_bytes(width, "big")
    return bytes(out)
