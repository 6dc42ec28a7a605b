"""Audience index (TGI) per bin: an audience's share in a bin over the owner's base share, x 100.

index(b) = (a_b / A) / (c_b / C) * 100, where a_b is the audience's count in bin b (shared
audience or prospects), A the audience size (the profile's overlap cell), c_b and C the same in
the owner's base profile. Under noise the four counts are independently noised cells; each is
taken at confidence 1 - 0.05/4 (all four hold together with probability >= 95%, union bound)
and the index's interval is its extremes over them (it rises with a_b and C, falls with A and
c_b). A bin is `significant` when its interval excludes 100 (exact mode: when the index is not
100). A hidden count (None) or a denominator that may reach 0 leaves the index unknown, saying
why; nothing hidden is taken as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from model.results import OwnerProfile, ReleaseInfo
from protocols.noise import half_width

JOINT = 1 - 0.05 / 4


@dataclass(frozen=True)
class BinIndex:
    """One bin's index with its joint 95% interval, or why it is unknown."""

    bin: str
    index: float | None
    low: float | None
    high: float | None
    significant: bool
    why: str = ""


def _half(release: ReleaseInfo, table: str) -> float:
    bar = release.error_bar(table)
    if bar is None:
        return 0.0
    return float(half_width([bar.scale] * bar.noised_cells, JOINT))


def audience_index(audience: OwnerProfile, base: OwnerProfile, attribute: str) -> list[BinIndex]:
    """The index of every bin of a categorical attribute, audience profile against base."""
    if attribute not in audience.categorical or attribute not in base.categorical:
        raise KeyError(f"attribute {attribute!r} is not a categorical attribute of both profiles")
    big_a, big_c = audience.overlap, base.overlap
    h_a, h_big_a = _half(audience.release, attribute), _half(audience.release, "overlap")
    h_c, h_big_c = _half(base.release, attribute), _half(base.release, "overlap")
    out = []
    for name, a in audience.categorical[attribute].items():
        c = base.categorical[attribute].get(name)
        if a is None or c is None or big_a is None or big_c is None:
            out.append(BinIndex(name, None, None, None, False, "a count it needs is hidden"))
            continue
        if big_a - h_big_a <= 0 or c - h_c <= 0 or big_c - h_big_c <= 0:
            out.append(BinIndex(name, None, None, None, False, "a denominator may be 0"))
            continue
        index = 100 * (a / big_a) / (c / big_c)
        low = 100 * (max(a - h_a, 0) / (big_a + h_big_a)) / ((c + h_c) / (big_c - h_big_c))
        high = 100 * ((a + h_a) / (big_a - h_big_a)) / ((c - h_c) / (big_c + h_big_c))
        significant = low > 100 or high < 100
        out.append(BinIndex(name, index, low, high, significant))
    return out


def audience_index_frame(
    audience: OwnerProfile, base: OwnerProfile, attribute: str
) -> pd.DataFrame:
    """One row per bin (index): `index`, `low`, `high`, `significant`, `why`."""
    rows = audience_index(audience, base, attribute)
    frame = pd.DataFrame(
        [[r.index, r.low, r.high, r.significant, r.why] for r in rows],
        columns=["index", "low", "high", "significant", "why"],
        index=pd.Index([r.bin for r in rows], name=attribute),
    )
    return frame.astype({"index": "Float64", "low": "Float64", "high": "Float64"})
