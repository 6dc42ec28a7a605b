"""Known-answer tests: fixed key, masks and plaintexts -> ciphertexts, checked against phe.

Regenerate (only when the format changes) with ``python -m tests.protocols.test_paillier_vectors``.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import gmpy2
import phe
import pytest

from protocols.masks import build_mask_table, generate_masks
from protocols.paillier import (
    PaillierPrivateKey,
    PaillierPublicKey,
    add,
    add_plain,
    encrypt,
    generate_keypair,
    mul_plain,
)
from tests.protocols.test_paillier_support import to_phe

VECTORS = Path(__file__).parent / "vectors" / "paillier_kat.json"


def _load() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(VECTORS.read_text())
    return doc


def _key(doc: dict[str, Any]) -> PaillierPrivateKey:
    return PaillierPrivateKey(
        PaillierPublicKey(int(doc["n"], 16)), int(doc["p"], 16), int(doc["q"], 16)
    )


def _replay(data: bytes) -> Any:
    """random_bytes that replays recorded bytes, in order."""
    position = 0

    def take(count: int) -> bytes:
        nonlocal position
        chunk = data[position : position + count]
        position += count
        assert len(chunk) == count, "recorded random bytes exhausted"
        return chunk

    return take


DOC = _load()


@pytest.mark.parametrize("vector", DOC["encryptions"], ids=lambda v: f"m={v['m'][:12]}")
def test_encryption_vectors(vector: dict[str, str]) -> None:
    private_key = _key(DOC)
    public_key = private_key.public_key
    m, r = int(vector["m"], 16), int(vector["r"], 16)
    mask = int(vector["mask"], 16)
    expected = int(vector["ciphertext"], 16)
    assert gmpy2.powmod(r, public_key.n, public_key.n_square) == mask
    assert encrypt(public_key, m, mask) == expected
    assert phe.PaillierPublicKey(public_key.n).raw_encrypt(m, r_value=r) == expected
    assert private_key.decrypt(expected) == m
    assert to_phe(private_key).raw_decrypt(expected) == m


@pytest.mark.parametrize("vector", DOC["operations"], ids=lambda v: v["op"])
def test_operation_vectors(vector: dict[str, str]) -> None:
    public_key = _key(DOC).public_key
    c1, arg = int(vector["c1"], 16), int(vector["arg"], 16)
    op = {"add": add, "add_plain": add_plain, "mul_plain": mul_plain}[vector["op"]]
    assert op(public_key, c1, arg) == int(vector["result"], 16)


def test_mask_vectors() -> None:
    masks_doc = DOC["masks"]
    public_key = _key(DOC).public_key
    table = build_mask_table(
        public_key, random_bytes=_replay(bytes.fromhex(masks_doc["table_random"]))
    )
    assert table.h_s == int(masks_doc["h_s"], 16)
    masks = generate_masks(
        table,
        len(masks_doc["masks"]),
        random_bytes=_replay(bytes.fromhex(masks_doc["exponent_random"])),
    )
    assert masks == [int(m, 16) for m in masks_doc["masks"]]
    assert all(to_phe(_key(DOC)).raw_decrypt(m) == 0 for m in masks)


def write_vectors() -> None:
    """Generate the vector file once (512-bit key: tests only) and cross-check it with phe."""
    public_key, private_key = generate_keypair(512, insecure_test_size=True)
    phe_public = phe.PaillierPublicKey(public_key.n)
    encryptions = []
    plaintexts = [0, 1, 2, 255, 2**64 + 3, public_key.n - 1, public_key.n // 2]
    ciphertexts = []
    for m in plaintexts:
        r = secrets.randbelow(public_key.n - 2) + 2
        c = phe_public.raw_encrypt(m, r_value=r)
        mask = int(gmpy2.powmod(r, public_key.n, public_key.n_square))
        assert encrypt(public_key, m, mask) == c
        ciphertexts.append(c)
        encryptions.append(
            {"m": f"{m:x}", "r": f"{r:x}", "mask": f"{mask:x}", "ciphertext": f"{c:x}"}
        )
    operations = []
    for op, c1, arg in (
        ("add", ciphertexts[1], ciphertexts[4]),
        ("add_plain", ciphertexts[3], 1000),
        ("mul_plain", ciphertexts[2], 123456789),
    ):
        e1 = phe.EncryptedNumber(phe_public, c1)
        if op == "add":
            result = (e1 + phe.EncryptedNumber(phe_public, arg)).ciphertext(be_secure=False)
        elif op == "add_plain":
            result = e1._raw_add(c1, phe_public.raw_encrypt(arg, r_value=1))
        else:
            result = e1._raw_mul(arg)
        operations.append({"op": op, "c1": f"{c1:x}", "arg": f"{arg:x}", "result": f"{result:x}"})
    table_random = secrets.token_bytes(256)
    exponent_random = secrets.token_bytes(4 * 28)
    table = build_mask_table(public_key, random_bytes=_replay(table_random))
    masks = generate_masks(table, 4, random_bytes=_replay(exponent_random))
    doc = {
        "comment": "Paillier KATs, 512-bit TEST key (insecure); ciphertexts cross-checked with phe",
        "n": f"{public_key.n:x}",
        "p": f"{private_key.p:x}",
        "q": f"{private_key.q:x}",
        "encryptions": encryptions,
        "operations": operations,
        "masks": {
            "table_random": table_random.hex(),
            "exponent_random": exponent_random.hex(),
            "h_s": f"{table.h_s:x}",
            "masks": [f"{m:x}" for m in masks],
        },
    }
    VECTORS.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    write_vectors()
