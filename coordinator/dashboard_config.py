"""The `[dashboard]` table of coordinator.toml: where the health dashboard listens, who may sign
in, the partners' agreed budgets and the scorecard's red/amber/green rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.config_file import (
    ConfigError,
    expect,
    optional,
    parse_address,
    require,
    unknown_keys,
)

DASHBOARD_KEYS = frozenset(
    {
        "listen",
        "users",
        "lang",
        "session_minutes",
        "window_days",
        "cert",
        "key",
        "budgets",
        "scorecard",
        "head_keys",
    }
)
RULE_KEYS = frozenset({"better", "green", "amber"})
LANGUAGES = ("en", "zh-CN")
# what the scorecard measures privately (from the coordinator's audit log and schedule history)
DIMENSIONS = ("overlap_growth", "new_customer_reach", "budget_headroom", "refusal_rate")


@dataclass(frozen=True)
class Rule:
    """Green when the value is at least (`better = "higher"`) or at most (`"lower"`) `green`,
    amber when it is within `amber`, red otherwise."""

    better: str
    green: float
    amber: float

    def rate(self, value: float | None) -> str:
        """ "green", "amber" or "red"; "none" when nothing was measured."""
        if value is None:
            return "none"
        sign = 1.0 if self.better == "higher" else -1.0
        if sign * value >= sign * self.green:
            return "green"
        if sign * value >= sign * self.amber:
            return "amber"
        return "red"


@dataclass(frozen=True)
class DashboardSettings:
    """The dashboard's settings; off unless `[dashboard]` names `listen`."""

    listen: str
    users: Path
    lang: str = "en"
    session_minutes: int = 480
    window_days: int = 30
    cert: Path | None = None
    key: Path | None = None
    budgets: dict[str, float] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    # each partner's audit-log verification key (its <party>.sign.pub): the heads it witnessed
    # are checked against it at every page load
    head_keys: dict[str, Path] = field(default_factory=dict)


def dashboard_key_problems(table: object, where: str) -> list[str]:
    """Unknown keys of `[dashboard]` and its scorecard rules, nearest known key suggested."""
    if not isinstance(table, dict):
        return []
    problems = unknown_keys(table, DASHBOARD_KEYS, f"{where} [dashboard]")
    scorecard = table.get("scorecard")
    if isinstance(scorecard, dict):
        problems += unknown_keys(scorecard, DIMENSIONS, f"{where} [dashboard.scorecard]")
        for name, rule in scorecard.items():
            if isinstance(rule, dict):
                problems += unknown_keys(rule, RULE_KEYS, f"{where} [dashboard.scorecard.{name}]")
    return problems


def parse_dashboard(
    table: Mapping[str, Any], parties: Mapping[str, str], base: Path, where: str
) -> DashboardSettings:
    """`[dashboard]` as settings; every mistake is one ConfigError line naming the key."""
    key = f"{where} [dashboard]"
    listen = parse_address(require(table, "listen", str, key), f"{key}.listen")
    lang = optional(table, "lang", str, "en", key)
    if lang not in LANGUAGES:
        raise ConfigError(f"{key}.lang: {lang!r} is not one of {', '.join(LANGUAGES)}")
    session = optional(table, "session_minutes", int, 480, key)
    window = optional(table, "window_days", int, 30, key)
    for name, value in (("session_minutes", session), ("window_days", window)):
        if value <= 0:
            raise ConfigError(f"{key}.{name}: must be positive, got {value}")
    cert, tls_key = optional(table, "cert", str, "", key), optional(table, "key", str, "", key)
    if bool(cert) != bool(tls_key):
        raise ConfigError(f"{key}: give both cert and key for HTTPS, or neither")
    budgets = {}
    for party, value in optional(table, "budgets", dict, {}, key).items():
        if party not in parties:
            known = ", ".join(sorted(parties))
            raise ConfigError(f"{key} [budgets]: unknown party {party!r}; [parties] has {known}")
        budgets[party] = expect(value, float, f"{key} [budgets].{party}")
        if budgets[party] <= 0:
            raise ConfigError(f"{key} [budgets].{party}: must be a positive epsilon")
    head_keys = {}
    for party, value in optional(table, "head_keys", dict, {}, key).items():
        if party not in parties:
            known = ", ".join(sorted(parties))
            raise ConfigError(f"{key} [head_keys]: unknown party {party!r}; [parties] has {known}")
        head_keys[party] = base / expect(value, str, f"{key} [head_keys].{party}")
    rules = {
        name: _rule(expect(raw, dict, f"{key} [scorecard.{name}]"), f"{key} [scorecard.{name}]")
        for name, raw in optional(table, "scorecard", dict, {}, key).items()
    }
    return DashboardSettings(
        listen=listen,
        users=base / require(table, "users", str, key),
        lang=lang,
        session_minutes=session,
        window_days=window,
        cert=base / cert if cert else None,
        key=base / tls_key if tls_key else None,
        budgets=budgets,
        rules=rules,
        head_keys=head_keys,
    )


def _rule(raw: dict[str, Any], key: str) -> Rule:
    better = require(raw, "better", str, key)
    if better not in ("higher", "lower"):
        raise ConfigError(f"{key}.better: {better!r} is not 'higher' or 'lower'")
    green, amber = require(raw, "green", float, key), require(raw, "amber", float, key)
    if (better == "higher" and amber > green) or (better == "lower" and amber < green):
        raise ConfigError(
            f"{key}: amber ({amber}) must be {'below' if better == 'higher' else 'above'} "
            f"green ({green}) when {better} is better"
        )
    return Rule(better, green, amber)
