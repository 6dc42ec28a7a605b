"""The same three months under noised policies, checked within bounds of the oracle.

The bounds follow from the error bars of the numbers each share was made from; each statement
still verifies against a retailer's own log."""

from __future__ import annotations

from fractions import Fraction

import pytest

from runtime.audit import open_audit_log
from runtime.signing import load_verify_key
from settlement.agreement import REPEAT_RATE, SHAPLEY_REACH, SHARED_SPEND, Pool
from settlement.measurements import OVERLAP, PROFILE, Measurements
from settlement.verify import verify_statement
from tests.settlement.agreements import oracle_pool_shares, oracle_shares
from tests.settlement.cluster import BRAND, RETAILERS
from tests.settlement.conftest import MONTHS, Settled

pytestmark = pytest.mark.slow  # one cluster, six queries: about 45 s on two cores

WIDTHS = Fraction(6)
"""A noised cell lies within 6 of its 95% half-widths of the truth: discrete Laplace misses
that with probability about 20^-6 (6e-8) per cell."""

Interval = tuple[Fraction, Fraction]


def _cell(data: Measurements, kind: str, name: str) -> Interval:
    cell = next(c for c in data.cells if c.kind == kind and c.name == name)
    assert cell.half_width is not None and cell.half_width > 0
    slack = WIDTHS * Fraction(cell.half_width) + (Fraction(1, 2) if ":sum" in name else 0)
    return cell.value - slack, cell.value + slack


def _weight(pool: Pool, partner: str, data: Measurements) -> Interval:
    """Where the true weight lies, given every input's interval (interval arithmetic)."""
    if pool.metric == SHARED_SPEND:
        return _cell(data, PROFILE, f"{partner}/{pool.attribute}:sum")
    if pool.metric == REPEAT_RATE:
        hits = _cell(data, PROFILE, f"{partner}/{pool.attribute}/{pool.bin}")
        base = _cell(data, PROFILE, partner)
        assert base[0] > 0
        return max(hits[0], Fraction(0)) / base[1], hits[1] / base[0]
    assert pool.metric == SHAPLEY_REACH
    low, high = Fraction(0), Fraction(0)
    for cell in data.cells:
        members = set(cell.name.split("+"))
        if cell.kind != OVERLAP or cell.name == "all" or not {BRAND, partner} <= members:
            continue
        lo, hi = _cell(data, OVERLAP, cell.name)
        low += max(lo, Fraction(0)) / (len(members) - 1)
        high += hi / (len(members) - 1)
    return low, high


def _share_bounds(pool: Pool, data: Measurements) -> dict[str, Interval]:
    weights = {p: _weight(pool, p, data) for p in RETAILERS}
    bounds = {}
    for p, (low, high) in weights.items():
        others_low = sum((weights[q][0] for q in RETAILERS if q != p), Fraction(0))
        others_high = sum((weights[q][1] for q in RETAILERS if q != p), Fraction(0))
        bounds[p] = (
            pool.share * low / (low + others_high),
            pool.share * high / (high + others_low),
        )
    return bounds


def test_every_share_lies_within_bounds_of_the_oracle(noised_run: Settled) -> None:
    for period in MONTHS:
        statement = noised_run.statements[period]
        data = statement.inputs
        truth_pools = oracle_pool_shares(noised_run.agreement, noised_run.truth[period])
        totals_low = dict.fromkeys(RETAILERS, Fraction(0))
        totals_high = dict.fromkeys(RETAILERS, Fraction(0))
        for pool in noised_run.agreement.pools:
            bounds = _share_bounds(pool, data)
            recorded = next(p for p in statement.body["pools"] if p["name"] == pool.name)
            for partner, (low, high) in bounds.items():
                assert low <= truth_pools[pool.name][partner] <= high, (period, pool, partner)
                assert low <= Fraction(recorded["shares"][partner]) <= high
                assert high - low < pool.share  # the bounds say something (spend is noisiest)
                totals_low[partner] += low
                totals_high[partner] += high
        truth = oracle_shares(noised_run.agreement, noised_run.truth[period])
        for partner in RETAILERS:
            assert totals_low[partner] <= truth[partner] <= totals_high[partner]
        # noise was added: the released numbers are not the truth
        assert statement.shares() != truth
        assert all(c.half_width for c in data.cells)


def test_noised_statements_verify_from_a_retailers_log(noised_run: Settled) -> None:
    public = load_verify_key(noised_run.cluster.certs.folder / f"{BRAND}.sign.pub")
    with open_audit_log(noised_run.cluster.audit_log("retailer_a")) as log:
        for period in MONTHS:
            verdict = verify_statement(noised_run.statements[period], log, public)
            assert verdict.ok, verdict.differences
            assert verdict.inputs_checked == len(noised_run.statements[period].body["inputs"])
