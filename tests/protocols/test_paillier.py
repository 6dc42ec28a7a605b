"""Paillier core: interoperability with phe, homomorphic laws, CRT, checks, serialisation."""

from __future__ import annotations

import json

import gmpy2
import phe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.paillier import (
    InvalidCiphertext,
    InvalidKey,
    PaillierPrivateKey,
    PaillierPublicKey,
    add,
    add_plain,
    check_ciphertext,
    check_ciphertexts,
    ciphertext_from_bytes,
    ciphertext_to_bytes,
    decode_signed,
    encrypt,
    generate_keypair,
    mul_plain,
    rerandomise,
)
from tests.protocols.test_paillier_support import cached_keypair, from_phe, to_phe

PUB, PRIV = cached_keypair()
N = PUB.n
PHE_PUB = phe.PaillierPublicKey(N)
PHE_PRIV = to_phe(PRIV)
plaintexts = st.integers(min_value=0, max_value=N - 1)
units = st.integers(min_value=2, max_value=N - 1).filter(lambda r: gmpy2.gcd(r, N) == 1)
scalars = st.integers(min_value=-(2**64), max_value=2**64)


def mask_of(r: int) -> int:
    return int(gmpy2.powmod(r, N, PUB.n_square))


@settings(max_examples=30, deadline=None)
@given(m=plaintexts, r=units)
def test_our_encryption_matches_phe_raw_encrypt_and_decrypts_with_phe(m: int, r: int) -> None:
    ours = encrypt(PUB, m, mask_of(r))
    assert ours == PHE_PUB.raw_encrypt(m, r_value=r)
    assert PHE_PRIV.raw_decrypt(ours) == m


@settings(max_examples=30, deadline=None)
@given(value=st.integers(min_value=-(2**200), max_value=2**200))
def test_phe_ciphertexts_decrypt_with_our_crt(value: int) -> None:
    encrypted = PHE_PUB.encrypt(value)
    assert PRIV.decrypt(encrypted.ciphertext(be_secure=True)) == PHE_PRIV.raw_decrypt(
        encrypted.ciphertext(be_secure=False)
    )
    assert PRIV.decrypt_signed(PHE_PUB.raw_encrypt(value % N)) == value


@settings(max_examples=30, deadline=None)
@given(m1=plaintexts, m2=plaintexts, k=scalars, r1=units, r2=units)
def test_homomorphic_operations(m1: int, m2: int, k: int, r1: int, r2: int) -> None:
    c1, c2 = encrypt(PUB, m1, mask_of(r1)), encrypt(PUB, m2, mask_of(r2))
    assert PRIV.decrypt(add(PUB, c1, c2)) == (m1 + m2) % N
    assert PRIV.decrypt(add_plain(PUB, c1, k)) == (m1 + k) % N
    assert PRIV.decrypt(mul_plain(PUB, c1, k)) == (m1 * k) % N
    fresh = rerandomise(PUB, c1, mask_of(r2))
    assert fresh != c1
    assert PRIV.decrypt(fresh) == m1
    # phe agrees on the sum of the same ciphertexts.
    phe_sum = phe.EncryptedNumber(PHE_PUB, c1) + phe.EncryptedNumber(PHE_PUB, c2)
    assert phe_sum.ciphertext(be_secure=False) == add(PUB, c1, c2)


@given(m=st.integers(min_value=-(N // 2), max_value=N // 2))
def test_decode_signed_inverts_reduction_mod_n(m: int) -> None:
    assert decode_signed(PUB, m % N) == m


def test_decode_signed_refuses_out_of_range() -> None:
    with pytest.raises(ValueError, match="residue"):
        decode_signed(PUB, N)


def test_check_ciphertext_accepts_valid_and_names_each_problem() -> None:
    c = encrypt(PUB, 5, mask_of(7))
    fingerprint = PUB.fingerprint()
    check_ciphertext(PUB, c, fingerprint)
    check_ciphertexts(PUB, [c, c], fingerprint)
    other_pub, _ = cached_keypair(1024, slot=1)
    with pytest.raises(InvalidCiphertext, match="encrypted against a different key"):
        check_ciphertext(PUB, c, other_pub.fingerprint())
    for bad in (0, int(PUB.n_square), int(PUB.n_square) + 5, -3):
        with pytest.raises(InvalidCiphertext, match="out of range"):
            check_ciphertext(PUB, bad, fingerprint)
    with pytest.raises(InvalidCiphertext, match=r"gcd\(c, n\)"):
        check_ciphertext(PUB, PRIV.p * 3, fingerprint)
    with pytest.raises(InvalidCiphertext, match=r"ciphertext 2 is not a unit"):
        check_ciphertexts(PUB, [c, c, PRIV.q, c], fingerprint)
    with pytest.raises(InvalidCiphertext, match=r"ciphertext 1 out of range"):
        check_ciphertexts(PUB, [c, 0], fingerprint)


def test_ciphertext_bytes_round_trip_with_fixed_width() -> None:
    for c in (1, encrypt(PUB, 9, mask_of(3)), int(PUB.n_square) - 1):
        data = ciphertext_to_bytes(PUB, c)
        assert len(data) == PUB.ciphertext_width == 256
        assert ciphertext_from_bytes(PUB, data) == c
    with pytest.raises(InvalidCiphertext, match="255 bytes, expected 256"):
        ciphertext_from_bytes(PUB, bytes(255))


def test_public_key_bytes_and_fingerprint() -> None:
    assert PaillierPublicKey.from_bytes(PUB.to_bytes()) == PUB
    assert len(PUB.fingerprint()) == 32
    assert PUB.fingerprint() != cached_keypair(1024, slot=1)[0].fingerprint()
    assert PUB.g == N + 1
    with pytest.raises(InvalidKey):
        PaillierPublicKey.from_bytes(b"\x00\x01")
    with pytest.raises(InvalidKey, match="odd"):
        PaillierPublicKey(2**64)


def test_private_key_json_round_trip_and_tamper_detection() -> None:
    text = PRIV.to_json()
    restored = PaillierPrivateKey.from_json(text)
    assert restored == PRIV
    c = encrypt(PUB, 1234, mask_of(11))
    assert restored.decrypt(c) == 1234
    assert str(PRIV.p) not in repr(PRIV)
    doc = json.loads(text)
    doc["p"] = format(PRIV.p + 2, "x")
    with pytest.raises(InvalidKey, match="do not factor"):
        PaillierPrivateKey.from_json(json.dumps(doc))
    doc = json.loads(text)
    doc["fingerprint"] = "00" * 32
    with pytest.raises(InvalidKey, match="fingerprint"):
        PaillierPrivateKey.from_json(json.dumps(doc))
    with pytest.raises(InvalidKey, match="format"):
        PaillierPrivateKey.from_json(json.dumps({"format": "pem"}))
    with pytest.raises(InvalidKey, match="not JSON"):
        PaillierPrivateKey.from_json("{")


def test_key_sizes_other_than_2048_and_3072_are_refused_unless_testing() -> None:
    with pytest.raises(InvalidKey, match="1024 bits is not allowed"):
        generate_keypair(1024)
    with pytest.raises(InvalidKey, match="must be even and >= 512"):
        generate_keypair(256, insecure_test_size=True)
    pub, priv = generate_keypair(512, insecure_test_size=True)
    assert pub.bits == 512
    assert priv.decrypt(encrypt(pub, 3, int(gmpy2.powmod(5, pub.n, pub.n_square)))) == 3


def test_phe_key_conversion_round_trip() -> None:
    assert from_phe(PHE_PRIV) == PRIV
