"""The plaintext oracle against brute force and against hand-computed profiles."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongying.oracle import (
    OTHER_BIN,
    MissingColumnError,
    identifier_sets_from_files,
    overlap_truth,
    profile_truth,
)

party_sets = st.dictionaries(
    keys=st.sampled_from(["brand", "ra", "rb", "rc", "rd"]),
    values=st.sets(st.integers(0, 30).map(lambda i: f"id{i}".encode()), max_size=25),
    min_size=1,
)


@settings(max_examples=150, deadline=None)
@given(party_sets)
def test_overlap_truth_matches_brute_force(sets: dict[str, set[bytes]]) -> None:
    truth = overlap_truth(sets)
    parties = list(sets)
    union = set().union(*sets.values())
    assert truth.sizes == {p: len(s) for p, s in sets.items()}
    assert len(truth.regions) == 2 ** len(parties) - 1
    for size in range(1, len(parties) + 1):
        for region in itertools.combinations(parties, size):
            exact = [x for x in union if {p for p in parties if x in sets[p]} == set(region)]
            assert truth.regions[frozenset(region)] == len(exact)
    assert sum(truth.regions.values()) == len(union)
    assert set(truth.pairwise) == set(itertools.combinations(parties, 2))
    for a, b in itertools.combinations(parties, 2):
        common = sum(1 for x in sets[a] if x in sets[b])
        assert truth.pairwise[(a, b)] == common == truth.pair(b, a)
    assert truth.all_parties == sum(1 for x in union if all(x in s for s in sets.values()))


def test_overlap_truth_names_empty_regions_and_refuses_no_parties() -> None:
    truth = overlap_truth({"a": {"x"}, "b": {"y"}})
    assert truth.regions == {
        frozenset({"a"}): 1,
        frozenset({"b"}): 1,
        frozenset({"a", "b"}): 0,
    }
    with pytest.raises(ValueError, match="at least one party"):
        overlap_truth({})


def test_identifier_sets_from_files_normalises_and_drops(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,email\n1, A@x.cn\n2,a@x.cn\n3,\n4,bad\n5,NA\n")
    (tmp_path / "b.csv").write_text("id,email\n1,0012\n")
    paths = {"a": tmp_path / "a.csv", "b": tmp_path / "b.csv"}

    def keep_addresses(value: str) -> str | None:
        return value.strip().lower() if "@" in value else None

    assert identifier_sets_from_files(paths, "email", keep_addresses) == {
        "a": {"a@x.cn"},
        "b": set(),
    }
    as_written = identifier_sets_from_files(paths, "email", lambda v: v)
    assert as_written == {"a": {" A@x.cn", "a@x.cn", "", "bad", "NA"}, "b": {"0012"}}


def test_identifier_sets_from_files_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("member_id,mail\n1,a@b.cn\n")
    with pytest.raises(
        MissingColumnError, match=r"r\.csv: no column 'email' \(columns: member_id, mail\)"
    ):
        identifier_sets_from_files({"r": path}, "email", lambda v: v)


def tiny_frame() -> tuple[pd.DataFrame, list[bool]]:
    frame = pd.DataFrame(
        {
            "age_band": ["18-24", "25-34", "25-34", "99+", None, "", "18-24"],
            "spend": [10.0, 0.125, 70000.0, -5.0, None, 0.375, 999.0],
        }
    )
    return frame, [True, True, True, True, True, True, False]


def test_profile_truth_on_a_hand_checked_frame() -> None:
    frame, matched = tiny_frame()
    truth = profile_truth(
        frame, matched, {"age_band": ["18-24", "25-34", "35-44"]}, {"spend": (0, 50000, 100)}
    )
    assert truth.matched == 6
    # row 7 is not matched; "99+", None and "" are other
    assert truth.categorical == {"age_band": {"18-24": 1, "25-34": 2, "35-44": 0, OTHER_BIN: 3}}
    spend = truth.numeric["spend"]
    # present matched values: 10, 0.125, 70000 -> 50000, -5 -> 0, 0.375 (None is skipped)
    # fixed point at scale 100, half to even: 1000, 12 (12.5), 5000000, 0, 38 (37.5)
    assert spend.count == 5
    assert spend.sum_fixed == 1000 + 12 + 5_000_000 + 0 + 38
    assert spend.sum_squares_fixed == 1000**2 + 12**2 + 5_000_000**2 + 0 + 38**2
    assert spend.sum == pytest.approx(50010.50)
    assert spend.mean == pytest.approx(50010.50 / 5)
    expected_std = float(np.std([10.0, 0.12, 50000.0, 0.0, 0.38]))
    assert spend.std == pytest.approx(expected_std, rel=1e-12)


def test_profile_truth_with_nothing_matched() -> None:
    frame, _ = tiny_frame()
    truth = profile_truth(
        frame, [False] * len(frame), {"age_band": ["18-24"]}, {"spend": (0, 1, 10)}
    )
    assert truth.categorical["age_band"] == {"18-24": 0, OTHER_BIN: 0}
    assert (truth.numeric["spend"].count, truth.numeric["spend"].mean) == (0, None)


def test_profile_truth_refuses_bad_inputs() -> None:
    frame, matched = tiny_frame()
    with pytest.raises(ValueError, match="matched_mask has shape"):
        profile_truth(frame, matched[:-1], {}, {})
    with pytest.raises(KeyError, match="no column 'income'"):
        profile_truth(frame, matched, {}, {"income": (0, 1, 1)})
    with pytest.raises(ValueError, match="contains 'other'"):
        profile_truth(frame, matched, {"age_band": ["other"]}, {})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(-1e5, 1e5, allow_nan=False)), min_size=1, max_size=40),
    st.data(),
)
def test_profile_numeric_agrees_with_numpy(values: list[float | None], data: st.DataObject) -> None:
    matched = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    frame = pd.DataFrame({"v": pd.array(values, dtype="Float64")})
    result = profile_truth(frame, matched, {}, {"v": (-100.0, 1000.0, 1000)}).numeric["v"]
    kept = [v for v, m in zip(values, matched, strict=True) if m and v is not None]
    fixed = [round(min(max(v, -100.0), 1000.0) * 1000) for v in kept]  # round(): half to even
    assert result.count == len(kept)
    assert result.sum_fixed == sum(fixed)
    if kept:
        assert result.mean == pytest.approx(sum(fixed) / 1000 / len(kept))
        assert result.std is not None
        assert math.isclose(result.std, float(np.std(fixed)) / 1000, rel_tol=1e-9, abs_tol=1e-9)
