"""The demo's check of noised answers: every released count within its interval of the truth.

Each released number carries a 95% error bar (`ReleaseInfo.error_bars`). With a hundred numbers
some would fall outside their 95% bars by chance alone, so the demo checks them jointly: every
count (region, set size, pair, all parties, union; an owner's overlap, bins and numeric counts)
must lie within the interval that holds its noise with probability 1 - 0.001/M for M checked
numbers, so that an honest run fails the check with probability at most 0.1% (union bound).
The interval comes from the declared mechanism (discrete Laplace of the bar's scale, summed
over its noised cells), the same one the coordinator and owners sample from. Sums, means and
standard deviations of numeric attributes are derived from several noised cells: they are
shown with their 95% bars and counted as within or outside, but do not fail the demo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gongying.oracle import ProfileTruth
from model.results import ErrorBar, OverlapResult, OwnerProfile, ProfileResult
from protocols.noise import MECHANISM, half_width

JOINT_FAILURE = 0.001


@dataclass
class NoiseCheck:
    """Released counts compared with the truth: which lie outside their joint interval, and
    how many lie within their stated 95% error bar."""

    outside: list[str] = field(default_factory=list)
    within_95: int = 0
    checked: int = 0
    _pending: list[tuple[str, int, int, ErrorBar]] = field(default_factory=list)

    def add(self, name: str, released: int | None, truth: int, bar: ErrorBar | None) -> None:
        """Queue one released count (a hidden one is not compared)."""
        if released is None:
            return
        if bar is None or bar.mechanism != MECHANISM:
            if released != truth:
                self.outside.append(f"{name}: {released} != {truth} (exact)")
            return
        self._pending.append((name, released, truth, bar))

    def finish(self) -> NoiseCheck:
        """Compare every queued count with its joint interval."""
        count = len(self._pending)
        confidence = 1 - JOINT_FAILURE / max(1, count)
        for name, released, truth, bar in self._pending:
            joint = half_width([bar.scale] * bar.noised_cells, confidence)
            self.checked += 1
            self.within_95 += abs(released - truth) <= bar.half_width
            if abs(released - truth) > joint:
                self.outside.append(
                    f"{name}: {released:,} is {abs(released - truth):,} from the truth "
                    f"{truth:,}, beyond {joint:,} (scale {bar.scale:g})"
                )
        self._pending.clear()
        return self

    def summary(self) -> str:
        """One line for the console."""
        return (
            f"{self.checked} noised counts: {self.within_95} within their 95% error bars, "
            f"{self.checked - len(self.outside)} within the joint "
            f"{100 * (1 - JOINT_FAILURE):.1f}% interval"
        )


def check_overlap(
    result: OverlapResult, truth: Mapping[frozenset[str], int], check: NoiseCheck
) -> None:
    """Regions, set sizes, pairs, the all-party count and the union against the truth."""
    release = result.release
    for members, count in result.regions:
        check.add(
            f"region {' & '.join(members)}",
            count,
            truth.get(frozenset(members), 0),
            release.error_bar("regions"),
        )
    for party, size in result.set_sizes.items():
        expected = sum(n for m, n in truth.items() if party in m)
        check.add(f"set size {party}", size, expected, release.error_bar("set_sizes"))
    for a, b, count in result.pairwise:
        expected = sum(n for m, n in truth.items() if {a, b} <= m)
        check.add(f"pair {a} & {b}", count, expected, release.error_bar("pairwise"))
    everyone = sum(n for m, n in truth.items() if len(m) == len(result.parties))
    check.add("all parties", result.all_parties, everyone, release.error_bar("all_parties"))
    check.add("union", result.union, sum(truth.values()), release.error_bar("union"))


def check_profile(
    result: ProfileResult, truths: Mapping[str, ProfileTruth], check: NoiseCheck
) -> None:
    """Each owner's (and the combined) overlap, bins and numeric counts against the truth."""
    for owner, truth in truths.items():
        _check_owner(
            result.profile(owner), owner, truth.matched, truth.categorical, _counts(truth), check
        )
    if len(truths) > 1 and any(p.owner == "combined" for p in result.profiles):
        values = list(truths.values())
        bins = {
            name: {b: sum(t.categorical[name][b] for t in values) for b in first}
            for name, first in values[0].categorical.items()
        }
        counts = {name: sum(_counts(t)[name] for t in values) for name in _counts(values[0])}
        matched = sum(t.matched for t in values)
        _check_owner(result.profile("combined"), "combined", matched, bins, counts, check)


def _counts(truth: ProfileTruth) -> dict[str, int]:
    return {name: stats.count for name, stats in truth.numeric.items()}


def _check_owner(
    got: OwnerProfile,
    owner: str,
    matched: int,
    bins: Mapping[str, Mapping[str, int]],
    counts: Mapping[str, int],
    check: NoiseCheck,
) -> None:
    release = got.release
    check.add(f"{owner} overlap", got.overlap, matched, release.error_bar("overlap"))
    for name, released in got.categorical.items():
        for bin_name, value in released.items():
            expected = bins.get(name, {}).get(bin_name, 0)
            check.add(f"{owner} {name}={bin_name}", value, expected, release.error_bar(name))
    for name, stats in got.numeric.items():
        if name in counts:
            bar = release.error_bar(f"{name}.count")
            check.add(f"{owner} {name} count", stats.count, counts[name], bar)
