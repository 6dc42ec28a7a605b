"""Campaign lift without the network: the signed segment (round trip, a swapped group refused),
the formula's unknowns, and its 95% intervals covering the true lift under sampling plus the
owners' discrete Laplace noise."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.lift import CampaignLift, group_outcome, lift_row, lift_rows
from model.results import ErrorBar, NumericStats, OwnerProfile, ProfileResult, ReleaseInfo
from protocols.noise import DiscreteLaplace, half_width
from runtime.signing import (
    BadSignature,
    Segment,
    SignedQuery,
    new_query_fields,
    sign_query,
    verify_query,
)

NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def test_the_segment_is_signed_and_a_swapped_group_is_refused() -> None:
    fields = new_query_fields(
        "q", "profile", "brand", ["brand", "r"], "email", ["r"], ["spend"], now=NOW,
        segment=Segment("group", "exposed"),
    )  # fmt: skip
    signed = sign_query(fields, KEY)
    assert verify_query(signed, KEY.public_key(), NOW).segment == Segment("group", "exposed")
    document = json.loads(signed.payload)
    assert document["segment"] == {"column": "group", "value": "exposed"}
    document["segment"]["value"] = "holdout"
    forged = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(BadSignature):
        verify_query(SignedQuery(forged, signed.signature, "brand"), KEY.public_key(), NOW)
    # a query without a segment signs the bytes it signed before segments existed
    plain = new_query_fields("q", "profile", "brand", ["brand", "r"], "email", now=NOW)
    assert b"segment" not in plain.canonical_bytes()


def _bars(epsilon: float) -> tuple[DiscreteLaplace, DiscreteLaplace, ReleaseInfo]:
    count, total = DiscreteLaplace(epsilon, 1), DiscreteLaplace(epsilon, 100)
    bars = tuple(
        ErrorBar(t, "discrete_laplace", epsilon, m.sensitivity, m.scale, 1, half_width([m.scale]))
        for t, m in (("overlap", count), ("spend.sum", total))
    )
    return count, total, ReleaseInfo(k=10, epsilon=epsilon, error_bars=bars)


def _profile(values: np.ndarray, epsilon: float | None) -> OwnerProfile:
    """One owner's released profile of `values` (per matched member), noised as owners do."""
    n, total = len(values), float(values.sum())
    std, mean = float(values.std()), float(values.mean())
    release = ReleaseInfo()
    if epsilon is not None:
        count, noise, release = _bars(epsilon)
        n = count.noised([n])[0]
        total = float(noise.noised([round(total)])[0])
    stats = NumericStats(len(values), total, mean, std)
    return OwnerProfile("retailer", n, {}, {"spend": stats}, release=release)


def test_exact_numbers_are_the_sample_formula() -> None:
    rng = np.random.default_rng(7)
    exposed, holdout = rng.integers(0, 100, 400), rng.integers(0, 80, 300)
    e = group_outcome(_profile(exposed, None), "spend", "exposed", "q1")
    h = group_outcome(_profile(holdout, None), "spend", "holdout", "q2")
    assert e.per_member == pytest.approx(exposed.mean())
    assert e.noise_half_width == 0
    assert e.half_width == pytest.approx(1.959964 * exposed.std() / math.sqrt(400), rel=1e-5)
    row = lift_row("retailer", "spend", e, h)
    assert row.lift == pytest.approx(exposed.mean() - holdout.mean())
    assert row.relative == pytest.approx(exposed.mean() / holdout.mean() - 1)


def test_noised_intervals_cover_the_true_lift_at_least_95_percent_of_the_time() -> None:
    """Populations with known means; each trial samples both groups, the owner noises the
    count and the sum (epsilon 0.5: the noise is larger than the sampling error)."""
    rng = np.random.default_rng()
    true_e, true_h = 60.0, 50.0
    trials, hits, rel_hits = 400, 0, 0
    for _ in range(trials):
        exposed = rng.poisson(true_e, 300).astype(float)
        holdout = rng.poisson(true_h, 300).astype(float)
        e = group_outcome(_profile(exposed, 0.5), "spend", "exposed", "q1")
        h = group_outcome(_profile(holdout, 0.5), "spend", "holdout", "q2")
        assert e.noise_half_width and e.sampling_half_width
        row = lift_row("retailer", "spend", e, h)
        assert row.lift is not None and row.lift_half_width is not None
        assert row.relative is not None and row.relative_half_width is not None
        hits += abs(row.lift - (true_e - true_h)) <= row.lift_half_width
        rel_hits += abs(row.relative - (true_e / true_h - 1)) <= row.relative_half_width
    slack = 3 * math.sqrt(0.05 * 0.95 / trials)
    assert hits / trials >= 0.95 - slack
    assert rel_hits / trials >= 0.95 - slack


def test_hidden_or_withheld_numbers_leave_the_lift_unknown() -> None:
    values = np.arange(100, dtype=float)
    shown = _profile(values, None)
    hidden = OwnerProfile("retailer", None, {}, shown.numeric)
    withheld = OwnerProfile("retailer", 100, {}, {}, suppressed_numeric=("spend",))
    assert group_outcome(hidden, "spend", "exposed", "q").why == "members matched are hidden"
    why = group_outcome(withheld, "spend", "exposed", "q").why
    assert why == "spend is withheld (fewer than k members with a value)"
    row = lift_row(
        "retailer",
        "spend",
        group_outcome(hidden, "spend", "exposed", "q1"),
        group_outcome(shown, "spend", "holdout", "q2"),
    )
    assert row.lift is None and row.why == "exposed: members matched are hidden"
    zero = _profile(np.zeros(50), None)
    row = lift_row(
        "retailer",
        "spend",
        group_outcome(shown, "spend", "exposed", "q1"),
        group_outcome(zero, "spend", "holdout", "q2"),
    )
    assert row.lift is not None and row.relative is None
    assert row.why == "holdout's outcome may be 0: no relative lift"


def test_json_round_trip_keeps_every_number_and_query_id() -> None:
    values = np.arange(200, dtype=float)
    answers = [
        ProfileResult(q, "brand", ("retailer",), ("spend",), (_profile(values[i::2], None),))
        for i, q in enumerate(("q-exposed", "q-holdout"))
    ]
    lift = CampaignLift("group", "exposed", "holdout", ("spend",), *answers)
    again = CampaignLift.from_json(json.loads(json.dumps(lift.to_json())))
    assert again.to_frame().equals(lift.to_frame())
    frame = lift.to_frame()
    assert frame.loc[0, "exposed_query_id"] == "q-exposed"
    assert frame.loc[0, "holdout_query_id"] == "q-holdout"
    assert len(lift_rows(answers[0], answers[1], ["spend", "age"])) == 2


def test_a_count_whose_interval_reaches_zero_leaves_its_group_unknown() -> None:
    """The two reasons a noised group is withheld: its members matched, or its outcome's count,
    may be 0 within their 95% interval."""
    _, _, release = _bars(0.1)  # overlap scale 10: a 95% half-width of 30
    h_n = release.error_bar("overlap")
    assert h_n is not None and 29 < h_n.half_width < 31
    stats = NumericStats(20, 400.0, 20.0, 1.0)
    few = OwnerProfile("retailer", 25, {}, {"spend": stats}, release=release)
    assert group_outcome(few, "spend", "holdout", "q").why == "members matched may be 0"
    spread = NumericStats(3, 60.0, None, None)  # its own count's interval reaches 0
    many = OwnerProfile("retailer", 200, {}, {"spend": spread}, release=release)
    outcome = group_outcome(many, "spend", "holdout", "q")
    assert outcome.per_member is None
    assert outcome.why == "the spread of spend is withheld (its count may be 0)"
    row = lift_row("retailer", "spend", group_outcome(many, "spend", "exposed", "q1"), outcome)
    assert row.lift is None and row.why.startswith("exposed: the spread of spend")
    shown = OwnerProfile("retailer", 200, {}, {"spend": stats}, release=release)
    row = lift_row("retailer", "spend", group_outcome(shown, "spend", "exposed", "q1"), outcome)
    assert row.why == "holdout: the spread of spend is withheld (its count may be 0)"
