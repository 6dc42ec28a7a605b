"""Reading TOML config files with errors that name the file and the key."""

from __future__ import annotations

import difflib
import importlib.util
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file is missing, unparsable, or has a wrong or missing key."""


class StartupRefused(ConfigError):
    """A config that a start-up check found problems in; `problems` holds one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a ConfigError naming it."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


def require(table: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    """table[key] as `kind`, or a ConfigError naming `where.key`."""
    if key not in table:
        raise ConfigError(f"{where}: missing key {key!r}")
    return expect(table[key], kind, f"{where}.{key}")


def optional(table: Mapping[str, Any], key: str, kind: type[T], default: T, where: str) -> T:
    """table[key] as `kind` when present, else `default`."""
    if key not in table:
        return default
    return expect(table[key], kind, f"{where}.{key}")


def expect(value: Any, kind: type[T], where: str) -> T:
    """`value` checked to be a `kind` (ints accepted where floats are expected)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # type: ignore[return-value]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(
            f"{where}: expected {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def parse_address(value: str, where: str) -> str:
    """A HOST:PORT address (IPv6 hosts in brackets)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{where}: {value!r} is not a HOST:PORT address")
    return value


def unknown_keys(table: Mapping[str, Any], known: Iterable[str], where: str) -> list[str]:
    """One message per key of `table` not in `known`, suggesting the nearest known key."""
    choices = sorted(known)
    problems = []
    for key in table:
        if key in choices:
            continue
        nearest = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
        hint = f"did you mean {nearest[0]!r}?" if nearest else f"known keys: {', '.join(choices)}"
        problems.append(f"{where}: unknown key {key!r}; {hint}")
    return problems


def refuse_unknown_keys(table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Raise a ConfigError for the first key of `table` not in `known` (nearest key suggested)."""
    problems = unknown_keys(table, known, where)
    if problems:
        raise ConfigError(problems[0])


def check_sql_url(url: str, where: str) -> str:
    """`url` unless it uses a scheme SQLAlchemy has no dialect for that people often write."""
    scheme = url.partition("://")[0]
    missing_driver = scheme in ("postgresql", "postgresql+psycopg2") and not _has("psycopg2")
    if scheme == "postgres" or missing_driver:
        fixed = "postgresql+psycopg://" + url.partition("://")[2]
        raise ConfigError(
            f"{where}: {scheme}:// is not a dialect this node can use; write "
            f"postgresql+psycopg://... (e.g. {mask_password(fixed)})"
        )
    return url


def store_location(value: str, base: Path, where: str) -> str:
    """A store (audit log, ledger, history): a SQLAlchemy URL as given, once checked, or a file
    path relative to the config's folder `base`."""
    if "://" in value:
        return check_sql_url(value, where)
    return value if Path(value).is_absolute() else str(base / value)


def mask_password(url: str) -> str:
    """A URL with the password between ':' and '@' of its authority replaced by ***."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not at or not colon:
        return url
    return f"{scheme}{sep}{user}:***@{host}{slash}{path}"


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def file_location_problems(locations: dict[str, str | None], path: Path) -> list[str]:
    """SQLite files (not URLs) whose folder does not exist."""
    problems = []
    for key, value in locations.items():
        if value and "://" not in value and not Path(value).parent.is_dir():
            problems.append(f"{path}.{key}: folder {Path(value).parent} does not exist")
    return problems
