"""`gongying coordinator check`: mistakes in coordinator.toml caught before it serves."""

from __future__ import annotations

from pathlib import Path

from coordinator.config import load_coordinator_config, unknown_coordinator_keys
from coordinator.workspace_check import workspace_problems
from runtime.config_file import ConfigError, file_location_problems, read_toml
from runtime.serving import port_problem
from runtime.signing import SignedQueryError, load_signing_key
from runtime.tls import transport_problems


def check_coordinator(path: Path) -> list[str]:
    """The problems that would stop the coordinator at `path` from serving; empty when none."""
    try:
        raw = read_toml(path)
    except ConfigError as error:
        return [str(error)]
    unknown = unknown_coordinator_keys(raw, str(path))
    if unknown:
        return unknown
    try:
        config = load_coordinator_config(path)
    except ConfigError as error:
        return [str(error)]
    problems = transport_problems(config.tls, config.insecure_plaintext, str(path))
    if config.signing_key is not None:
        try:
            load_signing_key(config.signing_key)
        except SignedQueryError as error:
            problems.append(f"{path}.signing_key: {error} (create one with `gongying certs init`)")
    problems += file_location_problems(
        {"audit_log": config.audit_log, "history": config.history}, path
    )
    if problem := port_problem(config.listen):
        problems.append(f"{path}.listen: {problem}")
    return problems + workspace_problems(config, path)
