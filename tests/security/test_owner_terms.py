"""The statement an owner signs for its terms and aggregate (node/owner_terms.py): every field a
deviating coordinator could change to read more than the owner's rules release is covered, so a
noised owner cannot be passed off as exact, k cannot be lowered, and nothing moves between
queries, queriers, owners or cells."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from node.owner_terms import SignedAggregate, terms_signed, terms_statement
from protocols.paillier import encrypt, generate_keypair
from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from protocols.plausibility import OwnerTerms
from protocols.profile import AttributeAggregate, OwnerAggregate

PUBLIC, _ = generate_keypair(512, insecure_test_size=True)
OWNER_KEY = Ed25519PrivateKey.generate()
BANDS = CategoricalAttribute("age_band", ("18-34", "35-54", "55+"))
SPEND = NumericAttribute("spend", 0.0, 500.0, 100)
TERMS = OwnerTerms("retailer_a", set_size=400, epsilon=1.0, min_cohort=10)  # a noised owner


def _cells(*values: int) -> tuple[int, ...]:
    return tuple(encrypt(PUBLIC, v, 1) for v in values)


AGGREGATE = OwnerAggregate(
    key_fingerprint=PUBLIC.fingerprint(),
    rows=400,
    overlap=_cells(40)[0],
    attributes=(
        AttributeAggregate(BANDS, _cells(10, 20, 7, 3)),
        AttributeAggregate(SPEND, _cells(40, 9000, 3_000_000)),
    ),
)
SIGNATURE = OWNER_KEY.sign(terms_statement("q1", "brand", TERMS, AGGREGATE, PUBLIC))


def _verifies(signed: SignedAggregate, query_id: str = "q1", querier: str = "brand") -> bool:
    return terms_signed(OWNER_KEY.public_key(), query_id, querier, signed, PUBLIC)


def test_the_signed_terms_verify() -> None:
    assert _verifies(SignedAggregate(AGGREGATE, TERMS, SIGNATURE))


@pytest.mark.parametrize(
    "change",
    [
        {"epsilon": 0.0},  # a noised owner claimed exact (exact-mode rules, no error bars)
        {"epsilon": 2.0},
        {"min_cohort": 1},  # k lowered
        {"set_size": 4000},
        {"party": "retailer_b"},
    ],
)
def test_changed_terms_do_not_verify(change: dict[str, object]) -> None:
    terms = dataclasses.replace(TERMS, **change)  # type: ignore[arg-type]
    assert not _verifies(SignedAggregate(AGGREGATE, terms, SIGNATURE))


def test_other_queries_queriers_cells_and_specs_do_not_verify() -> None:
    signed = SignedAggregate(AGGREGATE, TERMS, SIGNATURE)
    assert not _verifies(signed, query_id="q2")
    assert not _verifies(signed, querier="intruder")
    remasked = encrypt(PUBLIC, 40, pow(3, PUBLIC.n, PUBLIC.n_square))  # same value, other cell
    swapped = dataclasses.replace(AGGREGATE, overlap=remasked)
    assert not _verifies(SignedAggregate(swapped, TERMS, SIGNATURE))
    wider = NumericAttribute("spend", 0.0, 5000.0, 100)
    respec = dataclasses.replace(
        AGGREGATE,
        attributes=(
            AGGREGATE.attributes[0],
            AttributeAggregate(wider, AGGREGATE.attributes[1].ciphertexts),
        ),
    )
    assert not _verifies(SignedAggregate(respec, TERMS, SIGNATURE))
    other_owner = Ed25519PrivateKey.generate()
    forged = other_owner.sign(terms_statement("q1", "brand", TERMS, AGGREGATE, PUBLIC))
    assert not _verifies(SignedAggregate(AGGREGATE, TERMS, forged))
