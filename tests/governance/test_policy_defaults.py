"""Policy defaults that protect: minimal policies are noised and budgeted, epsilon 0 needs an
explicit `exact = true` (with a floor on k), caps have defaults, and co-parties need consent."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.errors import NotPermitted
from node.policy import (
    DEFAULT_EPSILON_PER_PERIOD,
    DEFAULT_EPSILON_PER_QUERY,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_SET_SIZE,
    Policy,
    PolicyRequest,
    exact_partners,
    load_policy,
)
from runtime.config_file import ConfigError

MINIMAL = """
[partners.brand]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 1
min_counterparty_set = 1
queries_per_day = 1000
"""


def _load(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return load_policy(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message  # one line
    return message


def test_a_minimal_policy_is_noised_budgeted_and_capped(tmp_path: Path) -> None:
    terms = _load(tmp_path, MINIMAL).terms("brand")
    assert terms.noised and not terms.exact
    assert terms.epsilon_per_query == DEFAULT_EPSILON_PER_QUERY == 0.5
    assert terms.epsilon_per_period == DEFAULT_EPSILON_PER_PERIOD == 10.0
    assert terms.period_days == 30
    assert terms.max_set_size == DEFAULT_MAX_SET_SIZE == 1_000_000
    assert terms.max_concurrent == DEFAULT_MAX_CONCURRENT == 2
    assert terms.co_parties == frozenset()


@pytest.mark.parametrize(
    ("extra", "key", "inherited"),
    [
        ("epsilon_per_query = 0.0\n", "epsilon_per_query", False),
        ("epsilon_per_period = 0.0\n", "epsilon_per_period", False),
        ("epsilon_per_query = 0.0\n", "epsilon_per_query", True),
    ],
    ids=["query", "period", "from-defaults"],
)
def test_epsilon_zero_without_exact_is_refused_with_the_fix(
    tmp_path: Path, extra: str, key: str, inherited: bool
) -> None:
    text = ("[defaults]\n" + extra + MINIMAL) if inherited else MINIMAL + extra
    message = _error(tmp_path, text)
    assert str(tmp_path / "policy.toml") in message
    assert f"[partners.brand].{key}" in message and "partner brand" in message
    assert "exact = true" in message and f"set {key} > 0" in message


def test_exact_is_an_explicit_opt_in_with_a_floor(tmp_path: Path) -> None:
    policy = _load(tmp_path, MINIMAL.replace("min_cohort = 1", "min_cohort = 5") + "exact = true\n")
    terms = policy.terms("brand")
    assert terms.exact and not terms.noised
    assert (terms.epsilon_per_query, terms.epsilon_per_period) == (0.0, 0.0)
    assert exact_partners(policy) == [terms]
    message = _error(tmp_path, MINIMAL + "exact = true\n")
    assert "[partners.brand].min_cohort: exact = true for partner brand needs min_cohort >= 5" in (
        message
    )
    message = _error(
        tmp_path,
        MINIMAL.replace("min_cohort = 1", "min_cohort = 5")
        + "exact = true\nepsilon_per_query = 0.5\n",
    )
    assert "[partners.brand].epsilon_per_query: exact = true" in message
    assert "contradicts" in message


def test_exact_overrides_an_inherited_epsilon(tmp_path: Path) -> None:
    text = "[defaults]\nepsilon_per_query = 0.25\n" + MINIMAL.replace(
        "min_cohort = 1", "min_cohort = 10"
    )
    terms = _load(tmp_path, text + "exact = true\n").terms("brand")
    assert terms.exact and terms.epsilon_per_query == 0.0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("max_concurrent = 0\n", "[partners.brand].max_concurrent: must be at least 1, got 0"),
        ("max_set_size = 0\n", "[partners.brand].max_set_size: must be at least 1, got 0"),
        ("co_parties = [1]\n", "[partners.brand].co_parties: expected non-empty strings"),
        ('exact = "yes"\n', "[partners.brand].exact: expected bool"),
    ],
    ids=["concurrent", "set-size", "co-parties", "exact-type"],
)
def test_new_keys_are_checked(tmp_path: Path, extra: str, expected: str) -> None:
    assert expected in _error(tmp_path, MINIMAL + extra)


def _request(parties: tuple[str, ...], querier: str = "brand") -> PolicyRequest:
    return PolicyRequest("overlap", "email", parties, querier=querier, node="retailer_a")


def test_third_party_overlap_is_refused(tmp_path: Path) -> None:
    policy = _load(tmp_path, MINIMAL + 'co_parties = ["*"]\n')
    decision = policy.check("brand", _request(("retailer_a", "retailer_b")))
    assert not decision.allowed
    assert (decision.rule, decision.kind) == ("partners.brand.co_parties", NotPermitted)
    assert "brand may query only with its own party among the parties" in decision.message


@pytest.mark.parametrize(
    ("co_parties", "allowed"),
    [("", False), ('co_parties = ["retailer_c"]\n', False), ('co_parties = ["retailer_b"]\n', True),
     ('co_parties = ["*"]\n', True)],
    ids=["default-none", "other-listed", "listed", "any"],
)  # fmt: skip
def test_co_parties_need_the_owners_consent(tmp_path: Path, co_parties: str, allowed: bool) -> None:
    policy = _load(tmp_path, MINIMAL + co_parties)
    assert policy.check("brand", _request(("brand", "retailer_a"))).allowed  # no co-party
    decision = policy.check("brand", _request(("brand", "retailer_a", "retailer_b")))
    assert decision.allowed == allowed
    if not allowed:
        assert decision.rule == "partners.brand.co_parties"
        assert "retailer_b may not appear in queries of brand at retailer_a" in decision.message
