"""The coordinator's config file (coordinator.toml): listen address, TLS, partner node addresses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.identifiers import NormalisationProfile
from coordinator.dashboard_config import DashboardSettings, dashboard_key_problems, parse_dashboard
from coordinator.schedules import Schedule, parse_schedules, schedule_key_problems
from runtime.config_file import (
    ConfigError,
    expect,
    optional,
    parse_address,
    read_toml,
    require,
    store_location,
    unknown_keys,
)
from runtime.executor_spec import LOCAL, parse_executor
from runtime.tls import INSECURE_FLAG, TLS_KEYS, TLSFiles, parse_tls_table

DEFAULT_DEADLINE_SECONDS = 900.0
# Every key coordinator.toml may hold; anything else is refused with the nearest suggested.
KEYS = frozenset(
    {
        "listen",
        "parties",
        "deadline_seconds",
        "normalisation_profile",
        "workers",
        "tls",
        INSECURE_FLAG,
        "clients",
        "audit_log",
        "signing_key",
        "executor",
        "acting_for",
        "history",
        "schedules",
        "dashboard",
    }
)


@dataclass(frozen=True)
class CoordinatorConfig:
    """Where the coordinator listens and which nodes it routes queries to."""

    listen: str
    parties: dict[str, str]
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    normalisation_profile: str = NormalisationProfile().label()
    workers: int = max(1, min(os.cpu_count() or 1, 8))
    tls: TLSFiles | None = None
    insecure_plaintext: bool = False
    clients: tuple[str, ...] = field(default_factory=tuple)
    # a listed client's certificate may submit queries these parties signed (recorded as such)
    acting_for: dict[str, tuple[str, ...]] = field(default_factory=dict)
    audit_log: str | None = None
    signing_key: Path | None = None
    executor: str = LOCAL
    # the history database of scheduled runs (SQLite file or SQLAlchemy URL)
    history: str | None = None
    schedules: tuple[Schedule, ...] = ()
    dashboard: DashboardSettings | None = None  # off unless [dashboard] is given

    def allowed_callers(self) -> frozenset[str]:
        """Identities that may call the coordinator: every known party and listed clients."""
        return frozenset(self.parties) | frozenset(self.clients)

    def signers_for(self, identity: str) -> frozenset[str]:
        """Whose signed queries a caller whose certificate names `identity` may submit: its
        own, and those of the parties `[acting_for]` lists for it."""
        return frozenset((identity, *self.acting_for.get(identity, ())))


def unknown_coordinator_keys(raw: dict[str, Any], where: str) -> list[str]:
    """One message per unknown key in a parsed coordinator.toml, nearest known key suggested."""
    problems = unknown_keys(raw, KEYS, where)
    if isinstance(raw.get("tls"), dict):
        problems += unknown_keys(raw["tls"], TLS_KEYS, f"{where} [tls]")
    problems += schedule_key_problems(raw.get("schedules"), where)
    problems += dashboard_key_problems(raw.get("dashboard"), where)
    return problems


def load_coordinator_config(path: Path) -> CoordinatorConfig:
    """Parse coordinator.toml; every party needs a HOST:PORT address; unknown keys are refused."""
    raw = read_toml(path)
    where = str(path)
    for problem in unknown_coordinator_keys(raw, where):
        raise ConfigError(problem)
    table = require(raw, "parties", dict, where)
    if len(table) < 2:
        raise ConfigError(f"{where} [parties]: at least two parties are needed, got {len(table)}")
    parties = {
        name: parse_address(
            expect(address, str, f"{where} [parties].{name}"), f"{where} [parties].{name}"
        )
        for name, address in table.items()
    }
    deadline = optional(raw, "deadline_seconds", float, DEFAULT_DEADLINE_SECONDS, where)
    if deadline <= 0:
        raise ConfigError(f"{where}.deadline_seconds: must be positive, got {deadline}")
    clients = optional(raw, "clients", list, [], where)
    for index, client in enumerate(clients):
        expect(client, str, f"{where}.clients[{index}]")
    acting_for = _acting_for(optional(raw, "acting_for", dict, {}, where), clients, where)
    schedules = parse_schedules(
        optional(raw, "schedules", dict, {}, where), parties, path.parent, where
    )
    dashboard = (
        parse_dashboard(raw["dashboard"], parties, path.parent, where)
        if isinstance(raw.get("dashboard"), dict)
        else None
    )
    if "dashboard" in raw and dashboard is None:
        raise ConfigError(f"{where}.dashboard: expected a table [dashboard]")
    history = optional(raw, "history", str, "", where)
    wants_history = bool(history or schedules or dashboard)
    return CoordinatorConfig(
        listen=parse_address(require(raw, "listen", str, where), f"{where}.listen"),
        parties=parties,
        deadline_seconds=deadline,
        workers=optional(raw, "workers", int, CoordinatorConfig.workers, where),
        normalisation_profile=optional(
            raw, "normalisation_profile", str, NormalisationProfile().label(), where
        ),
        tls=parse_tls_table(raw, path.parent, where),
        insecure_plaintext=optional(raw, INSECURE_FLAG, bool, False, where),
        audit_log=store_location(
            optional(raw, "audit_log", str, "", where) or "coordinator.audit.db",
            path.parent,
            f"{where}.audit_log",
        ),
        signing_key=(path.parent / key)
        if (key := optional(raw, "signing_key", str, "", where))
        else None,
        clients=tuple(clients),
        acting_for=acting_for,
        executor=parse_executor(optional(raw, "executor", str, LOCAL, where), f"{where}.executor"),
        history=store_location(history or "coordinator.history.db", path.parent, f"{where}.history")
        if wants_history
        else None,
        schedules=schedules,
        dashboard=dashboard,
    )


def _acting_for(
    table: dict[str, object], clients: list[str], where: str
) -> dict[str, tuple[str, ...]]:
    """`[acting_for] analyst = ["brand"]`: a listed client may submit queries brand signed."""
    acting: dict[str, tuple[str, ...]] = {}
    for client, signers in table.items():
        key = f"{where} [acting_for].{client}"
        if client not in clients:
            raise ConfigError(f"{key}: {client!r} is not in clients; list it there first")
        names = expect(signers, list, key)
        for index, name in enumerate(names):
            expect(name, str, f"{key}[{index}]")
        acting[client] = tuple(names)
    return acting
