"""The node's config file (node.toml): party, address, TLS, data source, identifiers, attributes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.errors import SourceSpecError
from connectors.identifiers import SERVES, ColumnKind, IdType, NormalisationProfile
from connectors.source_spec import SourceSpec
from model.errors import IdentifierUnavailable
from node.attributes import parse_attributes
from node.display_labels import Labels, parse_labels
from protocols.group_names import DEFAULT_GROUPS, UnknownGroup, check_names
from protocols.profile import Attribute
from runtime.certs import COORDINATOR
from runtime.config_file import (
    ConfigError,
    check_sql_url,
    expect,
    optional,
    parse_address,
    read_toml,
    refuse_unknown_keys,
    require,
    store_location,
    unknown_keys,
)
from runtime.executor_spec import LOCAL, parse_executor
from runtime.tls import INSECURE_FLAG, TLS_KEYS, TLSFiles, parse_tls_table

SOURCE_KINDS = ("csv", "parquet", "sql")
NO_POLICY_FLAG = "insecure_no_policy"
# Every key node.toml may hold, per table; anything else is refused with the nearest suggested.
KEYS = frozenset(
    {
        "party",
        "listen",
        "source",
        "identifiers",
        "normalisation",
        "workers",
        "attributes",
        "paillier",
        "chunk_rows",
        "tls",
        INSECURE_FLAG,
        "coordinator_identity",
        "executor",
        "policy",
        NO_POLICY_FLAG,
        "audit_log",
        "ledger",
        "signing_key",
        "labels",
        "psi_groups",
    }
)
SOURCE_KEYS = frozenset({"kind", "path", "url", "table", "query", "label"})
NORMALISATION_KEYS = frozenset({"default_region", "gmail_canonical"})
PAILLIER_KEYS = frozenset({"key_file", "bits"})
ATTRIBUTE_KEYS = frozenset({"kind", "domain", "lower", "upper", "scale"})


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
    labels: Labels = field(default_factory=dict)  # [labels.<lang>]: display names per language
    psi_groups: tuple[str, ...] = DEFAULT_GROUPS

    def column_for(self, id_type: IdType) -> IdentifierColumn:
        """The identifier column that can serve `id_type`; a clear error when none can."""
        servable = sorted(
            (c for c in self.identifiers if id_type in SERVES[c.kind]),
            key=lambda c: c.kind.value != id_type.value,
        )
        if not servable:
            # the id types, not the owner's column names: this message reaches other parties
            served = sorted({t.value for c in self.identifiers for t in SERVES[c.kind]})
            raise IdentifierUnavailable(
                f"party {self.party!r} has no identifier column for id type {id_type.value!r}; "
                f"it serves: {', '.join(served) or 'none'}"
            )
        return servable[0]


def unknown_node_keys(raw: dict[str, Any], where: str) -> list[str]:
    """One message per unknown key anywhere in a parsed node.toml, nearest known key suggested."""
    problems = unknown_keys(raw, KEYS, where)
    for table, known in (
        ("source", SOURCE_KEYS),
        ("normalisation", NORMALISATION_KEYS),
        ("paillier", PAILLIER_KEYS),
        ("tls", TLS_KEYS),
    ):
        if isinstance(raw.get(table), dict):
            problems += unknown_keys(raw[table], known, f"{where} [{table}]")
    attributes = raw.get("attributes")
    if isinstance(attributes, dict):
        for name, body in attributes.items():
            if isinstance(body, dict):
                problems += unknown_keys(body, ATTRIBUTE_KEYS, f"{where} [attributes.{name}]")
    return problems


def load_node_config(path: Path) -> NodeConfig:
    """Parse node.toml; relative file paths are taken relative to the config file's folder.

    Unknown keys are refused (a typo would otherwise silently drop a setting).
    """
    raw = read_toml(path)
    where = str(path)
    base = path.parent
    for problem in unknown_node_keys(raw, where):
        raise ConfigError(problem)
    source = _source(require(raw, "source", dict, where), base, f"{where} [source]")
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
    attributes = parse_attributes(optional(raw, "attributes", dict, {}, where), where)
    return NodeConfig(
        party=require(raw, "party", str, where),
        listen=parse_address(require(raw, "listen", str, where), f"{where}.listen"),
        source=source,
        identifiers=tuple(identifiers),
        normalisation=profile,
        workers=workers,
        attributes=attributes,
        labels=parse_labels(optional(raw, "labels", dict, {}, where), attributes, where),
        paillier_key_file=(base / key_file) if key_file else None,
        paillier_bits=optional(paillier, "bits", int, 3072, f"{where} [paillier]"),
        chunk_rows=optional(raw, "chunk_rows", int, 100_000, where),
        path=path,
        tls=parse_tls_table(raw, base, where),
        insecure_plaintext=optional(raw, INSECURE_FLAG, bool, False, where),
        coordinator_identity=optional(raw, "coordinator_identity", str, COORDINATOR, where),
        executor=parse_executor(optional(raw, "executor", str, LOCAL, where), f"{where}.executor"),
        psi_groups=_psi_groups(raw, where),
        **_governance(raw, base, where),
    )


def _psi_groups(raw: dict[str, Any], where: str) -> tuple[str, ...]:
    """`psi_groups`: the PSI groups this node serves (default: x25519 and ristretto255)."""
    names = optional(raw, "psi_groups", list, list(DEFAULT_GROUPS), where)
    if not all(isinstance(name, str) for name in names):
        raise ConfigError(f"{where}.psi_groups: expected a list of group names, got {names!r}")
    try:
        return check_names(names, f"{where}.psi_groups")
    except UnknownGroup as error:
        raise ConfigError(str(error)) from None


def _source(table: dict[str, Any], base: Path, where: str) -> SourceSpec:
    """The [source] table as a discreet spec: other parties see only its `label`."""
    refuse_unknown_keys(table, SOURCE_KEYS, where)
    kind = require(table, "kind", str, where)
    if kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}.kind: {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    file_path = optional(table, "path", str, "", where)
    if file_path and not Path(file_path).is_absolute():
        file_path = str(base / file_path)
    url = optional(table, "url", str, "", where)
    label = optional(table, "label", str, kind, where).strip()
    if not label:
        raise ConfigError(f'{where}.label: must not be blank (e.g. label = "members")')
    if kind != "sql" and (url or "table" in table or "query" in table):
        raise ConfigError(f'{where}: url, table and query go with kind = "sql", not {kind!r}')
    if kind == "sql" and file_path:
        raise ConfigError(f"{where}.path: a sql source has a url and a table, not a path")
    try:
        return SourceSpec(
            kind=kind,  # type: ignore[arg-type]
            path=file_path or None,
            url=check_sql_url(url, f"{where}.url") if url else None,
            table=optional(table, "table", str, "", where) or None,
            query=optional(table, "query", str, "", where) or None,
            label=label,
            discreet=True,
        )
    except SourceSpecError as error:
        raise ConfigError(f"{where}: {error}") from None


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
        return store_location(optional(raw, key, str, "", where) or default, base, f"{where}.{key}")

    return {
        "policy": base / policy if policy else None,
        "insecure_no_policy": no_policy,
        "audit_log": location("audit_log", f"{party}.audit.db"),
        "ledger": location("ledger", f"{party}.ledger.db"),
        "signing_key": base / signing_key if signing_key else None,
    }
