"""Fast masks: valid encryptions of zero, distinct, the documented algorithm, and the pool."""

from __future__ import annotations

import pickle
import threading

import gmpy2
import phe
import pytest

from protocols.masks import (
    MaskPool,
    MaskPoolExhausted,
    MaskTableMismatch,
    build_mask_table,
    exponent_bits_for,
    generate_masks,
)
from protocols.paillier import encrypt, generate_keypair
from tests.protocols.test_paillier_support import (
    cached_keypair,
    cached_table,
    seeded_bytes,
    to_phe,
)

PUB, PRIV = cached_keypair()
TABLE = cached_table()


def test_masks_are_distinct_encryptions_of_zero() -> None:
    masks = generate_masks(TABLE, 200)
    assert len(set(masks)) == 200
    assert all(PRIV.decrypt(mask) == 0 for mask in masks)
    assert all(0 < mask < PUB.n_square and gmpy2.gcd(mask, PUB.n) == 1 for mask in masks)
    phe_pub, phe_priv = phe.PaillierPublicKey(PUB.n), to_phe(PRIV)
    for value, mask in zip((0, 1, 42, PUB.n - 1), masks, strict=False):
        encrypted = phe.EncryptedNumber(phe_pub, encrypt(PUB, value, mask))
        assert phe_priv.raw_decrypt(encrypted.ciphertext(be_secure=False)) == value


def test_mask_is_h_s_to_the_exponent_drawn_from_the_random_bytes() -> None:
    table = build_mask_table(PUB, random_bytes=seeded_bytes(1))
    digits = table.exponent_bits // 8
    stream = seeded_bytes(2)
    masks = generate_masks(table, 3, random_bytes=seeded_bytes(2))
    for mask in masks:
        exponent = int.from_bytes(stream(digits), "little")
        assert mask == gmpy2.powmod(table.h_s, exponent, PUB.n_square)
    # h_s is an n-th power of -x^2: h_s^(phi/...) structure aside, it is an encryption of 0.
    assert PRIV.decrypt(table.h_s) == 0
    assert generate_masks(table, 3, random_bytes=seeded_bytes(2)) == masks


def test_table_pickles_without_caches_and_keeps_working() -> None:
    generate_masks(TABLE, 1)  # populate the mpz cache
    data = pickle.dumps(TABLE)
    restored = pickle.loads(data)
    assert restored == TABLE
    assert "_mpz_rows" not in restored.__dict__
    assert PRIV.decrypt(generate_masks(restored, 1)[0]) == 0
    assert all(isinstance(entry, int) for row in TABLE.rows for entry in row)


def test_exponent_length_is_twice_the_security_level() -> None:
    assert exponent_bits_for(1024) == 224
    assert exponent_bits_for(2048) == 224
    assert exponent_bits_for(3072) == 256
    assert TABLE.exponent_bits == 224
    assert len(TABLE.rows) == 28 and all(len(row) == 256 for row in TABLE.rows)


def test_generate_zero_masks_and_refuse_negative() -> None:
    assert generate_masks(TABLE, 0) == []
    with pytest.raises(ValueError, match="mask count"):
        generate_masks(TABLE, -1)


def test_strict_pool_hands_out_each_mask_once_and_raises_when_short() -> None:
    pool = MaskPool(PUB)
    masks = generate_masks(TABLE, 10)
    pool.fill(masks)
    first = pool.take(4)
    second = pool.take(6)
    assert first + second == masks
    assert len(pool) == 0
    pool.fill(masks[:2])
    with pytest.raises(MaskPoolExhausted, match="holds 2 masks, 3 requested"):
        pool.take(3)
    assert len(pool) == 2  # a refused take hands out nothing


def test_pool_with_table_draws_the_shortfall_fresh() -> None:
    pool = MaskPool(PUB, TABLE)
    stored = generate_masks(TABLE, 3)
    pool.fill(stored)
    taken = pool.take(8)
    assert taken[:3] == stored
    assert len(set(taken)) == 8
    assert pool.drawn_on_demand == 5
    assert all(PRIV.decrypt(mask) == 0 for mask in taken[3:])


def test_pool_never_hands_out_a_mask_twice_under_threads() -> None:
    pool = MaskPool(PUB)
    masks = generate_masks(TABLE, 2000)
    pool.fill(masks)
    results: list[list[int]] = [[] for _ in range(8)]

    def worker(slot: int) -> None:
        while True:
            try:
                results[slot].extend(pool.take(7))
            except MaskPoolExhausted:
                return

    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handed_out = [mask for batch in results for mask in batch]
    assert len(handed_out) == len(set(handed_out)) == 2000 - 2000 % 7
    assert set(handed_out) <= set(masks)


def test_pool_refuses_a_table_of_another_key() -> None:
    with pytest.raises(MaskTableMismatch, match="different Paillier key"):
        MaskPool(cached_keypair(1024, slot=1)[0], TABLE)


def test_2048_bit_smoke() -> None:
    pub, priv = generate_keypair(2048)
    table = build_mask_table(pub)
    masks = generate_masks(table, 4)
    assert table.exponent_bits == 224
    assert [priv.decrypt(encrypt(pub, m, r)) for m, r in zip(range(4), masks, strict=True)] == [
        0,
        1,
        2,
        3,
    ]
    assert to_phe(priv).raw_decrypt(encrypt(pub, 77, masks[0])) == 77
