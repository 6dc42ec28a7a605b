"""load_members against a pandas oracle: set semantics, attributes, per-reason accounting."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import (
    ColumnKind,
    ColumnTypeError,
    FrameSource,
    IdentifierTypeError,
    IdType,
    NormalisationProfile,
    SourceSpec,
    load_members,
    open_source,
    psi_element,
)
from connectors.members import PackedElements, _first_occurrences

from .conftest import email_oracle, member_frame

PROFILE = NormalisationProfile()


@pytest.mark.parametrize("chunk_rows", [100_000, 33, 1])
def test_emails_match_pandas_oracle_in_any_chunk_size(
    members: pd.DataFrame, chunk_rows: int
) -> None:
    table = load_members(
        FrameSource(members), "email", ColumnKind.EMAIL, IdType.EMAIL, PROFILE, ["city"], chunk_rows
    )
    elements, cities = email_oracle(members)
    assert table.elements == elements
    assert table.attributes == {"city": cities}
    report = table.report
    assert report.rows_read == len(members) and report.accepted == len(elements)
    assert report.invalid == {
        "empty": int(members["email"].isna().sum()),
        "email_syntax": int(members["email"].str.startswith("broken", na=False).sum()),
    }
    blank_rows = members.index[members["email"].isna()]
    assert report.first_invalid["empty"] == int(blank_rows[0]) + 1


def test_csv_file_loads_like_the_frame(members: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    members.to_csv(path, index=False)
    source = open_source(SourceSpec(kind="csv", path=str(path)))
    table = load_members(source, "email", ColumnKind.EMAIL, IdType.EMAIL, PROFILE, ["city"], 50)
    elements, cities = email_oracle(members)
    assert (list(table.elements), table.attributes["city"]) == (elements, cities)
    assert str(path) in table.report.summary()


def test_first_occurrence_wins_and_summary_names_rows() -> None:
    frame = pd.DataFrame(
        {
            "email": ["a@x.com", "bad", " A@X.COM", None, "b@x.com", "worse"],
            "spend": [10, 20, 30, 40, None, 60],
        }
    )
    table = load_members(
        FrameSource(frame, "crm"), "email", ColumnKind.EMAIL, IdType.EMAIL, PROFILE, ["spend"], 2
    )
    assert table.elements == [psi_element(IdType.EMAIL, "a@x.com"), b"email:b@x.com"]
    assert table.attributes == {"spend": [10.0, None]}
    assert table.report.first_invalid == {"email_syntax": 2, "empty": 4}
    assert table.report.summary() == (
        "dataframe crm: 6 rows read, 2 distinct members, 1 duplicates, 3 invalid "
        "[email_syntax 2 (first at row 2); empty 1 (first at row 4)]"
    )


def test_phone_hashes_and_integer_member_ids() -> None:
    frame = pd.DataFrame(
        {"phone": ["138 0013 8000", "+86 138-0013-8000", "12"], "no": pd.array([7, None, 7])}
    )
    table = load_members(
        FrameSource(frame), "phone", ColumnKind.PHONE, IdType.PHONE_SHA256, PROFILE
    )
    digest = hashlib.sha256(b"+8613800138000").hexdigest()
    assert table.elements == [f"phone_sha256:{digest}".encode()]
    assert table.report.invalid == {"phone_invalid": 1} and table.report.duplicates == 1
    ids = load_members(FrameSource(frame), "no", ColumnKind.MEMBER_ID, IdType.MEMBER_ID, PROFILE)
    assert ids.elements == [b"member_id:7"]
    assert (ids.report.duplicates, ids.report.invalid) == (1, {"empty": 1})


def test_float_identifier_column_is_a_type_error_naming_the_row() -> None:
    frame = pd.DataFrame({"member_no": ["M1", "M2", 3.0]})
    with pytest.raises(ColumnTypeError) as caught:
        load_members(
            FrameSource(frame, "crm"), "member_no", ColumnKind.MEMBER_ID, IdType.MEMBER_ID, PROFILE,
            chunk_rows=2,
        )  # fmt: skip
    assert (caught.value.row, caught.value.column, caught.value.found) == (3, "member_no", "float")
    assert "dataframe crm" in str(caught.value)


def test_column_kind_that_cannot_serve_the_query_is_refused() -> None:
    frame = pd.DataFrame({"email_hash": ["ab" * 32]})
    with pytest.raises(IdentifierTypeError, match=r"'email_hash'.*email_sha256.*'email'"):
        load_members(
            FrameSource(frame), "email_hash", ColumnKind.EMAIL_SHA256, IdType.EMAIL, PROFILE
        )


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(min_value=0, max_value=120), seed=st.integers(0, 10_000),
       chunk_rows=st.integers(min_value=1, max_value=50))  # fmt: skip
def test_every_row_is_accounted_for(rows: int, seed: int, chunk_rows: int) -> None:
    frame = member_frame(rows, seed)
    whole = load_members(
        FrameSource(frame), "email", ColumnKind.EMAIL, IdType.EMAIL, PROFILE, ["city"]
    )
    chunked = load_members(
        FrameSource(frame), "email", ColumnKind.EMAIL, IdType.EMAIL, PROFILE, ["city"], chunk_rows
    )
    report = chunked.report
    assert report.rows_read == rows
    assert report.rows_read == report.accepted + report.duplicates + sum(report.invalid.values())
    assert (chunked.elements, chunked.attributes, report) == (
        whole.elements, whole.attributes, whole.report
    )  # fmt: skip
    assert len(set(chunked.elements)) == len(chunked.elements) == len(chunked.attributes["city"])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.binary(max_size=12), max_size=40),
    st.integers(-45, 45),
    st.integers(-45, 45),
    st.sampled_from([1, 2, 3, -1, -4]),
    st.randoms(use_true_random=False),
)
def test_packed_elements_slice_like_a_list(
    elements: list[bytes], start: int, stop: int, step: int, rng: random.Random
) -> None:
    """Slices of the packed buffer (whole, or reordered by `take`) equal the list's slices."""
    packed = PackedElements.from_list(elements)
    window = slice(start, stop, step)
    assert packed[window] == elements[window]
    order = list(range(len(elements)))
    rng.shuffle(order)
    shuffled = [elements[i] for i in order]
    assert packed.take(np.array(order, dtype=np.int64))[window] == shuffled[window]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=60))
def test_first_occurrences_are_exact_even_when_the_high_hash_collides(
    pairs: list[tuple[int, int]],
) -> None:
    """Few distinct high hashes force the exact (high, low) path: the result is the position
    of each distinct pair's first occurrence, as a dictionary would find it."""
    high = np.array([h for h, _ in pairs], dtype=np.uint64)
    low = np.array([lo for _, lo in pairs], dtype=np.uint64)
    seen: dict[tuple[int, int], int] = {}
    for position, pair in enumerate(pairs):
        seen.setdefault(pair, position)
    for block in (1, 2, 5, 1 << 20):  # neighbours compared across block edges too
        first = _first_occurrences(high, lambda rows: low[rows], block)
        expected = sorted(seen.values())
        if first is None:
            assert expected == list(range(len(pairs)))
        else:
            assert first.tolist() == expected and len(expected) < len(pairs)
