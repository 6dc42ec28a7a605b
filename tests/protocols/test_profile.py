"""Profile aggregation end to end (encrypt indicators, aggregate, combine, decrypt) vs pandas.

The owner and the querier are `ProfileOwner` and `ProfileQuerier`, the objects the node runs
(node/profile_steps.py, node/decryption.py); the indicators are encrypted as the coordinator
does it (`protocols.indicators`) and reach the owner in several chunks.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import indicators
from protocols.masks import MaskPool, generate_masks
from protocols.paillier import InvalidCiphertext, add_plain, ciphertext_to_bytes
from protocols.profile import (
    OTHER_BIN,
    AttributeDeclarationError,
    AttributeMismatch,
    CategoricalAttribute,
    DecodedProfile,
    InvalidAttributeValue,
    MissingAttributeValues,
    NumericAttribute,
    OwnerAggregate,
    PlaintextOverflow,
    aggregate_rows,
    ciphertext_count,
    combine_aggregates,
    seal_aggregate,
)
from protocols.profile_parties import ProfileOwner, ProfileQuerier
from tests.protocols.test_paillier_support import cached_keypair, cached_table, encrypt_indicators

PUB, PRIV = cached_keypair()
TABLE = cached_table()
SPECS = (
    CategoricalAttribute("tier", ("gold", "silver", "bronze")),
    NumericAttribute("age", lower=18.0, upper=80.0, scale=1),
    NumericAttribute("spend", lower=-50.0, upper=500.0, scale=100),
)


def make_owner(rows: int, seed: int) -> pd.DataFrame:
    """Member rows with unknown tiers, missing values, and values at and beyond the bounds."""
    rng = np.random.default_rng(seed)
    choices = ["gold", "silver", "bronze", "platinum", None]
    tiers = [choices[i] for i in rng.integers(0, len(choices), size=rows)]
    age = rng.integers(10, 95, size=rows).astype(float)
    spend = rng.integers(-10_000, 60_000, size=rows) / 100
    frame = pd.DataFrame({"tier": tiers, "age": age, "spend": spend})
    frame.loc[rng.random(rows) < 0.15, "age"] = np.nan
    frame.loc[rng.random(rows) < 0.15, "spend"] = None
    edge = [18.0, 80.0, 17.999, 80.001, -1e9, 1e9]
    for row, value in enumerate(edge[: min(rows, len(edge))]):
        frame.loc[row, "age"] = value
        frame.loc[row, "spend"] = value if abs(value) < 1000 else -value
    return frame


NumericExpectation = tuple[int, Fraction, Fraction, float | None, float | None]


@dataclasses.dataclass(frozen=True)
class Expected:
    """The oracle's answer: overlap, bin counts, numeric (count, sum, sum_sq, mean, std)."""

    overlap: int
    categorical: dict[str, dict[str, int]]
    numeric: dict[str, NumericExpectation]


def oracle(frames: list[pd.DataFrame], matched: list[np.ndarray]) -> Expected:
    """The expected profile computed on plaintext with pandas."""
    members = pd.concat([f[m] for f, m in zip(frames, matched, strict=True)])
    categorical: dict[str, dict[str, int]] = {}
    numeric: dict[str, NumericExpectation] = {}
    for spec in SPECS:
        column = members[spec.name]
        if isinstance(spec, CategoricalAttribute):
            binned = column.where(column.isin(spec.domain), OTHER_BIN)
            counts = binned.value_counts()
            categorical[spec.name] = {b: int(counts.get(b, 0)) for b in spec.bins}
        else:
            steps = (column.dropna().clip(spec.lower, spec.upper) * spec.scale).round()
            ints = [int(v) for v in steps]
            count = len(ints)
            mean = float(np.mean(steps) / spec.scale) if count else None
            std = float(np.std(steps / spec.scale)) if count else None
            numeric[spec.name] = (
                count,
                Fraction(sum(ints), spec.scale),
                Fraction(sum(v * v for v in ints), spec.scale**2),
                mean,
                std,
            )
    return Expected(len(members), categorical, numeric)


def assert_matches(result: DecodedProfile, expected: Expected) -> None:
    assert result.overlap == expected.overlap
    assert result.categorical == expected.categorical
    for name, summary in result.numeric.items():
        count, total, squares, mean, std = expected.numeric[name]
        assert (summary.count, summary.sum, summary.sum_of_squares) == (count, total, squares)
        if count == 0:
            assert summary.mean is None and summary.std is None
        else:
            assert summary.mean == pytest.approx(mean, rel=1e-12, abs=1e-9)
            assert summary.std == pytest.approx(std, rel=1e-9, abs=1e-9)


QUERIER = ProfileQuerier(PRIV)
CHUNK = 7  # indicators per chunk of the owner's stream


def indicator_stream(matched: np.ndarray) -> list[bytes]:
    """The indicators as the coordinator sends them: fixed-width ciphertexts, in chunks."""
    data = indicators.encrypt_indicators(PUB, matched, generate_masks(TABLE, len(matched)))
    step = CHUNK * PUB.ciphertext_width
    return [data[i : i + step] for i in range(0, len(data), step)]


def owner_of(frame: pd.DataFrame) -> ProfileOwner:
    """The owner's side, its columns as lists in the order of its blinded set (as a node has)."""
    lists = {str(name): frame[name].tolist() for name in frame.columns}
    return ProfileOwner(PUB, SPECS, lists, len(frame), "retailer_a")


def run_owner(frame: pd.DataFrame, matched: np.ndarray, pool: MaskPool) -> OwnerAggregate:
    return owner_of(frame).aggregate(PUB.fingerprint(), indicator_stream(matched), pool)


def columns(frame: pd.DataFrame) -> dict[str, Iterable[object]]:
    return {str(name): frame[name] for name in frame.columns}


def fresh_pool() -> MaskPool:
    pool = MaskPool(PUB)
    pool.fill(generate_masks(TABLE, 200))
    return pool


@pytest.mark.parametrize("pattern", ["empty", "one", "all", "random"])
def test_single_owner_matches_pandas(pattern: str) -> None:
    frame = make_owner(40, seed=7)
    matched = {
        "empty": np.zeros(40, dtype=bool),
        "one": np.arange(40) == 3,
        "all": np.ones(40, dtype=bool),
        "random": np.random.default_rng(1).random(40) < 0.5,
    }[pattern]
    pool = fresh_pool()
    aggregate = run_owner(frame, matched, pool)
    assert aggregate.sealed
    assert len(pool) == 200 - ciphertext_count(SPECS)
    assert_matches(QUERIER.decrypt_profile(aggregate, SPECS), oracle([frame], [matched]))


def test_several_owners_combined_match_pandas() -> None:
    frames = [make_owner(rows, seed) for rows, seed in ((30, 1), (25, 2), (12, 3))]
    rng = np.random.default_rng(5)
    matched = [rng.random(len(f)) < 0.6 for f in frames]
    pool = fresh_pool()
    aggregates = [run_owner(f, m, pool) for f, m in zip(frames, matched, strict=True)]
    combined = combine_aggregates(PUB, aggregates)
    assert combined.rows == 67 and combined.sealed
    assert_matches(QUERIER.decrypt_profile(combined, SPECS), oracle(frames, matched))
    for frame, mask, aggregate in zip(frames, matched, aggregates, strict=True):
        assert_matches(QUERIER.decrypt_profile(aggregate, SPECS), oracle([frame], [mask]))


def test_row_range_partials_combine_to_the_whole() -> None:
    frame = make_owner(33, seed=11)
    matched = np.random.default_rng(2).random(33) < 0.4
    indicators = encrypt_indicators(PUB, TABLE, matched.tolist())
    bounds = [0, 10, 10, 21, 33]  # includes an empty slice
    partials = [
        aggregate_rows(
            PUB,
            indicators[lo:hi],
            {name: column.iloc[lo:hi] for name, column in columns(frame).items()},  # type: ignore[attr-defined]
            SPECS,
        )
        for lo, hi in itertools.pairwise(bounds)
    ]
    assert not any(p.sealed for p in partials)
    merged = seal_aggregate(PUB, combine_aggregates(PUB, partials), generate_masks(TABLE, 11))
    stream = [b"".join(ciphertext_to_bytes(PUB, c) for c in indicators)]
    whole = owner_of(frame).aggregate(PUB.fingerprint(), stream, generate_masks(TABLE, 11))
    assert merged.ciphertexts() != whole.ciphertexts()  # different randomness...
    assert QUERIER.decrypt_profile(merged, SPECS) == QUERIER.decrypt_profile(
        whole, SPECS
    )  # same sums
    assert_matches(QUERIER.decrypt_profile(merged, SPECS), oracle([frame], [matched]))


@settings(max_examples=15, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.booleans(),
            st.one_of(st.none(), st.sampled_from(["gold", "silver", "bronze", "tin", ""])),
            st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6)),
        ),
        max_size=12,
    )
)
def test_random_owners_match_pandas(rows: list[tuple[bool, str | None, float | None]]) -> None:
    frame = pd.DataFrame(
        {
            "tier": pd.Series([r[1] for r in rows], dtype=object),
            "age": pd.Series([r[2] for r in rows], dtype=float),
            "spend": pd.Series([r[2] for r in rows], dtype=float),
        }
    )
    matched = np.array([r[0] for r in rows], dtype=bool)
    aggregate = run_owner(frame, matched, MaskPool(PUB, TABLE))
    assert_matches(QUERIER.decrypt_profile(aggregate, SPECS), oracle([frame], [matched]))


def test_owner_noise_hook_allows_negative_results() -> None:
    frame = make_owner(5, seed=3)
    matched = np.zeros(5, dtype=bool)
    indicators = encrypt_indicators(PUB, TABLE, matched.tolist())
    raw = aggregate_rows(PUB, indicators, columns(frame), SPECS)
    noisy = dataclasses.replace(raw, overlap=add_plain(PUB, raw.overlap, -2))
    age = raw.attributes[1]
    noisy_age = dataclasses.replace(
        age, ciphertexts=(add_plain(PUB, age.ciphertexts[0], -1), *age.ciphertexts[1:])
    )
    noisy = dataclasses.replace(noisy, attributes=(raw.attributes[0], noisy_age, raw.attributes[2]))
    result = QUERIER.decrypt_profile(seal_aggregate(PUB, noisy, MaskPool(PUB, TABLE)), SPECS)
    assert result.overlap == -2
    assert result.numeric["age"].count == -1
    assert result.numeric["age"].mean is None


def test_combine_refuses_other_declarations_and_keys() -> None:
    frame = make_owner(6, seed=4)
    indicators = encrypt_indicators(PUB, TABLE, [True] * 6)
    values = columns(frame)
    base = aggregate_rows(PUB, indicators, values, SPECS)
    other_specs = (SPECS[0], NumericAttribute("age", 18.0, 90.0, 1), SPECS[2])
    other = aggregate_rows(PUB, indicators, values, other_specs)
    with pytest.raises(AttributeMismatch, match="attribute 'age' is declared differently"):
        combine_aggregates(PUB, [base, other])
    fewer = aggregate_rows(PUB, indicators, values, SPECS[:2])
    with pytest.raises(AttributeMismatch, match=r"lacks attributes \['spend'\]"):
        combine_aggregates(PUB, [base, fewer])
    other_pub = cached_keypair(1024, slot=1)[0]
    with pytest.raises(AttributeMismatch, match="aggregate 0 was encrypted against a different"):
        combine_aggregates(other_pub, [base])
    with pytest.raises(AttributeMismatch, match="'age' is declared differently: the request has"):
        QUERIER.decrypt_profile(base, other_specs)
    with pytest.raises(PlaintextOverflow, match="'age'"):
        combine_aggregates(PUB, [dataclasses.replace(base, rows=2**1020)])


def test_aggregation_refuses_bad_input() -> None:
    frame = make_owner(4, seed=9)
    indicators = encrypt_indicators(PUB, TABLE, [True] * 4)
    with pytest.raises(MissingAttributeValues, match="no values supplied for attribute 'spend'"):
        aggregate_rows(PUB, indicators, {"tier": frame["tier"], "age": frame["age"]}, SPECS)
    short: dict[str, Iterable[object]] = {**columns(frame), "age": frame["age"].iloc[:3]}
    with pytest.raises(MissingAttributeValues, match="'age' has 3 values for 4 indicators"):
        aggregate_rows(PUB, indicators, short, SPECS)
    bad: dict[str, Iterable[object]] = {**columns(frame), "spend": [1.0, "lots", 2.0, None]}
    with pytest.raises(InvalidAttributeValue, match="'spend' row 1: 'lots'"):
        aggregate_rows(PUB, indicators, bad, SPECS)
    with pytest.raises(AttributeDeclarationError, match="declared more than once"):
        aggregate_rows(PUB, indicators, columns(frame), (*SPECS, SPECS[0]))
    with pytest.raises(ValueError, match="sealing needs 11 masks, got 2"):
        owner_of(frame).seal([aggregate_rows(PUB, indicators, columns(frame), SPECS)], [1, 2])


def test_the_owner_refuses_a_stream_that_does_not_fit_its_list() -> None:
    frame = make_owner(9, seed=8)
    owner, pool = owner_of(frame), fresh_pool()
    stream = indicator_stream(np.ones(9, dtype=bool))
    other_key = cached_keypair(1024, slot=1)[0]
    with pytest.raises(InvalidCiphertext, match="different key than the query's"):
        owner.aggregate(other_key.fingerprint(), stream, pool)
    with pytest.raises(MissingAttributeValues, match="more indicators than the 9 members of"):
        owner.aggregate(PUB.fingerprint(), [*stream, stream[0]], pool)
    with pytest.raises(MissingAttributeValues, match="7 indicators for the 9 members of"):
        owner.aggregate(PUB.fingerprint(), stream[:1], pool)
    zero = bytes(PUB.ciphertext_width)  # 0 is no ciphertext: not a unit mod n^2
    with pytest.raises(InvalidCiphertext):
        owner.aggregate(PUB.fingerprint(), [zero + stream[0][len(zero) :], stream[1]], pool)


def test_the_querier_refuses_aggregates_under_another_key() -> None:
    frame = make_owner(4, seed=6)
    aggregate = run_owner(frame, np.ones(4, dtype=bool), fresh_pool())
    other = ProfileQuerier(cached_keypair(1024, slot=1)[1])
    with pytest.raises(InvalidCiphertext, match="different key"):
        other.decrypt_cells(aggregate)
    with pytest.raises(InvalidCiphertext, match="different key"):
        QUERIER.check(other.public_key.fingerprint(), [aggregate])


def test_declarations_are_validated() -> None:
    with pytest.raises(AttributeDeclarationError, match="'other' is reserved"):
        CategoricalAttribute("tier", ("gold", "other"))
    with pytest.raises(AttributeDeclarationError, match="duplicates"):
        CategoricalAttribute("tier", ("gold", "gold"))
    with pytest.raises(AttributeDeclarationError, match="non-empty tuple"):
        CategoricalAttribute("tier", ())
    with pytest.raises(
        AttributeDeclarationError, match=r"lower bound 5\.0 is not below upper 5\.0"
    ):
        NumericAttribute("age", 5.0, 5.0, 1)
    with pytest.raises(AttributeDeclarationError, match="scale must be an integer >= 1"):
        NumericAttribute("age", 0.0, 5.0, 0)
    with pytest.raises(AttributeDeclarationError, match="2\\^53"):
        NumericAttribute("age", 0.0, 1e12, 10**6)
    spend = SPECS[2]
    assert isinstance(spend, NumericAttribute)
    assert spend.offset == -5000 and spend.max_encoded == 55000
    assert spend.encode([None, -1e9, 12.345, 1e9]) == [-1, 0, 6234, 55000]
