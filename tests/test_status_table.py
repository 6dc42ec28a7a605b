"""The one table from domain errors to gRPC status (wire/status.py) covers every domain error."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import grpc
import pytest

import model.errors
from model.errors import (
    AnswerImplausible,
    AnswerSuperseded,
    CounterpartySetTooSmall,
    GovernanceRefusal,
    LimitReached,
    NotPermitted,
    PartyFailed,
    ProtocolViolation,
    QuerierKeyTooWeak,
    QueryEnded,
    QueryIdReused,
    SignatureRefused,
    SpillFailed,
)
from wire.status import status_for, table_entry

DOMAIN_ERRORS = sorted(
    (
        kind
        for _, kind in inspect.getmembers(model.errors, inspect.isclass)
        if issubclass(kind, BaseException) and kind.__module__ == model.errors.__name__
    ),
    key=lambda kind: kind.__name__,
)
REFUSAL_KINDS = [kind for kind in DOMAIN_ERRORS if issubclass(kind, GovernanceRefusal)]

# the status each kind of refusal has always reached the querier with
REFUSAL_STATUS = {
    NotPermitted: grpc.StatusCode.PERMISSION_DENIED,
    SignatureRefused: grpc.StatusCode.PERMISSION_DENIED,
    LimitReached: grpc.StatusCode.RESOURCE_EXHAUSTED,
    CounterpartySetTooSmall: grpc.StatusCode.FAILED_PRECONDITION,
    QuerierKeyTooWeak: grpc.StatusCode.FAILED_PRECONDITION,
    AnswerImplausible: grpc.StatusCode.FAILED_PRECONDITION,
    QueryIdReused: grpc.StatusCode.ALREADY_EXISTS,
    QueryEnded: grpc.StatusCode.ABORTED,
    AnswerSuperseded: grpc.StatusCode.ABORTED,
    GovernanceRefusal: grpc.StatusCode.PERMISSION_DENIED,
}


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


def test_a_node_status_is_relayed() -> None:
    unreachable = PartyFailed("UNAVAILABLE", "node b at b:1 is unreachable: refused")
    assert status_for(unreachable) == grpc.StatusCode.UNAVAILABLE


def test_every_kind_of_refusal_is_pinned() -> None:
    assert sorted(REFUSAL_STATUS, key=lambda kind: kind.__name__) == REFUSAL_KINDS


@pytest.mark.parametrize("kind", REFUSAL_KINDS, ids=lambda kind: kind.__name__)
def test_a_refusal_keeps_its_status(kind: type[GovernanceRefusal]) -> None:
    refusal = kind("partners.brand.epsilon_per_period", "the budget is spent")
    assert table_entry(kind) == (kind, REFUSAL_STATUS[kind])
    assert status_for(refusal) == REFUSAL_STATUS[kind]
    assert refusal.rule == "partners.brand.epsilon_per_period"
    assert str(refusal) == "the budget is spent"


def test_anything_else_is_internal() -> None:
    assert status_for(ZeroDivisionError()) == grpc.StatusCode.INTERNAL
    with pytest.raises(LookupError, match="ZeroDivisionError has no entry"):
        table_entry(ZeroDivisionError)


def test_logic_names_no_status() -> None:
    """Below the servicers a status is never spelled out: logic raises a kind of error."""
    names = "|".join(code.name for code in grpc.StatusCode if code != grpc.StatusCode.OK)
    quoted = re.compile(rf"[\"']({names})[\"']")
    root = Path(__file__).resolve().parent.parent
    spelled = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for package in ("model", "release", "node", "coordinator")
        for path in sorted((root / package).rglob("*.py"))
        for match in quoted.finditer(path.read_text())
    ]
    assert spelled == []
