"""Querier keys: generated on gmpy2 (interoperable with phe, which is no runtime dependency),
checked by every receiver, and bound to one query by the binding statement."""

from __future__ import annotations

import importlib.metadata
import re

import gmpy2
import phe
import pytest
from packaging.requirements import Requirement

from protocols.paillier import PaillierPublicKey, encrypt, generate_keypair
from protocols.querier_keys import (
    WeakQuerierKey,
    check_querier_modulus,
    key_binding_statement,
)
from tests.protocols.test_paillier_support import cached_keypair, from_phe, to_phe


def _prime(bits: int, seed: int) -> int:
    return int(gmpy2.next_prime(gmpy2.mpz(3) << (bits - 2) | seed))


@pytest.mark.parametrize("bits", [512, 1024, 2048])
def test_generated_keys_have_the_promised_shape(bits: int) -> None:
    public_key, private_key = generate_keypair(bits, insecure_test_size=bits != 2048)
    p, q = private_key.p, private_key.q
    assert public_key.n == p * q and public_key.bits == bits
    assert p != q and p.bit_length() == q.bit_length() == bits // 2
    assert gmpy2.is_prime(p, 50) and gmpy2.is_prime(q, 50)
    assert public_key.g == public_key.n + 1
    if bits == 2048:
        assert check_querier_modulus(public_key.n) == public_key


def test_two_generated_keys_differ() -> None:
    first, _ = generate_keypair(512, insecure_test_size=True)
    second, _ = generate_keypair(512, insecure_test_size=True)
    assert first.n != second.n


def test_gmpy2_keys_interoperate_with_phe_both_ways() -> None:
    public_key, private_key = cached_keypair(1024)
    phe_public = phe.PaillierPublicKey(public_key.n)
    mask = int(gmpy2.powmod(7, public_key.n, public_key.n_square))
    # ours -> phe: phe decrypts what we encrypt under our gmpy2 key
    assert (
        to_phe(private_key).decrypt(phe.EncryptedNumber(phe_public, encrypt(public_key, 41, mask)))
        == 41
    )
    # phe -> ours: we decrypt what phe encrypts under our key, signed values included
    assert private_key.decrypt_signed(phe_public.encrypt(-12345).ciphertext()) == -12345
    # a phe-generated key is adopted and decrypts our ciphertexts
    phe_pub, phe_priv = phe.generate_paillier_keypair(n_length=1024)
    adopted = from_phe(phe_priv)
    other_mask = int(gmpy2.powmod(5, phe_pub.n, adopted.public_key.n_square))
    assert adopted.decrypt(encrypt(adopted.public_key, 99, other_mask)) == 99


def _runtime_requirements(name: str) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions `pip install name` pulls in (no extras), by name."""
    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
    while todo:
        key = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if key in seen:
            continue
        try:
            seen[key] = dist = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_installed_distribution_requires_no_gpl_package() -> None:
    """phe (GPLv3) is a test/bench extra only; the runtime closure has no GPL licence (LGPL,
    as of gmpy2 and psycopg, is imported as a library and allowed)."""
    runtime = _runtime_requirements("gongying")
    assert "gongying" in runtime and "gmpy2" in runtime
    assert "phe" not in runtime
    extras = importlib.metadata.requires("gongying") or []
    assert any(r.startswith("phe") and 'extra == "test"' in r for r in extras)
    assert any(r.startswith("phe") and 'extra == "bench"' in r for r in extras)
    for name, dist in runtime.items():
        fields = dist.metadata.get_all("License-Expression") or []
        notices = " ".join(dist.metadata.get_all("License") or [])
        # scipy's wheel bundles libgfortran under GPL-3.0-or-later WITH GCC-exception-3.1: the
        # GCC Runtime Library Exception lets non-GPL programs use it, so only the package's own
        # licence (expression and classifiers) is read there
        if "GCC Runtime Library Exception" not in notices:
            fields.append(notices)
        fields += [c for c in dist.metadata.get_all("Classifier") or [] if c.startswith("License")]
        licence = " ".join(fields)
        gpl = re.sub(r"LGPL|Lesser General Public", "", licence)
        assert not re.search(r"\bGPL|General Public License", gpl), (name, licence)


WEAK = {
    "1024-bit n": (_prime(512, 1) * _prime(512, 3), "1024 bits; at least 2048"),
    "even n": (_prime(1024, 5) * _prime(1024, 7) * 2, "even"),
    "n = 3 x odd": (3 * _prime(2047, 4242), "small prime factor 3"),
    "n = 65521 x odd": (65521 * _prime(2040, 17), "small prime factor 65521"),
    "prime n": (_prime(2048, 999), "is prime"),
    "n = p^2": (_prime(1024, 12345) ** 2, "perfect power"),
    "n = p^3": (_prime(700, 1) ** 3, "perfect power"),
}


@pytest.mark.parametrize("label", list(WEAK))
def test_weak_moduli_are_refused_naming_the_check(label: str) -> None:
    modulus, reason = WEAK[label]
    with pytest.raises(WeakQuerierKey, match=re.escape(reason)):
        check_querier_modulus(modulus)


def test_a_sound_modulus_passes_and_g_is_fixed() -> None:
    public_key, _ = cached_keypair(2048)
    checked = check_querier_modulus(public_key.n)
    assert checked.n == public_key.n and checked.g == public_key.n + 1


def test_the_binding_statement_names_the_query_and_the_key() -> None:
    key_a, _ = cached_keypair(1024, slot=0)
    key_b, _ = cached_keypair(1024, slot=1)
    statement = key_binding_statement("q-1", key_a)
    assert statement.startswith(b"gongying/paillier-key/v1|q-1|")
    assert statement.endswith(key_a.fingerprint().hex().encode())
    assert statement != key_binding_statement("q-2", key_a)
    assert statement != key_binding_statement("q-1", key_b)
    assert statement != key_binding_statement("q-1", PaillierPublicKey(key_a.n + 2))
