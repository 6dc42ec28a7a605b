"""Statements database (SQLite and PostgreSQL), sandbox and metrics, without a cluster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from settlement.agreement import Agreement, AgreementError, load_agreement
from settlement.measurements import OVERLAP, PROFILE, Cell, MeasurementMissing, Measurements
from settlement.sandbox import Band, replay
from settlement.statement import StatementError, issue
from settlement.store import StatementStore
from tests.audit.conftest import BACKENDS, backends
from tests.settlement.agreements import oracle_shares, write_agreements
from tests.settlement.cluster import BRAND, PARTIES, RETAILERS, month_data
from tests.settlement.conftest import MONTHS

KEY = Ed25519PrivateKey.generate()
ISSUED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def truth_measurements(frames: dict[str, pd.DataFrame], query: str) -> Measurements:
    """The cells an exact settlement would record, counted directly with pandas."""
    people = sorted(set().union(*(set(f["person"]) for f in frames.values())))
    held = pd.DataFrame({p: pd.Series(people).isin(frames[p]["person"]) for p in PARTIES})
    cells = []
    for pattern, group in held.groupby(list(PARTIES)):
        members = [p for p, bit in zip(PARTIES, pattern, strict=True) if bit]
        if members:
            cells.append(Cell(OVERLAP, f"{query}-o", "+".join(members), len(group)))
    brand = set(frames[BRAND]["person"])
    for r in RETAILERS:
        shared = frames[r][frames[r]["person"].isin(brand)]
        cells.append(Cell(PROFILE, f"{query}-p", r, len(shared)))
        cells.append(Cell(PROFILE, f"{query}-p", f"{r}/spend:sum", int(shared["spend"].sum())))
        yes = int((shared["repeat"] == "yes").sum())
        cells.append(Cell(PROFILE, f"{query}-p", f"{r}/repeat/yes", yes))
    return Measurements(tuple(cells))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StatementStore]:
    with (
        backends(request.param, tmp_path, ("statements",)) as made,
        StatementStore(made["statements"].url) as opened,
    ):
        yield opened


@pytest.fixture
def agreements(tmp_path: Path) -> tuple[Agreement, Agreement]:
    current, alternative = write_agreements(tmp_path)
    return load_agreement(current), load_agreement(alternative)


def _settle_all(store: StatementStore, agreement: Agreement) -> dict[str, dict[str, pd.DataFrame]]:
    truth = {}
    for period in MONTHS:
        truth[period] = month_data(period)
        data = truth_measurements(truth[period], period)
        store.add(issue(agreement, period, data, BRAND, KEY, ISSUED))
    return truth


def test_statements_round_trip_and_a_period_is_kept_once(
    store: StatementStore, agreements: tuple[Agreement, Agreement]
) -> None:
    current, _ = agreements
    truth = _settle_all(store, current)
    assert store.periods(current.hash) == list(MONTHS)
    for period in MONTHS:
        kept = store.find(current.hash, period)
        assert kept is not None
        kept.check_signature(KEY.public_key())
        assert kept.shares() == oracle_shares(current, truth[period])
    again = issue(current, MONTHS[0], truth_measurements(truth[MONTHS[0]], "x"), BRAND, KEY)
    with pytest.raises(StatementError, match=f"already has a statement for {MONTHS[0]}"):
        store.add(again)
    assert store.find(current.hash, "2026-12") is None


def test_the_sandbox_replays_on_recorded_periods(
    store: StatementStore, agreements: tuple[Agreement, Agreement]
) -> None:
    current, alternative = agreements
    truth = _settle_all(store, current)
    report = replay(store, current, alternative, MONTHS[:2], Band.parse("2pp"))
    assert [c.period for c in report.changes] == [MONTHS[0]] * 3 + [MONTHS[1]] * 3
    for change in report.changes:
        assert change.current == oracle_shares(current, truth[change.period])[change.partner]
        assert (
            change.alternative == oracle_shares(alternative, truth[change.period])[change.partner]
        )
    outside = [c for c in report.changes if abs(c.difference) > Fraction(2, 100)]
    assert report.outside() == outside
    # replaying the agreement on itself changes nothing, within any band
    same = replay(store, current, current, MONTHS, Band.parse("0%"))
    assert not same.outside() and all(c.difference == 0 for c in same.changes)


def test_the_sandbox_names_what_it_cannot_replay(
    store: StatementStore, agreements: tuple[Agreement, Agreement], tmp_path: Path
) -> None:
    current, _ = agreements
    _settle_all(store, current)
    with pytest.raises(
        AgreementError, match="no statement of agreement brand-retail-autumn v1 for 2026-11"
    ):
        empty = StatementStore(str(tmp_path / "empty.db"))
        try:
            replay(empty, current, current, ["2026-11"])
        finally:
            empty.close()
    needs_age = (
        (tmp_path / "current.toml")
        .read_text()
        .replace('attribute = "repeat"', 'attribute = "age_band"')
    )
    (tmp_path / "age.toml").write_text(needs_age.replace("brand-retail-autumn", "by-age"))
    by_age = load_agreement(tmp_path / "age.toml")
    with pytest.raises(AgreementError, match="needs profile cell 'retailer_a/age_band/yes'"):
        replay(store, current, by_age, MONTHS[:1])


def test_band_parsing() -> None:
    assert Band.parse("5%").holds(Fraction(1, 2), Fraction(52, 100))
    assert not Band.parse("5%").holds(Fraction(1, 2), Fraction(53, 100))
    assert Band.parse("2pp").holds(Fraction(1, 2), Fraction(52, 100))
    with pytest.raises(AgreementError, match="write a relative band like 5%"):
        Band.parse("five")


def test_a_hidden_region_is_named_not_taken_as_zero(
    agreements: tuple[Agreement, Agreement],
) -> None:
    current, _ = agreements
    data = truth_measurements(month_data(MONTHS[0]), "q")
    hidden = Measurements(tuple(c for c in data.cells if c.name != "brand+retailer_a+retailer_c"))
    with pytest.raises(MeasurementMissing, match="overlap region brand\\+retailer_a\\+retailer_c"):
        issue(current, MONTHS[0], hidden, BRAND, KEY)
