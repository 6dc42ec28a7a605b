"""The dashboard's users file: names and scrypt password hashes (TOML, never plain passwords)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from runtime.config_file import ConfigError, expect, read_toml, unknown_keys

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 10


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (hex) of `password` with a fresh 16-byte salt."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` hashes to `stored` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def load_users(path: Path) -> dict[str, str]:
    """Name -> stored hash from `[users.NAME] password = "scrypt$..."`; ConfigError otherwise."""
    raw = read_toml(path)
    for problem in unknown_keys(raw, ("users",), str(path)):
        raise ConfigError(problem)
    users = expect(raw.get("users", {}), dict, f"{path} [users]")
    stored = {}
    for name, entry in users.items():
        key = f"{path} [users.{name}]"
        for problem in unknown_keys(expect(entry, dict, key), ("password",), key):
            raise ConfigError(problem)
        value = expect(entry.get("password"), str, f"{key}.password")
        if not value.startswith("scrypt$") or value.count("$") != 5:
            raise ConfigError(
                f"{key}.password: not a scrypt hash; set it with "
                f"`gongying coordinator dashboard-user --users {path} {name}`"
            )
        stored[name] = value
    if not stored:
        raise ConfigError(
            f"{path}: no users; add one with "
            f"`gongying coordinator dashboard-user --users {path} NAME`"
        )
    return stored


def set_user(path: Path, name: str, password: str) -> None:
    """Add `name` to the users file (or replace its password); the file is created 0600."""
    if not NAME.match(name):
        raise ConfigError(f"user name {name!r}: use letters, digits, and . _ @ - (at most 64)")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"the password must have at least {MIN_PASSWORD} characters")
    users = load_users(path) if path.exists() and path.stat().st_size else {}
    users[name] = hash_password(password)
    text = "".join(f'[users."{n}"]\npassword = "{h}"\n\n' for n, h in sorted(users.items()))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
