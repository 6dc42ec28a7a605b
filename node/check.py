"""`gongying node check`: every mistake in node.toml that would surface only at query time.

Each problem is one line naming the file, the table and the key, and the fix. The owner's own
check may name the real source location (path, URL, table, columns); nothing here is sent to
another party.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa

from connectors.errors import ConnectorError, SourceNotFound, SourceUnreadable
from connectors.opener import open_source
from connectors.source_spec import SourceSpec
from node.config import NodeConfig, load_node_config, unknown_node_keys
from node.policy import load_policy
from runtime.config_file import ConfigError, file_location_problems, read_toml
from runtime.serving import port_problem
from runtime.signing import SignedQueryError, load_signing_key, load_verify_key
from runtime.tls import transport_problems


def check_node(path: Path) -> list[str]:
    """The problems that would stop the node at `path` from answering; empty when none."""
    try:
        raw = read_toml(path)
    except ConfigError as error:
        return [str(error)]
    unknown = unknown_node_keys(raw, str(path))
    if unknown:
        return unknown
    try:
        config = load_node_config(path)
    except ConfigError as error:
        return [str(error)]
    return [
        *transport_problems(config.tls, config.insecure_plaintext, str(path)),
        *source_problems(config, str(path)),
        *key_problems(config, str(path)),
        *policy_problems(config, str(path)),
        *file_location_problems({"audit_log": config.audit_log, "ledger": config.ledger}, path),
        *([f"{path}.listen: {problem}"] if (problem := port_problem(config.listen)) else []),
    ]


def source_problems(config: NodeConfig, where: str) -> list[str]:
    """The source reachable, its table and every identifier and attribute column present;
    reads the header (or the table's columns) and one row, never the whole source."""
    spec = config.source
    at = f"{where} [source]"
    source = open_source(spec)
    try:
        columns = source.columns()
    except SourceNotFound:
        if spec.kind == "sql":
            return [f"{at}.table: {_missing_table(spec)}"]
        return [f"{at}.path: {spec.path} does not exist"]
    except SourceUnreadable as error:
        key = "url" if spec.kind == "sql" else "path"
        return [f"{at}.{key}: cannot read {spec.location()}: {error.detail}"]
    except ConnectorError as error:
        return [f"{at}: {error}"]
    wanted = [(f"{where} [identifiers].{c.kind.value}", c.column) for c in config.identifiers]
    wanted += [(f"{where} [attributes.{name}]", name) for name in config.attributes]
    problems = [
        f"{key}: column {column!r} is not in {spec.location()}{_nearest(column, columns)}"
        for key, column in wanted
        if column not in columns
    ]
    if problems:
        return problems
    try:
        next(iter(source.iter_chunks([column for _, column in wanted], 1)), None)
    except SourceUnreadable as error:
        return [f"{at}: cannot read a row of {spec.location()}: {error.detail}"]
    except ConnectorError as error:
        return [f"{at}: {error}"]
    return []


def _missing_table(spec: SourceSpec) -> str:
    location = spec.location().rpartition(" table ")[0]
    try:
        schema = (spec.table or "").rpartition(".")[0]
        tables = sa.inspect(sa.create_engine(spec.url or "")).get_table_names(schema or None)
    except sa.exc.SQLAlchemyError:
        tables = []
    return f"no table {spec.table!r} in {location}{_nearest(spec.table or '', tables, 'tables')}"


def _nearest(name: str, choices: Sequence[str], what: str = "columns") -> str:
    nearest = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    listed = ", ".join(choices) or "none"
    if nearest:
        return f"; did you mean {nearest[0]!r}? ({what}: {listed})"
    return f" ({what}: {listed})"


def key_problems(config: NodeConfig, where: str) -> list[str]:
    """The node's own checkpoint-signing key loadable; the Paillier key file's folder present."""
    problems = []
    if config.signing_key is not None:
        try:
            load_signing_key(config.signing_key)
        except SignedQueryError as error:
            problems.append(f"{where}.signing_key: {error} (create one with `gongying certs init`)")
    key_file = config.paillier_key_file
    if key_file is not None and not key_file.exists() and not key_file.parent.is_dir():
        problems.append(
            f"{where} [paillier].key_file: folder {key_file.parent} does not exist, so the "
            "key cannot be created there"
        )
    return problems


def policy_problems(config: NodeConfig, where: str) -> list[str]:
    """The policy loads, every partner's query-verification key loads, and every attribute a
    partner may ask for is declared in the node config's [attributes] (when it declares any)."""
    if config.policy is None:
        return [] if config.insecure_no_policy else [f"{where}: no policy; set policy = ..."]
    try:
        policy = load_policy(config.policy)
    except ConfigError as error:
        return [str(error)]
    problems = []
    for name, terms in policy.partners.items():
        at = f"{config.policy} [partners.{name}]"
        if terms.signing_key is not None:
            try:
                load_verify_key(terms.signing_key)
            except SignedQueryError as error:
                problems.append(
                    f"{at}.signing_key: {error} (copy the partner's {name}.sign.pub there)"
                )
        # a node that declares no attributes serves overlaps only (a querier's node): its
        # policy's attribute lists are never used, so only a data owner's are checked
        undeclared = terms.attributes - set(config.attributes) if config.attributes else set()
        for attribute in sorted(undeclared):
            problems.append(
                f"{at}.attributes: {attribute!r} is allowed but {where} declares no "
                f"[attributes.{attribute}]; declare it (kind and domain or bounds) or remove it"
                f"{_nearest(attribute, sorted(config.attributes), 'declared')}"
            )
    return problems
