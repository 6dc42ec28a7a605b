"""Campaign lift: an owner's outcomes for the querier's exposed members against its holdout.

The querier marks its own list with a column (say `group`: exposed / holdout). Each group is
profiled by its own profile query over the private protocols (`segment` in the signed query:
the querier's node uses that group's members only), on numeric outcome attributes the owner
declares and allows like any other (purchases, spend over a period). A conversion outcome is a
numeric attribute declared with lower = 0 and upper = 1: a 0/1 flag, or a purchase count clipped
at 1, whose per-member mean is the share of members with a purchase.

Per owner profile (and `combined`), outcome y and group g, from the released numbers:
  n      members matched (the profile's `overlap`), half-width h_n (error bar `overlap`)
  S      sum of y (`y.sum`), half-width h_S (error bar `y.sum`); members without a value count 0
  m      = S / n, the outcome per matched member (conversion: the conversion rate)
  f      = c / n (at most 1), the share of matched members with a value (`y.count` = c)
  v      = f std^2 + f (1 - f) mean^2, the per-member variance (members without a value count
           0; mean and std over the c with one; p (1 - p) for a 0/1 outcome). In exact mode
           this is the population variance over the n members; it avoids subtracting noised
           squares, which can go negative under noise
  s      = z sqrt(v / n), the sampling half-width (z = 1.96, normal approximation)
  d      = sqrt((h_S / n)^2 + (m h_n / n)^2), the privacy noise's half-width (delta method on
           the 95% error bars the release reports; 0 in exact mode)
  H      = sqrt(s^2 + d^2)
Absolute lift L = m_E - m_H with half-width sqrt(H_E^2 + H_H^2) (the groups are disjoint sets
of people and independently noised queries); relative lift R = m_E / m_H - 1 with half-width
sqrt(H_E^2 + (m_E / m_H)^2 H_H^2) / m_H. Adding 95% half-widths in quadrature is exact for
normal errors and conservative for discrete Laplace noise, whose 95% half-width (about
3 scale) exceeds 1.96 of its standard deviations (1.41 scale); tests check the coverage by
simulation. A lift is `significant` when its interval excludes 0. A hidden count, a withheld
statistic, or a denominator whose interval reaches 0 leaves the number unknown, saying why;
nothing hidden is taken as 0. In exact mode the interval is the sampling error alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import pandas as pd

from model.results import OwnerProfile, ProfileResult, ReleaseInfo

Z = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class GroupOutcome:
    """One group's outcome per matched member with its 95% half-width, or why it is unknown."""

    group: str
    query_id: str
    members: int | None
    members_half_width: float
    per_member: float | None
    half_width: float | None
    sampling_half_width: float | None = None
    noise_half_width: float | None = None
    why: str = ""


@dataclass(frozen=True)
class LiftRow:
    """Exposed against holdout for one owner and outcome."""

    owner: str
    outcome: str
    exposed: GroupOutcome
    holdout: GroupOutcome
    lift: float | None
    lift_half_width: float | None
    relative: float | None
    relative_half_width: float | None
    significant: bool
    why: str = ""


def _half(release: ReleaseInfo, table: str) -> float:
    bar = release.error_bar(table)
    return bar.half_width if bar is not None else 0.0


def group_outcome(profile: OwnerProfile, outcome: str, group: str, query_id: str) -> GroupOutcome:
    """The group's outcome per matched member at one owner (see the module docstring)."""
    n, h_n = profile.overlap, _half(profile.release, "overlap")

    def unknown(why: str) -> GroupOutcome:
        return GroupOutcome(group, query_id, n, h_n, None, None, why=why)

    if n is None:
        return unknown("members matched are hidden")
    if n - h_n <= 0:
        return unknown("members matched may be 0")
    stats = profile.numeric.get(outcome)
    if stats is None:
        if outcome in profile.suppressed_numeric:
            return unknown(f"{outcome} is withheld (fewer than k members with a value)")
        return unknown(f"{outcome} is not a numeric attribute of {profile.owner}")
    if stats.count > 0 and (stats.mean is None or stats.std is None):
        return unknown(f"the spread of {outcome} is withheld (its count may be 0)")
    h_s = _half(profile.release, f"{outcome}.sum")
    mean, std = stats.mean or 0.0, stats.std or 0.0
    share = min(max(stats.count / n, 0.0), 1.0)
    per_member = stats.sum / n
    variance = share * std**2 + share * (1 - share) * mean**2
    sampling = Z * math.sqrt(variance / n)
    noise = math.hypot(h_s / n, per_member * h_n / n)
    return GroupOutcome(
        group, query_id, n, h_n, per_member, math.hypot(sampling, noise), sampling, noise
    )


def lift_row(owner: str, outcome: str, exposed: GroupOutcome, holdout: GroupOutcome) -> LiftRow:
    """Absolute and relative lift of exposed over holdout with their 95% half-widths."""
    e, h = exposed, holdout
    if e.per_member is None or h.per_member is None or e.half_width is None:
        why = f"{e.group}: {e.why}" if e.why else f"{h.group}: {h.why}"
        return LiftRow(owner, outcome, e, h, None, None, None, None, False, why)
    assert h.half_width is not None
    lift = e.per_member - h.per_member
    lift_half = math.hypot(e.half_width, h.half_width)
    significant = abs(lift) > lift_half
    if h.per_member - h.half_width <= 0:
        why = f"{h.group}'s outcome may be 0: no relative lift"
        return LiftRow(owner, outcome, e, h, lift, lift_half, None, None, significant, why)
    ratio = e.per_member / h.per_member
    relative_half = math.hypot(e.half_width, ratio * h.half_width) / h.per_member
    return LiftRow(owner, outcome, e, h, lift, lift_half, ratio - 1, relative_half, significant)


def lift_rows(
    exposed: ProfileResult,
    holdout: ProfileResult,
    outcomes: Sequence[str],
    groups: tuple[str, str] = ("exposed", "holdout"),
) -> list[LiftRow]:
    """One row per owner profile (owners, then `combined`) and outcome."""
    rows = []
    held = {p.owner: p for p in holdout.profiles}
    for profile in exposed.profiles:
        other = held.get(profile.owner)
        if other is None:
            continue
        for outcome in outcomes:
            e = group_outcome(profile, outcome, groups[0], exposed.query_id)
            h = group_outcome(other, outcome, groups[1], holdout.query_id)
            rows.append(lift_row(profile.owner, outcome, e, h))
    return rows


COLUMNS = (
    "owner",
    "outcome",
    "exposed_members",
    "exposed_members_half_width",
    "holdout_members",
    "holdout_members_half_width",
    "exposed",
    "exposed_half_width",
    "holdout",
    "holdout_half_width",
    "lift",
    "lift_low",
    "lift_high",
    "relative_lift",
    "relative_low",
    "relative_high",
    "significant",
    "why",
    "exposed_query_id",
    "holdout_query_id",
)


def _span(value: float | None, half: float | None) -> tuple[float | None, float | None]:
    if value is None or half is None:
        return None, None
    return value - half, value + half


def _record(row: LiftRow) -> dict[str, Any]:
    e, h = row.exposed, row.holdout
    lift_low, lift_high = _span(row.lift, row.lift_half_width)
    rel_low, rel_high = _span(row.relative, row.relative_half_width)
    values = (
        row.owner,
        row.outcome,
        e.members,
        e.members_half_width,
        h.members,
        h.members_half_width,
        e.per_member,
        e.half_width,
        h.per_member,
        h.half_width,
        row.lift,
        lift_low,
        lift_high,
        row.relative,
        rel_low,
        rel_high,
        row.significant,
        row.why,
        e.query_id,
        h.query_id,
    )
    return dict(zip(COLUMNS, values, strict=True))


@dataclass(frozen=True)
class CampaignLift:
    """A campaign's two profile answers (exposed and holdout group of the querier's `column`)
    and the outcomes compared; every number traces to one of the two query ids."""

    column: str
    exposed_group: str
    holdout_group: str
    outcomes: tuple[str, ...]
    exposed: ProfileResult
    holdout: ProfileResult

    def rows(self) -> list[LiftRow]:
        groups = (self.exposed_group, self.holdout_group)
        return lift_rows(self.exposed, self.holdout, self.outcomes, groups)

    def to_frame(self) -> pd.DataFrame:
        """One row per owner and outcome, columns `COLUMNS` (unknown numbers are NA)."""
        frame = pd.DataFrame([_record(r) for r in self.rows()], columns=list(COLUMNS))
        ints = {c: "Int64" for c in ("exposed_members", "holdout_members")}
        floats = {c: "Float64" for c in COLUMNS[6:16]}
        return frame.astype({**ints, **floats})

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "lift",
            "column": self.column,
            "groups": {"exposed": self.exposed_group, "holdout": self.holdout_group},
            "outcomes": list(self.outcomes),
            "lift": [_record(r) for r in self.rows()],
            "exposed": self.exposed.to_json(),
            "holdout": self.holdout.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CampaignLift:
        return cls(
            str(data["column"]),
            str(data["groups"]["exposed"]),
            str(data["groups"]["holdout"]),
            tuple(data["outcomes"]),
            ProfileResult.from_json(data["exposed"]),
            ProfileResult.from_json(data["holdout"]),
        )
