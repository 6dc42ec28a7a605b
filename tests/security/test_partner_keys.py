"""Partners' verify keys: named by the policy, loaded once, and a refusal that names the fix."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from model.errors import GovernanceRefusal
from node.partner_keys import PartnerKeys
from runtime.certs import init_certs
from wire.status import status_for


def _keys(tmp_path: Path, signing_key: Path | None) -> PartnerKeys:
    policy = SimpleNamespace(
        path=tmp_path / "brand.policy.toml",
        partners={"retailer_a": SimpleNamespace(signing_key=signing_key)},
    )
    return PartnerKeys(SimpleNamespace(party="brand", policy=policy))  # type: ignore[arg-type]


def test_a_listed_key_is_loaded_once(tmp_path: Path) -> None:
    certs = init_certs(tmp_path / "certs", ["brand", "retailer_a"], days=1)
    public = certs.parties["retailer_a"].sign_pub
    keys = _keys(tmp_path, public)
    first = keys.key("retailer_a", "retailer_a's terms")
    public.unlink()  # a second lookup does not read the file again
    assert keys.key("retailer_a", "retailer_a's terms") is first


def test_a_missing_or_unreadable_key_is_a_refusal_naming_the_rule(tmp_path: Path) -> None:
    with pytest.raises(GovernanceRefusal) as missing:
        _keys(tmp_path, None).key("retailer_a", "retailer_a's re-blinding")
    assert missing.value.rule == "partners.retailer_a.signing_key"
    assert status_for(missing.value) == grpc.StatusCode.PERMISSION_DENIED
    assert str(missing.value) == (
        "brand cannot check retailer_a's re-blinding: set partners.retailer_a.signing_key in "
        f"{tmp_path / 'brand.policy.toml'} (the path of retailer_a.sign.pub)"
    )
    with pytest.raises(GovernanceRefusal) as unreadable:
        _keys(tmp_path, tmp_path / "nowhere.pub").key("retailer_a", "retailer_a's terms")
    assert str(unreadable.value).startswith("partners.retailer_a.signing_key: ")
    with pytest.raises(GovernanceRefusal):
        _keys(tmp_path, None).key("retailer_b", "retailer_b's terms")  # not a partner at all
