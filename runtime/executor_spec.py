"""The `executor` config key: "local" (a spawn process pool) or "dask://HOST:PORT" (a cluster).

Kept apart from `runtime.executor` so that parsing a config file imports no crypto or Dask code.
"""

from __future__ import annotations

from runtime.config_file import ConfigError, parse_address

LOCAL = "local"
DASK_SCHEME = "dask://"


def parse_executor(value: str, where: str) -> str:
    """Check an `executor` value: "local" or "dask://HOST:PORT" (returned unchanged)."""
    if value == LOCAL:
        return value
    if value.startswith(DASK_SCHEME):
        parse_address(value[len(DASK_SCHEME) :], where)
        return value
    raise ConfigError(f'{where}: must be "local" or "dask://HOST:PORT", got {value!r}')


def dask_address(spec: str) -> str | None:
    """The scheduler address ("tcp://HOST:PORT") of a dask spec; None for the local pool."""
    if spec.startswith(DASK_SCHEME):
        return "tcp://" + spec[len(DASK_SCHEME) :]
    return None
