"""A querier's client profile (client.toml): the coordinator, its TLS files and signing key.

One flat TOML file, so that neither the CLI nor the SDK needs six flags for every query:

    coordinator = "127.0.0.1:50050"
    party = "brand"                       # who signs the queries (and the profile querier)
    ca = "certs/ca.pem"                   # mutual TLS: the CA, your certificate and its key
    cert = "certs/brand.pem"
    key = "certs/brand.key"
    signing_key = "certs/brand.sign.key"  # Ed25519 query-signing key
    # server_name = "coordinator"         # the name the coordinator's certificate carries

Relative paths are relative to the profile's folder. `ca`, `cert` and `key` go together. The
default location is `$XDG_CONFIG_HOME/gongying/client.toml` (`~/.config/gongying/client.toml`);
it is read only when it exists, while a profile named explicitly must exist.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from runtime.certs import COORDINATOR
from runtime.config_file import (
    ConfigError,
    expect,
    parse_address,
    read_toml,
    refuse_unknown_keys,
)
from runtime.tls import TLSFiles

FILE_KEYS = ("ca", "cert", "key", "signing_key")
KEYS = frozenset({"coordinator", "party", "server_name", *FILE_KEYS})


class ClientProfileError(ConfigError):
    """A client profile is missing, not TOML, or has an unknown, mistyped or missing key."""


@dataclass(frozen=True)
class ClientProfile:
    """What a client profile holds; a key it does not set is None (or the default)."""

    path: Path
    coordinator: str | None = None
    party: str | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    signing_key: Path | None = None
    server_name: str = COORDINATOR

    @property
    def tls(self) -> TLSFiles | None:
        """The mutual TLS files, or None when the profile names none."""
        if self.ca is None or self.cert is None or self.key is None:
            return None
        return TLSFiles(self.ca, self.cert, self.key)


def default_profile_path() -> Path:
    """`$XDG_CONFIG_HOME/gongying/client.toml`, by default `~/.config/gongying/client.toml`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gongying" / "client.toml"


def load_client_profile(path: Path | str) -> ClientProfile:
    """Read and check a client profile; any problem is a ClientProfileError naming the file
    and the key."""
    path = Path(path).expanduser()
    where = f"client profile {path}"
    if not path.is_file():
        raise ClientProfileError(
            f"{where} does not exist; write one (keys: coordinator, party, ca, cert, key, "
            "signing_key) or pass --coordinator, --ca, --cert, --key and --signing-key"
        )
    try:
        table = read_toml(path)
        refuse_unknown_keys(table, KEYS, where)
    except ClientProfileError:
        raise
    except ConfigError as error:
        raise ClientProfileError(str(error)) from None
    texts: dict[str, str] = {}
    for name in sorted(KEYS):
        if name in table:
            try:
                texts[name] = expect(table[name], str, f"{where}: key {name!r}")
            except ConfigError as error:
                raise ClientProfileError(str(error)) from None
    if "coordinator" in texts:
        try:
            parse_address(texts["coordinator"], f"{where}: key 'coordinator'")
        except ConfigError as error:
            raise ClientProfileError(str(error)) from None
    files: dict[str, Path | None] = {}
    for name in FILE_KEYS:
        files[name] = _file(path, texts.get(name), name, where)
    tls_given = [name for name in ("ca", "cert", "key") if files[name] is not None]
    if tls_given and len(tls_given) < 3:
        missing = [n for n in ("ca", "cert", "key") if files[n] is None]
        raise ClientProfileError(
            f"{where}: key {missing[0]!r} is missing; ca, cert and key go together "
            "(mutual TLS needs all three)"
        )
    if files["signing_key"] is not None and not texts.get("party"):
        raise ClientProfileError(
            f"{where}: key 'party' is missing; signing_key signs queries as that party"
        )
    return ClientProfile(
        path=path,
        coordinator=texts.get("coordinator"),
        party=texts.get("party") or None,
        ca=files["ca"],
        cert=files["cert"],
        key=files["key"],
        signing_key=files["signing_key"],
        server_name=texts.get("server_name") or COORDINATOR,
    )


def _file(profile: Path, value: str | None, name: str, where: str) -> Path | None:
    """A file key resolved against the profile's folder; it must be a readable file."""
    if value is None:
        return None
    resolved = (profile.parent / Path(value).expanduser()).resolve()
    if not resolved.is_file():
        raise ClientProfileError(f"{where}: key {name!r}: file {resolved} does not exist")
    if not os.access(resolved, os.R_OK):
        raise ClientProfileError(f"{where}: key {name!r}: file {resolved} cannot be read")
    return resolved


def find_client_profile(path: Path | str | None = None) -> ClientProfile | None:
    """The profile at `path` (which must exist), else the default one when it exists."""
    if path is not None:
        return load_client_profile(path)
    default = default_profile_path()
    return load_client_profile(default) if default.is_file() else None


def with_flags(profile: ClientProfile | None, flags: ClientProfile) -> ClientProfile:
    """The profile with every value `flags` sets in its place (flags override the file); with
    no profile, the flags alone (path `.`, as no file was read)."""
    base = profile or ClientProfile(path=Path("."))
    return ClientProfile(
        path=base.path,
        coordinator=flags.coordinator or base.coordinator,
        party=flags.party or base.party,
        ca=flags.ca or base.ca,
        cert=flags.cert or base.cert,
        key=flags.key or base.key,
        signing_key=flags.signing_key or base.signing_key,
        server_name=base.server_name,
    )


def client_settings(profile: Path | None, flags: ClientProfile) -> ClientProfile:
    """What a CLI query uses: the profile (`profile`, else the default one when it exists)
    with every flag given in its place; a ClientProfileError when no coordinator is known."""
    settings = with_flags(find_client_profile(profile), flags)
    if not settings.coordinator:
        raise ClientProfileError(
            "no coordinator: pass --coordinator HOST:PORT, or --profile with a client profile "
            f"that sets coordinator ({default_profile_path()} is read when it exists)"
        )
    return settings


def client_profile_toml(coordinator: str, party: str) -> str:
    """A client profile for `party` whose files (`gongying certs init` names) lie beside it."""
    return (
        "# Client profile of "
        f"{party}: use it with `gongying query ... --profile client.toml`, or copy it to\n"
        "# ~/.config/gongying/client.toml (then no flag is needed). Paths are relative to this\n"
        "# file.\n"
        f'coordinator = "{coordinator}"\n'
        f'party = "{party}"\n'
        'ca = "ca.pem"\n'
        f'cert = "{party}.pem"\n'
        f'key = "{party}.key"\n'
        f'signing_key = "{party}.sign.key"\n'
        f'server_name = "{COORDINATOR}"\n'
    )
