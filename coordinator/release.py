"""Release rules for counts: k-suppression, secondary suppression of Venn totals, integer noise.

Rules (DESIGN 5), applied to every count before it leaves the coordinator:

- Primary suppression: a cell whose count is below k is replaced by `Suppressed(k)`, shown as
  "<k"; it is never rounded or banded into view. This includes 0 and negative values. Zero is
  suppressed on purpose: if 0 were shown and only 1..k-1 hidden, a "<k" would mean "at least one
  member has this pattern", and a querier who controls the other sets (a differencing query)
  could learn whether one person is in a partner's set. With 0 hidden too, "<k" says nothing
  beyond "fewer than k".
- Secondary (complementary) suppression: `totals` lists groups of cells whose sum the recipient
  knows anyway (a released set size, pairwise overlap or union; `venn_totals` builds them for Venn
  regions). If exactly one cell of a group is suppressed it equals the total minus the others, so
  the smallest other released cell of that group is suppressed too; this repeats until no group
  has exactly one suppressed cell. This is the simple rule, not an optimal cell-suppression
  solver: with two suppressed cells in a group their sum is still derivable (so an interval for
  each), which k-suppression accepts. Passing extra groups only suppresses more, never less.
- Noise: `add_noise` adds discrete Laplace noise of scale sensitivity/epsilon to every cell and
  returns raw integers, which may be negative. Nothing is clamped at 0. Pass the noised cells to
  `release_counts`, which turns every value below k (negatives included) into "<k": thresholding
  the noised value is post-processing, so the release stays epsilon-DP, and a negative value is
  never shown. Suppression on the noised value means a true count just below k can appear as a
  noised value >= k; what appears is then a noised number, not the count.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Generic, TypeVar

from protocols.noise import discrete_laplace, laplace_scale_for

K = TypeVar("K", bound=Hashable)


class InvalidReleaseRule(ValueError):
    """A threshold, total or noise parameter that the release rules cannot apply."""


@dataclass(frozen=True)
class Suppressed:
    """A count below the minimum cohort k; shown as "<k"."""

    k: int

    def __str__(self) -> str:
        return f"<{self.k}"


@dataclass(frozen=True)
class ReleasedCounts(Generic[K]):
    """Cells after the release rules: a count, or `Suppressed` for a hidden one."""

    cells: dict[K, int | Suppressed]
    k: int
    primary: frozenset[K]
    secondary: frozenset[K]

    @property
    def suppressed(self) -> int:
        """How many cells are hidden, for either reason."""
        return len(self.primary) + len(self.secondary)

    @property
    def released(self) -> int:
        """How many cells are shown as numbers."""
        return len(self.cells) - self.suppressed

    def display(self) -> dict[K, int | str]:
        """Cells for JSON or tables: counts as ints, suppressed ones as "<k"."""
        return {key: v if isinstance(v, int) else str(v) for key, v in self.cells.items()}


def release_counts(
    cells: Mapping[K, int], k: int, totals: Iterable[Collection[K]] = ()
) -> ReleasedCounts[K]:
    """Suppress cells below k, then complementary cells of every total with one hidden cell."""
    if isinstance(k, bool) or k < 0:
        raise InvalidReleaseRule(f"minimum cohort k must be a non-negative integer, got {k}")
    groups = [tuple(group) for group in totals]
    for group in groups:
        unknown = [key for key in group if key not in cells]
        if unknown:
            raise InvalidReleaseRule(f"total refers to cells that were not given: {unknown!r}")
    primary = frozenset(key for key, count in cells.items() if count < k)
    hidden = set(primary)
    order = {key: index for index, key in enumerate(cells)}
    changed = True
    while changed:
        changed = False
        for group in groups:
            if sum(1 for key in group if key in hidden) != 1:
                continue
            shown = [key for key in group if key not in hidden]
            if not shown:
                continue
            hidden.add(min(shown, key=lambda key: (cells[key], order[key])))
            changed = True
    released: dict[K, int | Suppressed] = {
        key: Suppressed(k) if key in hidden else count for key, count in cells.items()
    }
    return ReleasedCounts(released, k, primary, frozenset(hidden - primary))


def venn_totals(
    regions: Iterable[frozenset[str]], parties: Sequence[str] | None = None
) -> list[frozenset[frozenset[str]]]:
    """Groups of exclusive Venn regions whose sums are known: each set size, each pair, union."""
    keys = list(regions)
    names = list(parties) if parties is not None else sorted(set().union(*keys))
    groups = [frozenset(keys)]
    groups += [frozenset(r for r in keys if p in r) for p in names]
    groups += [frozenset(r for r in keys if a in r and b in r) for a, b in combinations(names, 2)]
    return [g for g in dict.fromkeys(groups) if len(g) > 1]


def add_noise(
    cells: Mapping[K, int],
    epsilon: float,
    rng: random.Random | None = None,
    sensitivity: int = 1,
) -> dict[K, int]:
    """Each cell plus discrete Laplace noise of scale sensitivity/epsilon; unclamped integers.

    Sensitivity 1 is right for disjoint cells (Venn regions, bins of one attribute), where one
    person moves exactly one cell by one. Derive overlapping totals (pairwise, set sizes) from
    the noised cells rather than noising them separately.
    """
    scale = laplace_scale_for(epsilon, sensitivity)
    return {key: count + discrete_laplace(scale, rng) for key, count in cells.items()}
