"""Paillier micro-benchmark: phe versus our masks, ciphertext products and CRT decryption.

Run ``python -m bench.paillier_ops`` (2048-bit, small sample) or ``--bits 3072 --sample 200``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import phe

from protocols.masks import build_mask_table, generate_masks
from protocols.paillier import PaillierPrivateKey, PaillierPublicKey, add, encrypt


def _rate(count: int, action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return count / (time.perf_counter() - start)


def measure(bits: int, sample: int) -> dict[str, float]:
    """Operations per second on one core for phe and for this package, at modulus ``bits``."""
    phe_public, phe_private = phe.generate_paillier_keypair(n_length=bits)
    public_key = PaillierPublicKey(int(phe_public.n))
    private_key = PaillierPrivateKey(public_key, int(phe_private.p), int(phe_private.q))
    table = build_mask_table(public_key)
    values = list(range(sample))
    products = sample * 20

    phe_encrypt = _rate(sample, lambda: [phe_public.encrypt(v) for v in values])
    ours_masks = _rate(products, lambda: generate_masks(table, products))
    masks = generate_masks(table, sample)
    ours_cts = [encrypt(public_key, v, r) for v, r in zip(values, masks, strict=True)]
    phe_cts = [phe.EncryptedNumber(phe_public, c) for c in ours_cts]

    def phe_sum() -> None:
        acc = phe_cts[0]
        for _ in range(20):
            for c in phe_cts:
                acc = acc + c

    def ours_sum() -> None:
        acc = ours_cts[0]
        for _ in range(20):
            for c in ours_cts:
                acc = add(public_key, acc, c)

    return {
        "bits": bits,
        "sample": sample,
        "phe_encrypt_per_s": phe_encrypt,
        "ours_masks_per_s": ours_masks,
        "mask_speedup": ours_masks / phe_encrypt,
        "phe_add_per_s": _rate(products, phe_sum),
        "ours_add_per_s": _rate(products, ours_sum),
        "phe_decrypt_per_s": _rate(sample, lambda: [phe_private.decrypt(c) for c in phe_cts]),
        "ours_crt_decrypt_per_s": _rate(sample, lambda: [private_key.decrypt(c) for c in ours_cts]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=2048, choices=(2048, 3072))
    parser.add_argument("--sample", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(measure(args.bits, args.sample), indent=2))


if __name__ == "__main__":
    main()
