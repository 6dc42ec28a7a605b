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
  subtraction attack needs). While some hidden cell is narrower, one more released cell is
  hidden, shown `suppressed` (never `<k`: it is not small): the smallest of those whose
  equations bind the narrow interval (non-zero duals of the LP), else the smallest sharing its
  unknowns, else the smallest. Cells the querier knows anyway are never hidden. Hiding only
  removes equations, so intervals only widen and a protected cell stays protected. The loop
  ends when every hidden cell is protected or nothing is left to hide (only the querier's own
  knowledge then pins it).
- Proven zeros (profiles only, `release_proven_zeros`): a zero cell that the cells at or above k
  already prove to be zero (its interval is [0, 0] with every cell >= k released) is released
  as 0, not protected. Argument: it describes no person; it adds nothing to what the other
  released cells say (the bins sum to the released overlap); and hiding it could only be made to
  hold by hiding a real bin (real data: an empty `other` bin hid a bin of 530 members), which
  protects nobody. What it does give away: whether such a bin is 0 or 1..k-1 (a small bin is
  `<k` and protected as usual), i.e. whether anyone in the overlap has that value. Exact mode
  accepts that: for an honest list a zero describes no one, and a querier who crafts its list
  (known members plus a target) reads the target's bin from the released bins of exact mode
  anyway; only noise stops that. The decision uses only the cells at or above k, never the
  small cells it protects. In an overlap the rule does not apply: there the querier chooses its
  list, and 0 versus 1 in a region is whether one person is a member (attack 3), so a zero
  region stays `<k` like any small one.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np


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
    lo, hi, _ = _solve(cells, known, target, ties)
    return lo, hi


def _solve(
    cells: Sequence[LinkedCell],
    known: Collection[str],
    target: LinkedCell,
    ties: Sequence[Tie],
) -> tuple[float, float, set[str]]:
    """The feasible interval and the known cells that bind either end (non-zero duals)."""
    # Imported here, not at the top: scipy.optimize costs every node, coordinator and CLI
    # process ~0.4 s at start, and only exact-mode suppression needs it.
    from scipy.optimize import linprog

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
    some = len(b_eq) > 0
    binding: set[str] = set()
    ends = []
    for sign in (1.0, -1.0):
        result = linprog(
            sign * objective,
            A_eq=a_eq if some else None,
            b_eq=b_eq if some else None,
            bounds=[(0.0, None)] * width,
            method="highs",
        )
        if result.status != 0:  # unbounded above (or, never here, infeasible)
            ends.append(math.inf if sign < 0 else 0.0)
            continue
        ends.append(sign * float(result.fun))
        if some:
            marginals = result.eqlin.marginals[: len(rows)]
            binding |= {c.name for c, m in zip(rows, marginals, strict=True) if abs(m) > 1e-9}
    return ends[0], ends[1], binding


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

    queue = [n for n in names if n in hidden]  # hiding more only widens intervals, so a cell
    while queue:  # once protected stays protected: each is settled once, in order
        narrow = by_name[queue.pop(0)]
        while True:
            lo, hi, binding = _solve(cells, released(), narrow, ties)
            if _protected((lo, hi), k, narrow.name in primary):
                break
            candidates = sorted(
                (by_name[n] for n in names if n not in hidden and n not in known_anyway),
                key=lambda c: (
                    c.name not in binding,
                    not (c.terms & narrow.terms),
                    c.value,
                    order[c.name],
                ),
            )
            if not candidates:
                break
            hidden.add(candidates[0].name)
            queue.append(candidates[0].name)
    return SuppressionPlan(frozenset(primary), frozenset(hidden - primary), frozenset(proven))
