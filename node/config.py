"""The node's config file (node.toml): party, address, TLS, data source, identifiers, attributes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.identifiers import SERVES, ColumnKind, IdType, NormalisationProfile
from connectors.source_spec import SourceSpec
from gongying.certs import COORDINATOR
from gongying.config_file import ConfigError, expect, optional, parse_address, read_toml, require
from gongying.tls import INSECURE_FLAG, TLSFiles, parse_tls_table
from node.attributes import parse_attributes
from node.executor_spec import LOCAL, parse_executor
from protocols.profile import Attribute

SOURCE_KINDS = ("csv", "parquet", "sql")
NO_POLICY_FLAG = "insecure_no_policy"


@dataclass(frozen=True)
class IdentifierColumn:
    """A source column holding one kind of identifier."""

    column: str
    kind: ColumnKind


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to serve queries over its members."""

    party: str
    listen: str
    source: SourceSpec
    identifiers: tuple[IdentifierColumn, ...]
    normalisation: NormalisationProfile = field(default_factory=NormalisationProfile)
    workers: int = max(1, min(os.cpu_count() or 1, 8))
    attributes: dict[str, Attribute] = field(default_factory=dict)
    paillier_key_file: Path | None = None
    paillier_bits: int = 3072
    chunk_rows: int = 100_000
    path: Path | None = None
    tls: TLSFiles | None = None
    insecure_plaintext: bool = False
    coordinator_identity: str = COORDINATOR
    policy: Path | None = None
    insecure_no_policy: bool = False
    audit_log: str | None = None
    ledger: str | None = None
    signing_key: Path | None = None
    executor: str = LOCAL

    def column_for(self, id_type: IdType) -> IdentifierColumn:
        """The identifier column that can serve `id_type`; a clear error when none can."""
        servable = sorted(
            (c for c in self.identifiers if id_type in SERVES[c.kind]),
            key=lambda c: c.kind.value != id_type.value,
        )
        if not servable:
            held = ", ".join(f"{c.column} ({c.kind.value})" for c in self.identifiers) or "none"
            raise IdentifierUnavailable(
                f"party {self.party!r} has no identifier column for id type {id_type.value!r}; "
                f"it holds: {held}"
            )
        return servable[0]


class IdentifierUnavailable(LookupError):
    """The node holds no column that can serve the requested identifier type."""


def load_node_config(path: Path) -> NodeConfig:
    """Parse node.toml; relative file paths are taken relative to the config file's folder."""
    raw = read_toml(path)
    where = str(path)
    base = path.parent
    source_table = require(raw, "source", dict, where)
    kind = require(source_table, "kind", str, f"{where} [source]")
    if kind not in SOURCE_KINDS:
        raise ConfigError(
            f"{where} [source].kind: {kind!r} is not one of {', '.join(SOURCE_KINDS)}"
        )
    file_path = optional(source_table, "path", str, "", f"{where} [source]")
    if file_path and not Path(file_path).is_absolute():
        file_path = str(base / file_path)
    source = SourceSpec(
        kind=kind,  # type: ignore[arg-type]
        path=file_path or None,
        url=optional(source_table, "url", str, "", f"{where} [source]") or None,
        table=optional(source_table, "table", str, "", f"{where} [source]") or None,
        query=optional(source_table, "query", str, "", f"{where} [source]") or None,
    )
    id_table = require(raw, "identifiers", dict, where)
    identifiers = []
    for column_kind, column in id_table.items():
        try:
            parsed_kind = ColumnKind(column_kind)
        except ValueError:
            known = ", ".join(k.value for k in ColumnKind)
            raise ConfigError(
                f"{where} [identifiers]: {column_kind!r} is not an identifier kind ({known})"
            ) from None
        identifiers.append(
            IdentifierColumn(
                expect(column, str, f"{where} [identifiers].{column_kind}"), parsed_kind
            )
        )
    if not identifiers:
        raise ConfigError(f"{where} [identifiers]: declare at least one identifier column")
    norm = optional(raw, "normalisation", dict, {}, where)
    profile = NormalisationProfile(
        default_region=optional(norm, "default_region", str, "CN", f"{where} [normalisation]"),
        gmail_canonical=optional(norm, "gmail_canonical", bool, False, f"{where} [normalisation]"),
    )
    paillier = optional(raw, "paillier", dict, {}, where)
    key_file = optional(paillier, "key_file", str, "", f"{where} [paillier]")
    workers = optional(raw, "workers", int, NodeConfig.workers, where)
    if workers < 1:
        raise ConfigError(f"{where}.workers: must be at least 1, got {workers}")
    return NodeConfig(
        party=require(raw, "party", str, where),
        listen=parse_address(require(raw, "listen", str, where), f"{where}.listen"),
        source=source,
        identifiers=tuple(identifiers),
        normalisation=profile,
        workers=workers,
        attributes=parse_attributes(optional(raw, "attributes", dict, {}, where), where),
        paillier_key_file=(base / key_file) if key_file else None,
        paillier_bits=optional(paillier, "bits", int, 3072, f"{where} [paillier]"),
        chunk_rows=optional(raw, "chunk_rows", int, 100_000, where),
        path=path,
        tls=parse_tls_table(raw, base, where),
        insecure_plaintext=optional(raw, INSECURE_FLAG, bool, False, where),
        coordinator_identity=optional(raw, "coordinator_identity", str, COORDINATOR, where),
        executor=parse_executor(optional(raw, "executor", str, LOCAL, where), f"{where}.executor"),
        **_governance(raw, base, where),
    )


def _governance(raw: dict[str, Any], base: Path, where: str) -> dict[str, Any]:
    """Policy, audit log, budget ledger and checkpoint-signing key, relative to the config file.

    A node without a policy refuses to start unless `insecure_no_policy = true` says so; the
    audit log and the ledger default to SQLite files next to the config (`<party>.audit.db`,
    `<party>.ledger.db`); either may be a SQLAlchemy URL (PostgreSQL) instead.
    """
    party = require(raw, "party", str, where)
    policy = optional(raw, "policy", str, "", where)
    no_policy = optional(raw, NO_POLICY_FLAG, bool, False, where)
    if policy and no_policy:
        raise ConfigError(f"{where}: set either policy or {NO_POLICY_FLAG}, not both")
    if not policy and not no_policy:
        raise ConfigError(
            f'{where}: no policy file; set policy = "policy.toml" (or, for a throwaway local '
            f"test only, {NO_POLICY_FLAG} = true, which answers every caller unchecked)"
        )
    signing_key = optional(raw, "signing_key", str, "", where)

    def location(key: str, default: str) -> str:
        value = optional(raw, key, str, "", where) or default
        return value if "://" in value or Path(value).is_absolute() else str(base / value)

    return {
        "policy": base / policy if policy else None,
        "insecure_no_policy": no_policy,
        "audit_log": location("audit_log", f"{party}.audit.db"),
        "ledger": location("ledger", f"{party}.ledger.db"),
        "signing_key": base / signing_key if signing_key else None,
    }
