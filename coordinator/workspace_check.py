"""`coordinator check` for schedules and the dashboard: keys that load, files that exist."""

from __future__ import annotations

from pathlib import Path

from coordinator.config import CoordinatorConfig
from coordinator.dashboard_users import load_users
from runtime.audit import AuditError, load_public_key
from runtime.config_file import ConfigError
from runtime.serving import port_problem
from runtime.signing import SignedQueryError, load_signing_key


def workspace_problems(config: CoordinatorConfig, path: Path) -> list[str]:
    """One line per schedule signing key that does not load and per dashboard file or port
    that cannot be used."""
    problems = []
    for schedule in config.schedules:
        if schedule.signing_key is None:
            continue
        try:
            load_signing_key(schedule.signing_key)
        except (OSError, SignedQueryError) as error:
            problems.append(
                f"{path} [schedules.{schedule.name}].signing_key: {error} (the querier "
                f"{schedule.querier}'s query-signing key, e.g. certs/{schedule.querier}.sign.key)"
            )
    dashboard = config.dashboard
    if dashboard is None:
        return problems
    try:
        load_users(dashboard.users)
    except ConfigError as error:
        problems.append(f"{path} [dashboard].users: {error}")
    for name, file in (("cert", dashboard.cert), ("key", dashboard.key)):
        if file is not None and not file.is_file():
            problems.append(f"{path} [dashboard].{name}: {file} does not exist")
    for party, file in dashboard.head_keys.items():
        try:
            load_public_key(file)
        except AuditError as error:
            problems.append(f"{path} [dashboard.head_keys].{party}: {error}")
    if problem := port_problem(dashboard.listen):
        problems.append(f"{path} [dashboard].listen: {problem}")
    return problems
