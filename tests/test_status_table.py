"""The one table from domain errors to gRPC status (wire/status.py) covers every domain error."""

from __future__ import annotations

import inspect

import grpc
import pytest

import model.errors
from model.errors import GovernanceRefusal, PartyFailed, ProtocolViolation, SpillFailed
from wire.status import status_for, table_entry

DOMAIN_ERRORS = sorted(
    (
        kind
        for _, kind in inspect.getmembers(model.errors, inspect.isclass)
        if issubclass(kind, BaseException) and kind.__module__ == model.errors.__name__
    ),
    key=lambda kind: kind.__name__,
)


def test_the_vocabulary_is_found() -> None:
    assert len(DOMAIN_ERRORS) >= 15
    assert PartyFailed in DOMAIN_ERRORS


@pytest.mark.parametrize("kind", DOMAIN_ERRORS, ids=lambda kind: kind.__name__)
def test_every_domain_error_has_its_own_entry(kind: type[BaseException]) -> None:
    listed, _ = table_entry(kind)
    assert listed is kind, f"{kind.__name__} takes the entry of {listed.__name__}"


def test_only_a_bug_or_a_broken_protocol_is_internal() -> None:
    internal = {kind for kind in DOMAIN_ERRORS if table_entry(kind)[1] == grpc.StatusCode.INTERNAL}
    assert internal == {ProtocolViolation, SpillFailed}


def test_a_node_status_is_relayed_and_a_governance_decision_kept() -> None:
    unreachable = PartyFailed("UNAVAILABLE", "node b at b:1 is unreachable: refused")
    assert status_for(unreachable) == grpc.StatusCode.UNAVAILABLE
    budget = GovernanceRefusal("RESOURCE_EXHAUSTED", "budget", "the budget is spent")
    assert status_for(budget) == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_anything_else_is_internal() -> None:
    assert status_for(ZeroDivisionError()) == grpc.StatusCode.INTERNAL
    with pytest.raises(LookupError, match="ZeroDivisionError has no entry"):
        table_entry(ZeroDivisionError)
