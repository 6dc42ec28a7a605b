"""The strategy sandbox: alternative agreements replayed on recorded periods.

No new query and no budget: the measurements are those kept in past statements; each party's
share is compared with a stated band."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from settlement.agreement import Agreement, AgreementError
from settlement.metrics import split, totals
from settlement.store import StatementStore

_BAND = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|pp)\s*$")


@dataclass(frozen=True)
class Band:
    """How far a party's share may move: relative to its current share (`5%`) or in
    percentage points of the whole gains (`2pp`)."""

    limit: Fraction
    relative: bool
    text: str

    @classmethod
    def parse(cls, text: str) -> Band:
        match = _BAND.match(text)
        if match is None:
            raise AgreementError(
                f"--band {text!r}: write a relative band like 5% or an absolute one like 2pp"
            )
        return cls(Fraction(match.group(1)) / 100, match.group(2) == "%", text.strip())

    def holds(self, current: Fraction, alternative: Fraction) -> bool:
        change = abs(alternative - current)
        if not self.relative:
            return change <= self.limit
        return change <= self.limit * current


@dataclass(frozen=True)
class ShareChange:
    """One party's share of one period's gains under the current and the alternative agreement."""

    period: str
    partner: str
    current: Fraction
    alternative: Fraction

    @property
    def difference(self) -> Fraction:
        """Alternative minus current, as a fraction of the whole gains."""
        return self.alternative - self.current

    @property
    def relative(self) -> Fraction | None:
        """The difference relative to the current share (None when that is 0)."""
        return self.difference / self.current if self.current else None


@dataclass(frozen=True)
class SandboxReport:
    """Every party's share per period under both agreements, and the band verdict."""

    current: Agreement
    alternative: Agreement
    band: Band | None
    changes: tuple[ShareChange, ...]

    def outside(self) -> list[ShareChange]:
        """The changes the band does not allow (none without a band)."""
        if self.band is None:
            return []
        band = self.band
        return [c for c in self.changes if not band.holds(c.current, c.alternative)]

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": {"name": self.current.name, "hash": self.current.hash},
            "alternative": {"name": self.alternative.name, "hash": self.alternative.hash},
            "band": None if self.band is None else self.band.text,
            "within_band": None if self.band is None else not self.outside(),
            "changes": [
                {
                    "period": c.period,
                    "partner": c.partner,
                    "current": str(c.current),
                    "alternative": str(c.alternative),
                    "difference": str(c.difference),
                    "relative": None if c.relative is None else str(c.relative),
                    "within_band": None
                    if self.band is None
                    else self.band.holds(c.current, c.alternative),
                }
                for c in self.changes
            ],
        }


def _same_parties(current: Agreement, alternative: Agreement) -> None:
    if alternative.querier != current.querier or set(alternative.partners) != set(current.partners):
        raise AgreementError(
            f"alternative {alternative.name} settles {alternative.querier} with "
            f"{', '.join(alternative.partners)}; the recorded periods of {current.name} measure "
            f"{current.querier} with {', '.join(current.partners)}: replay needs the same parties"
        )


def replay(
    store: StatementStore,
    current: Agreement,
    alternative: Agreement,
    periods: Sequence[str],
    band: Band | None = None,
) -> SandboxReport:
    """Both agreements' shares on each period's recorded measurements (the statements of
    `current` kept in `store`); AgreementError names a period without a statement or a
    number the alternative needs that no statement recorded."""
    _same_parties(current, alternative)
    changes: list[ShareChange] = []
    for period in periods:
        current.check_period(period)
        statement = store.find(current.hash, period)
        if statement is None:
            raise AgreementError(
                f"no statement of agreement {current.name} v{current.version} for {period} in "
                f"{store.where}; settle it first (gongying settle --period {period})"
            )
        data = statement.inputs
        now = totals(split(current, data), current.partners)
        try:
            then = totals(split(alternative, data), current.partners)
        except AgreementError as error:
            raise AgreementError(f"{period}: alternative {alternative.name}: {error}") from None
        changes += [ShareChange(period, p, now[p], then[p]) for p in current.partners]
    return SandboxReport(current, alternative, band, tuple(changes))
