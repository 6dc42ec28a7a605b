"""The config writer: what it writes parses back (tomllib, and the loaders) to the same values."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from connectors.source_spec import SourceSpec
from coordinator.config import load_coordinator_config
from node.config import load_node_config
from node.policy import load_policy
from protocols.paillier_attributes import CategoricalAttribute, NumericAttribute
from runtime.config_writer import (
    coordinator_table,
    node_table,
    policy_table,
    toml_text,
    write_toml,
)
from runtime.tls import TLSFiles

scalars = st.one_of(
    st.text(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
)
tables = st.recursive(
    st.dictionaries(st.text(min_size=1), st.one_of(scalars, st.lists(st.text(), max_size=3))),
    lambda inner: st.dictionaries(st.text(min_size=1), inner, min_size=1, max_size=3),
    max_leaves=8,
)


@given(tables)
def test_any_table_of_text_numbers_and_lists_parses_back_equal(table: dict[str, object]) -> None:
    assert tomllib.loads(toml_text(table)) == table  # type: ignore[arg-type]


def test_non_finite_floats_and_paths_are_written_as_toml_spells_them() -> None:
    parsed = tomllib.loads(toml_text({"a": math.inf, "b": -math.inf, "p": Path("/x y/z")}))
    assert parsed == {"a": math.inf, "b": -math.inf, "p": "/x y/z"}
    assert math.isnan(tomllib.loads(toml_text({"n": math.nan}))["n"])


def test_a_node_config_with_awkward_paths_loads_back(tmp_path: Path) -> None:
    """Quotes, backslashes, spaces and non-ASCII in paths and labels survive the round trip."""
    folder = tmp_path / 'data "q" \\ 数据'
    tls = TLSFiles(folder / "ca.pem", folder / "n.pem", folder / "n.key")
    source = SourceSpec(kind="csv", path=str(folder / "members.csv"), label='crm "main"')
    attributes = (
        CategoricalAttribute("age_band", ("18-24", "25+")),
        NumericAttribute("spend", 0, 9.5, 100),
    )
    table = node_table(
        "retailer_a",
        "127.0.0.1:7001",
        source,
        {"email": "e-mail address", "phone": "phone"},
        workers=3,
        tls=tls,
        policy=folder / "policy.toml",
        signing_key=folder / "n.sign.key",
        attributes=attributes,
        paillier_key="k.json",
        paillier_bits=2048,
        default_region="HK",
        more={"chunk_rows": 5000},
    )
    config = load_node_config(write_toml(tmp_path / "node.toml", table, comment="a node\nof tests"))
    assert (config.party, config.listen, config.workers, config.chunk_rows) == (
        "retailer_a",
        "127.0.0.1:7001",
        3,
        5000,
    )
    assert config.source.path == source.path and config.source.label == source.label
    assert {c.kind.value: c.column for c in config.identifiers} == {
        "email": "e-mail address",
        "phone": "phone",
    }
    assert config.tls == tls and not config.insecure_plaintext and not config.insecure_no_policy
    assert config.policy == folder / "policy.toml" and config.signing_key == folder / "n.sign.key"
    assert tuple(config.attributes.values()) == (
        attributes[0],
        NumericAttribute("spend", 0.0, 9.5, 100),
    )
    assert config.paillier_key_file == tmp_path / "k.json" and config.paillier_bits == 2048
    assert config.normalisation.default_region == "HK"


def test_without_tls_or_policy_both_insecure_flags_are_written(tmp_path: Path) -> None:
    source = SourceSpec(kind="sql", url="sqlite:///m.db", table="members")
    table = node_table("brand", "127.0.0.1:0", source, {"email": "email"})
    config = load_node_config(write_toml(tmp_path / "node.toml", table))
    assert config.insecure_plaintext and config.insecure_no_policy and config.tls is None
    assert (config.source.url, config.source.table) == ("sqlite:///m.db", "members")


def test_a_coordinator_config_loads_back(tmp_path: Path) -> None:
    tls = TLSFiles(tmp_path / "ca.pem", tmp_path / "c.pem", tmp_path / "c.key")
    table = coordinator_table(
        "127.0.0.1:7000",
        {"brand": "127.0.0.1:7001", "retailer_a": "[::1]:7002"},
        workers=2,
        tls=tls,
        signing_key="c.sign.key",
        audit_log="postgresql+psycopg://u:p@h/db",
        deadline_seconds=12.5,
        clients=["analyst"],
        acting_for={"analyst": ["brand"]},
    )
    config = load_coordinator_config(write_toml(tmp_path / "coordinator.toml", table))
    assert config.parties == {"brand": "127.0.0.1:7001", "retailer_a": "[::1]:7002"}
    assert (config.workers, config.deadline_seconds, config.tls) == (2, 12.5, tls)
    assert config.signing_key == tmp_path / "c.sign.key"
    assert config.audit_log == "postgresql+psycopg://u:p@h/db"
    assert config.clients == ("analyst",) and config.acting_for == {"analyst": ("brand",)}
    plain = coordinator_table("127.0.0.1:0", {"a": "127.0.0.1:1", "b": "127.0.0.1:2"})
    assert load_coordinator_config(write_toml(tmp_path / "plain.toml", plain)).insecure_plaintext


def test_a_policy_loads_back_with_defaults_and_partner_terms(tmp_path: Path) -> None:
    table = policy_table(
        {
            "brand": {"signing_key": "brand.sign.pub", "attributes": ["age_band"]},
            "retailer_b": {"exact": False, "epsilon_per_query": 0.25, "epsilon_per_period": 2.0},
        },
        defaults={
            "query_kinds": ["overlap", "profile"],
            "id_types": ["email"],
            "min_cohort": 10,
            "min_counterparty_set": 50,
            "queries_per_day": 100,
            "exact": True,
        },
    )
    policy = load_policy(write_toml(tmp_path / "policy.toml", table))
    brand, retailer = policy.terms("brand"), policy.terms("retailer_b")
    assert brand.exact and brand.attributes == {"age_band"} and brand.min_cohort == 10
    assert brand.signing_key == tmp_path / "brand.sign.pub"
    assert retailer.epsilon_per_query == 0.25 and retailer.noised
