"""Reading TOML config files with errors that name the file and the key."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file is missing, unparsable, or has a wrong or missing key."""


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
