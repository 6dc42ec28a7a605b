"""Agreements as code: the TOML file, its checks and its canonical hash.

An agreement names the partners, the months and the pools; mistakes are one line naming the
file and key."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

from runtime.config_file import ConfigError, expect, read_toml, unknown_keys

FORMAT: Final = "gongying.agreement.v1"
PERIOD: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
SHARED_SPEND: Final = "shared_spend"
SHAPLEY_REACH: Final = "shapley_reach"
SHARED_REACH: Final = "shared_reach"
PROSPECT_REACH: Final = "prospect_reach"
REPEAT_RATE: Final = "repeat_rate"
DECLARED: Final = "declared"
METRIC_KEYS: Final[dict[str, frozenset[str]]] = {
    SHARED_SPEND: frozenset({"attribute"}),
    SHAPLEY_REACH: frozenset(),
    SHARED_REACH: frozenset(),
    PROSPECT_REACH: frozenset(),
    REPEAT_RATE: frozenset({"attribute", "bin"}),
    DECLARED: frozenset({"inputs"}),
}
_TOP: Final = frozenset(
    {"agreement", "version", "querier", "partners", "id_type", "first_period", "last_period"}
)
_TOP_TABLES: Final = frozenset({"pools"})


class AgreementError(ConfigError):
    """An agreement file that cannot be used, or a period or alternative it does not cover."""


@dataclass(frozen=True)
class Pool:
    """One pool of the gains: its share of the total and the metric that splits it."""

    name: str
    share: Fraction
    metric: str
    attribute: str = ""
    bin: str = ""
    inputs: tuple[tuple[str, Fraction], ...] = ()  # declared: (partner, value)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "share": str(self.share), "metric": self.metric}
        if self.attribute:
            data["attribute"] = self.attribute
        if self.bin:
            data["bin"] = self.bin
        if self.metric == DECLARED:
            data["inputs"] = {p: str(v) for p, v in self.inputs}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pool:
        return cls(
            data["name"],
            Fraction(data["share"]),
            data["metric"],
            data.get("attribute", ""),
            data.get("bin", ""),
            tuple((p, Fraction(v)) for p, v in (data.get("inputs") or {}).items()),
        )


@dataclass(frozen=True)
class Agreement:
    """A parsed agreement: who settles with whom, over which months, split by which pools."""

    name: str
    version: int
    querier: str
    partners: tuple[str, ...]
    id_type: str
    first_period: str
    last_period: str
    pools: tuple[Pool, ...]

    def to_json(self) -> dict[str, Any]:
        """The canonical document (what the hash covers): comments and layout do not count."""
        return {
            "format": FORMAT,
            "agreement": self.name,
            "version": self.version,
            "querier": self.querier,
            "partners": list(self.partners),
            "id_type": self.id_type,
            "first_period": self.first_period,
            "last_period": self.last_period,
            "pools": [p.to_json() for p in self.pools],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Agreement:
        if data.get("format") != FORMAT:
            raise AgreementError(f"agreement document format is not {FORMAT}")
        return cls(
            data["agreement"],
            data["version"],
            data["querier"],
            tuple(data["partners"]),
            data["id_type"],
            data["first_period"],
            data["last_period"],
            tuple(Pool.from_json(p) for p in data["pools"]),
        )

    @property
    def hash(self) -> str:
        """SHA-256 hex of the canonical document: the hash node policies accept."""
        return hashlib.sha256(canonical(self.to_json())).hexdigest()

    def needs_overlap(self) -> bool:
        return any(p.metric in (SHAPLEY_REACH, SHARED_REACH, PROSPECT_REACH) for p in self.pools)

    def profile_attributes(self) -> tuple[str, ...]:
        """The attributes the agreement's profile query asks for, in pool order, once each."""
        names = [p.attribute for p in self.pools if p.metric in (SHARED_SPEND, REPEAT_RATE)]
        return tuple(dict.fromkeys(names))

    def check_period(self, period: str) -> None:
        """Refuse a period that is not YYYY-MM or lies outside the agreement's months."""
        if not PERIOD.match(period):
            raise AgreementError(f"period {period!r} is not a month YYYY-MM (e.g. 2026-11)")
        if not self.first_period <= period <= self.last_period:
            raise AgreementError(
                f"period {period} is outside agreement {self.name} v{self.version} "
                f"({self.first_period} to {self.last_period})"
            )


def canonical(data: object) -> bytes:
    """Sorted-key compact JSON, UTF-8: the bytes hashed and signed."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def load_agreement(path: Path) -> Agreement:
    """Parse and check an agreement file; AgreementError names the file and key."""
    try:
        raw = read_toml(path)
    except ConfigError as error:
        raise AgreementError(str(error).replace("config file", "agreement file", 1)) from None
    where = str(path)
    problems = unknown_keys(raw, _TOP | _TOP_TABLES, where)
    if problems:
        raise AgreementError(problems[0])
    for key in ("agreement", "version", "querier", "partners", "id_type", "first_period"):
        if key not in raw:
            raise AgreementError(f"{where}: missing key {key!r}")
    name = _text(raw["agreement"], f"{where}: agreement")
    version = _check(expect, raw["version"], int, f"{where}: version")
    if version < 1:
        raise AgreementError(f"{where}: version must be at least 1, got {version}")
    querier = _text(raw["querier"], f"{where}: querier")
    partners = _partners(raw["partners"], querier, f"{where}: partners")
    first = _period(raw["first_period"], f"{where}: first_period")
    last = _period(raw.get("last_period", first), f"{where}: last_period")
    if last < first:
        raise AgreementError(f"{where}: last_period {last} is before first_period {first}")
    pools_table = _check(expect, raw.get("pools", {}), dict, f"{where}: [pools]")
    if not pools_table:
        raise AgreementError(f"{where}: [pools] is empty; name at least one pool ([pools.base])")
    pools = tuple(
        _pool(name, table, partners, f"{where}: [pools.{name}]")
        for name, table in pools_table.items()
    )
    total = sum((p.share for p in pools), Fraction(0))
    if total != 1:
        raise AgreementError(
            f"{where}: [pools] shares add up to {float(total) * 100:g}%, not 100%; "
            f"fix the share of one pool"
        )
    id_type = _text(raw["id_type"], f"{where}: id_type")
    return Agreement(name, version, querier, partners, id_type, first, last, pools)


def _check(function: Any, value: Any, kind: type, where: str) -> Any:
    try:
        return function(value, kind, where)
    except ConfigError as error:
        raise AgreementError(str(error)) from None


def _text(value: Any, where: str) -> str:
    text = _check(expect, value, str, where)
    if not text.strip():
        raise AgreementError(f"{where}: must not be empty")
    return str(text)


def _partners(value: Any, querier: str, where: str) -> tuple[str, ...]:
    items = _check(expect, value, list, where)
    names = [_text(item, where) for item in items]
    if not names:
        raise AgreementError(f"{where}: name at least one partner")
    if len(set(names)) != len(names):
        raise AgreementError(f"{where}: a partner is listed twice")
    if querier in names:
        raise AgreementError(f"{where}: the querier {querier} cannot also be a partner")
    return tuple(names)


def _period(value: Any, where: str) -> str:
    text = _text(value, where)
    if not PERIOD.match(text):
        raise AgreementError(f"{where}: {text!r} is not a month YYYY-MM (e.g. 2026-11)")
    return text


def _share(value: Any, where: str) -> Fraction:
    """`"40%"`, `0.4` or `"2/5"` as an exact fraction in (0, 1]."""
    try:
        if isinstance(value, str) and value.strip().endswith("%"):
            share = Fraction(value.strip()[:-1]) / 100
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            share = Fraction(str(value))
        else:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise AgreementError(f'{where}: {value!r} is not a share (write "40%" or 0.4)') from None
    if not 0 < share <= 1:
        raise AgreementError(f"{where}: share {value!r} must lie in (0%, 100%]")
    return share


def _pool(name: str, table: Any, partners: tuple[str, ...], where: str) -> Pool:
    table = _check(expect, table, dict, where)
    if "share" not in table or "metric" not in table:
        raise AgreementError(f"{where}: needs keys 'share' and 'metric'")
    metric = _text(table["metric"], f"{where}.metric")
    if metric not in METRIC_KEYS:
        raise AgreementError(f"{where}.metric: {metric!r} is not one of {', '.join(METRIC_KEYS)}")
    known = {"share", "metric"} | METRIC_KEYS[metric]
    problems = unknown_keys(table, known, where)
    if problems:
        raise AgreementError(f"{problems[0]} (metric {metric})")
    for key in METRIC_KEYS[metric]:
        if key not in table:
            raise AgreementError(f"{where}: metric {metric} needs key {key!r}")
    share = _share(table["share"], f"{where}.share")
    attribute = _text(table["attribute"], f"{where}.attribute") if "attribute" in table else ""
    bin_name = _text(table["bin"], f"{where}.bin") if "bin" in table else ""
    inputs: tuple[tuple[str, Fraction], ...] = ()
    if metric == DECLARED:
        inputs = _declared(table["inputs"], partners, f"{where}.inputs")
    return Pool(name, share, metric, attribute, bin_name, inputs)


def _declared(
    value: Any, partners: tuple[str, ...], where: str
) -> tuple[tuple[str, Fraction], ...]:
    table = _check(expect, value, dict, where)
    missing = [p for p in partners if p not in table]
    if missing:
        raise AgreementError(f"{where}: no value for partner {missing[0]}")
    extra = [p for p in table if p not in partners]
    if extra:
        raise AgreementError(f"{where}: {extra[0]!r} is not a partner of the agreement")
    values = []
    for partner in partners:
        number = table[partner]
        if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
            raise AgreementError(f"{where}.{partner}: expected a number >= 0, got {number!r}")
        values.append((partner, Fraction(str(number))))
    if not any(v for _, v in values):
        raise AgreementError(f"{where}: every value is 0, so the pool cannot be split")
    return tuple(values)
