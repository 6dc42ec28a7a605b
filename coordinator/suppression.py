"""Exact-mode cell suppression, audited by linear programming over all linked tables of an answer.

Used only when every party involved releases exactly (epsilon 0 everywhere); under noise the
thresholds apply to noised values and nothing is suppressed to protect others.

Model: an answer's tables (Venn regions, set sizes, pairs, the all-party count; or each owner's
overlap and bins and the combined profile) are linear forms over non-negative unknowns (the
exclusive regions; each owner's members per bin). A `LinkedCell` is one released number: the
unknowns it sums and its true value. An attacker knows every released cell as an equation,
`public` cells (what the querier knows anyway, such as its own set size) and that all unknowns
are >= 0. Its feasible interval for a hidden cell is [min, max] of that cell over the real
solutions (`feasible_interval`, scipy's HiGHS). The real relaxation contains every integer
solution, so an integer attacker's interval can be narrower only by rounding the ends inward;
the LP is the standard audit.

Rule (`audit`):
- Primary: a cell below k (0 included) is hidden and shown `<k`.
- Protection: every hidden cell must keep a feasible interval at least k wide, and a `<k` cell
  must keep 0 and k inside it (so the released numbers cannot tell 0 from 1, which is what the
  subtraction attack needs). While some hidden cell is narrower, the released cell that widens it
  most cheaply (the smallest that widens it, preferring cells sharing its unknowns) is hidden
  too, shown `suppressed` (never `<k`: it is not small). Cells the querier knows anyway are never
  counted as protection. The loop ends when every hidden cell is protected or nothing is left
  to hide (only the querier's own knowledge then pins it).
- Proven zeros (profiles only, `release_proven_zeros`): a zero cell that the cells at or above k
  already prove to be zero (its interval is [0, 0] with every cell >= k released) is released
  as 0, not protected. Argument: it describes no person; it adds nothing to what the other
  released cells say (the bins sum to the released overlap); and hiding it could only be made to
  hold by hiding a real bin (real data: an empty `other` bin hid a bin of 530 members), which
  protects nobody. The `<k` on a small bin keeps its meaning "0 to k-1, not decided". In an
  overlap it does not apply: there the querier chooses its list, and 0 versus 1 in a region is
  whether one person is a member (attack 3), so a zero region stays `<k` like any small one.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog


@dataclass(frozen=True)
class LinkedCell:
    """One number of an answer: the non-negative unknowns it sums, and its true value."""

    name: str
    terms: frozenset[int]
    value: int


@dataclass(frozen=True)
class SuppressionPlan:
    """Which cells are hidden and why: below k (`<k`) or to protect others (`suppressed`)."""

    primary: frozenset[str]
    protective: frozenset[str]
    proven_zero: frozenset[str] = frozenset()

    @property
    def hidden(self) -> frozenset[str]:
        return self.primary | self.protective


Tie = tuple[frozenset[int], frozenset[int]]
"""Two sums of unknowns every reader knows to be equal (two histograms of one overlap)."""


def feasible_interval(
    cells: Sequence[LinkedCell],
    known: Collection[str],
    target: LinkedCell,
    ties: Sequence[Tie] = (),
) -> tuple[float, float]:
    """[min, max] of `target` over non-negative real unknowns consistent with the known cells."""
    terms = [c.terms for c in cells] + [a | b for a, b in ties]
    width = 1 + max((max(t, default=-1) for t in terms), default=-1)
    rows = [c for c in cells if c.name in known]
    a_eq = np.zeros((len(rows) + len(ties), width))
    for i, cell in enumerate(rows):
        a_eq[i, list(cell.terms)] = 1.0
    for i, (left, right) in enumerate(ties, start=len(rows)):
        a_eq[i, list(left)] += 1.0
        a_eq[i, list(right)] -= 1.0
    b_eq = np.array([float(c.value) for c in rows] + [0.0] * len(ties))
    objective = np.zeros(width)
    objective[list(target.terms)] = 1.0
    bounds = [(0.0, None)] * width
    some = len(b_eq) > 0
    low = linprog(
        objective,
        A_eq=a_eq if some else None,
        b_eq=b_eq if some else None,
        bounds=bounds,
        method="highs",
    )
    high = linprog(
        -objective,
        A_eq=a_eq if some else None,
        b_eq=b_eq if some else None,
        bounds=bounds,
        method="highs",
    )
    lo = float(low.fun) if low.status == 0 else 0.0
    hi = math.inf if high.status == 3 else (-float(high.fun) if high.status == 0 else math.inf)
    return lo, hi


def _protected(interval: tuple[float, float], k: int, primary: bool) -> bool:
    lo, hi = interval
    if hi - lo < k - 1e-6:
        return False
    return not primary or lo <= 1e-6


def audit(
    cells: Sequence[LinkedCell],
    k: int,
    public: Collection[str] = (),
    release_proven_zeros: bool = False,
    ties: Sequence[Tie] = (),
) -> SuppressionPlan:
    """Primary and complementary suppression so that no hidden cell is narrower than k."""
    names = [c.name for c in cells]
    if len(set(names)) != len(names):
        raise ValueError("linked cells must have distinct names")
    by_name = {c.name: c for c in cells}
    order = {name: i for i, name in enumerate(names)}
    known_anyway = set(public)
    primary = {c.name for c in cells if c.value < k and c.name not in known_anyway}
    proven: set[str] = set()
    if release_proven_zeros:
        large = {c.name for c in cells if c.value >= k} | known_anyway
        for name in sorted(primary, key=order.__getitem__):
            cell = by_name[name]
            if cell.value == 0 and feasible_interval(cells, large, cell, ties) == (0.0, 0.0):
                proven.add(name)
        primary -= proven
    hidden = set(primary)

    def released() -> set[str]:
        return (set(names) - hidden) | known_anyway

    while True:
        known = released()
        narrow = next(
            (
                by_name[n]
                for n in names
                if n in hidden
                and not _protected(
                    feasible_interval(cells, known, by_name[n], ties), k, n in primary
                )
            ),
            None,
        )
        if narrow is None:
            break
        candidates = sorted(
            (by_name[n] for n in names if n not in hidden and n not in known_anyway),
            key=lambda c: (not (c.terms & narrow.terms), c.value, order[c.name]),
        )
        if not candidates:
            break
        before = feasible_interval(cells, known, narrow, ties)
        choice = candidates[0]
        for candidate in candidates:
            after = feasible_interval(cells, known - {candidate.name}, narrow, ties)
            if after[1] - after[0] > before[1] - before[0] + 1e-6 or after[0] < before[0]:
                choice = candidate
                break
        hidden.add(choice.name)
    return SuppressionPlan(frozenset(primary), frozenset(hidden - primary), frozenset(proven))
