"""Writing node.toml, coordinator.toml and policy.toml from typed values, escaped as TOML."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeAlias, TypedDict, cast

from connectors.source_spec import SourceSpec
from protocols.paillier_attributes import Attribute, CategoricalAttribute
from runtime.tls import INSECURE_FLAG, TLSFiles

Scalar: TypeAlias = str | int | float | bool | Path
Value: TypeAlias = Scalar | Sequence[Scalar] | Mapping[str, "Value"]
Table: TypeAlias = Mapping[str, Value]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class PolicyTerms(TypedDict, total=False):
    """One partner's terms (or the `[defaults]`) as policy.toml spells them (node/policy.py)."""

    identities: list[str]
    query_kinds: list[str]
    id_types: list[str]
    attributes: list[str]
    min_cohort: int
    min_counterparty_set: int
    queries_per_day: int
    epsilon_per_query: float
    epsilon_per_period: float
    period_days: int
    exact: bool
    max_set_size: int
    max_concurrent: int
    co_parties: list[str]
    signing_key: str | Path
    audiences: list[str]
    agreements: list[str]


def toml_text(table: Table, comment: str = "") -> str:
    """`table` as a TOML document: its plain keys first, then one `[section]` per sub-table."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += _section(table, ())
    return "\n".join(lines).strip("\n") + "\n"


def write_toml(path: Path, table: Table, comment: str = "") -> Path:
    """Write `table` to `path` (its folder created) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text(table, comment), encoding="utf-8")
    return path


def _section(table: Table, prefix: tuple[str, ...]) -> list[str]:
    plain = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    nested = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    lines = []
    if prefix and (plain or not nested):
        lines += ["", f"[{'.'.join(_key(p) for p in prefix)}]"]
    lines += [f"{_key(key)} = {_value(value)}" for key, value in plain]
    for key, value in nested:
        assert isinstance(value, Mapping)
        lines += _section(value, (*prefix, key))
    return lines


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, and DEL, which JSON leaves, escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str | Path):
        return _string(str(value))
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__} {value!r}")


def tls_table(files: TLSFiles) -> dict[str, Value]:
    """The `[tls]` table naming a party's CA, certificate and key."""
    return {"ca": files.ca, "cert": files.cert, "key": files.key}


def source_table(source: SourceSpec) -> dict[str, Value]:
    """The `[source]` table of a file or SQL member source."""
    if source.kind == "dataframe":
        raise ValueError("a dataframe source has no node.toml form; write it to a file first")
    fields = {
        "kind": source.kind,
        "path": source.path,
        "url": source.url,
        "table": source.table,
        "query": source.query,
        "label": source.label,
    }
    return {key: value for key, value in fields.items() if value is not None}


def attributes_table(attributes: Sequence[Attribute]) -> dict[str, Value]:
    """The `[attributes.NAME]` tables declaring profilable attributes."""
    table: dict[str, Value] = {}
    for spec in attributes:
        if isinstance(spec, CategoricalAttribute):
            table[spec.name] = {"kind": "categorical", "domain": list(spec.domain)}
        else:
            bounds = {"lower": float(spec.lower), "upper": float(spec.upper)}
            table[spec.name] = {"kind": "numeric", **bounds, "scale": spec.scale}
    return table


def node_table(
    party: str,
    listen: str,
    source: SourceSpec,
    identifiers: Mapping[str, str],
    *,
    workers: int | None = 1,
    tls: TLSFiles | None = None,
    policy: Path | str | None = None,
    signing_key: Path | str | None = None,
    audit_log: Path | str | None = None,
    attributes: Sequence[Attribute] = (),
    paillier_key: Path | str | None = None,
    paillier_bits: int | None = None,
    default_region: str | None = None,
    more: Table | None = None,
) -> dict[str, Value]:
    """A node.toml: without `tls` it is plaintext, and without `policy` it answers unchecked
    (both flags written, as the loader demands). `identifiers` maps identifier kind to column;
    `more` adds keys as they are (executor, chunk_rows, ledger, coordinator_identity, ...)."""
    table: dict[str, Value] = {"party": party, "listen": listen}
    optional = {"workers": workers, "policy": policy, "signing_key": signing_key}
    table.update({k: v for k, v in {**optional, "audit_log": audit_log}.items() if v is not None})
    if tls is None:
        table[INSECURE_FLAG] = True
    if policy is None:
        table["insecure_no_policy"] = True
    table.update(more or {})
    if tls is not None:
        table["tls"] = tls_table(tls)
    table["source"] = source_table(source)
    table["identifiers"] = dict(identifiers)
    if default_region is not None:
        table["normalisation"] = {"default_region": default_region}
    if attributes:
        table["attributes"] = attributes_table(attributes)
    if paillier_key is not None:
        key = {"key_file": paillier_key}
        table["paillier"] = key if paillier_bits is None else {**key, "bits": paillier_bits}
    return table


def coordinator_table(
    listen: str,
    parties: Mapping[str, str],
    *,
    workers: int | None = 1,
    tls: TLSFiles | None = None,
    signing_key: Path | str | None = None,
    audit_log: Path | str | None = None,
    deadline_seconds: float | None = None,
    clients: Sequence[str] = (),
    acting_for: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Value]:
    """A coordinator.toml routing to `parties` (party -> HOST:PORT); plaintext without `tls`."""
    table: dict[str, Value] = {"listen": listen}
    optional = {
        "workers": workers,
        "deadline_seconds": deadline_seconds,
        "signing_key": signing_key,
        "audit_log": audit_log,
    }
    table.update({k: v for k, v in optional.items() if v is not None})
    if clients:
        table["clients"] = list(clients)
    if tls is None:
        table[INSECURE_FLAG] = True
    else:
        table["tls"] = tls_table(tls)
    table["parties"] = dict(parties)
    if acting_for:
        table["acting_for"] = {client: list(signers) for client, signers in acting_for.items()}
    return table


def policy_table(
    partners: Mapping[str, PolicyTerms], defaults: PolicyTerms | None = None
) -> dict[str, Value]:
    """A policy.toml: `[defaults]` (when given) and one `[partners.NAME]` table each."""
    table: dict[str, Value] = {}
    if defaults:
        table["defaults"] = _terms(defaults)
    table["partners"] = {name: _terms(terms) for name, terms in partners.items()}
    return table


def _terms(terms: PolicyTerms) -> dict[str, Value]:
    return cast(dict[str, Value], dict(terms))
