"""Choosing a query's PSI group: what the querier signs, what nodes serve, what they refuse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from coordinator.group_choice import allowed_groups
from model.errors import QueryRefused
from node.config import load_node_config
from node.service import _accept_group
from protocols.group_names import DEFAULT_GROUPS, UnknownGroup, choose
from runtime.config_file import ConfigError
from runtime.signing import (
    MalformedQuery,
    SignedQuery,
    new_query_fields,
    sign_query,
    signed_groups,
    verify_query,
)
from wire.v1 import query_pb2

KEY = Ed25519PrivateKey.generate()


def _signed(groups: tuple[str, ...]) -> query_pb2.SignedQuery:
    fields = new_query_fields("q1", "overlap", "brand", ["brand", "shop"], "email", groups=groups)
    signed = sign_query(fields, KEY)
    return query_pb2.SignedQuery(payload=signed.payload, signature=signed.signature, signer="brand")


def test_the_signature_covers_the_groups() -> None:
    signed = _signed(("x25519", "ristretto255"))
    assert signed_groups(signed.payload) == ("x25519", "ristretto255")
    envelope = SignedQuery(signed.payload, signed.signature, signed.signer)
    fields = verify_query(envelope, KEY.public_key(), datetime.now(UTC))
    assert fields.groups == ("x25519", "ristretto255")


def test_a_payload_without_groups_means_ristretto255_and_keeps_its_bytes() -> None:
    fields = new_query_fields("q1", "overlap", "brand", ["brand"], "email")
    assert "groups" not in json.loads(fields.canonical_bytes())
    assert signed_groups(sign_query(fields, KEY).payload) == ("ristretto255",)


def test_tampered_or_unknown_groups_are_refused() -> None:
    signed = _signed(("x25519",))
    document = json.loads(signed.payload)
    document["groups"] = ["p256"]
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(MalformedQuery, match="unknown PSI group 'p256'"):
        signed_groups(payload)


def test_the_coordinator_takes_the_signed_groups() -> None:
    signed = _signed(("ristretto255",))
    assert allowed_groups((), signed) == ("ristretto255",)
    assert allowed_groups((), None) == DEFAULT_GROUPS
    with pytest.raises(QueryRefused, match="the querier signed ristretto255"):
        allowed_groups(("x25519",), signed)
    with pytest.raises(QueryRefused, match="unknown PSI group 'p256'"):
        allowed_groups(("p256",), None)
    # an unreadable signed payload is the nodes' to refuse (they verify signatures)
    junk = query_pb2.SignedQuery(payload=b"junk", signature=b"", signer="brand")
    assert allowed_groups((), junk) == DEFAULT_GROUPS


def test_choose_prefers_the_querier_order_among_groups_all_serve() -> None:
    both = ("x25519", "ristretto255")
    assert choose(both, {"a": both, "b": both}) == "x25519"
    assert choose(both, {"a": both, "b": ("ristretto255",)}) == "ristretto255"
    with pytest.raises(UnknownGroup) as none:
        choose(("x25519",), {"a": both, "b": ("ristretto255",)})
    assert str(none.value) == (
        "no PSI group allowed by the query (x25519) is supported by every party: "
        "a supports x25519, ristretto255; b supports ristretto255"
    )


def test_a_node_refuses_a_group_it_does_not_serve_or_the_querier_did_not_sign() -> None:
    assert _accept_group("shop", ("ristretto255",), "", None) == "ristretto255"
    with pytest.raises(QueryRefused, match="party 'shop' does not serve PSI group 'x25519'"):
        _accept_group("shop", ("ristretto255",), "x25519", None)
    signed = _signed(("ristretto255",))
    envelope = SignedQuery(signed.payload, signed.signature, signed.signer)
    with pytest.raises(QueryRefused, match="not one the querier signed"):
        _accept_group("shop", DEFAULT_GROUPS, "x25519", envelope)


def test_config_psi_groups(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("email\na@example.com\n")
    base = (
        'party = "shop"\nlisten = "127.0.0.1:1"\ninsecure_plaintext = true\n'
        'insecure_no_policy = true\n[source]\nkind = "csv"\npath = "m.csv"\n'
        '[identifiers]\nemail = "email"\n'
    )
    (tmp_path / "a.toml").write_text(base)
    assert load_node_config(tmp_path / "a.toml").psi_groups == DEFAULT_GROUPS
    (tmp_path / "b.toml").write_text('psi_groups = ["ristretto255"]\n' + base)
    assert load_node_config(tmp_path / "b.toml").psi_groups == ("ristretto255",)
    (tmp_path / "c.toml").write_text('psi_groups = ["p256"]\n' + base)
    with pytest.raises(ConfigError, match="psi_groups: unknown PSI group 'p256'"):
        load_node_config(tmp_path / "c.toml")
