"""Owner policy: loading with errors naming file and key, defaults, and every refusal path."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.errors import CounterpartySetTooSmall, GovernanceRefusal, NotPermitted
from node.policy import Decision, Policy, PolicyRequest, UnknownPartner, load_policy
from runtime.config_file import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "policy.toml"
ALLOWED = ("age_band", "gender")


def overlap(**changes: object) -> PolicyRequest:
    fields: dict[str, object] = {
        "kind": "overlap",
        "id_type": "email",
        "parties": ("brand_x", "retailer_a"),
    }
    fields.update(changes)
    return PolicyRequest(**fields)  # type: ignore[arg-type]


def test_example_policy_loads() -> None:
    policy = load_policy(EXAMPLE)
    brand = policy.terms("brand")
    assert brand.query_kinds == {"overlap", "profile"}
    assert brand.attributes == {"age_band", "gender", "spend_12m"}
    assert (brand.min_cohort, brand.min_counterparty_set, brand.queries_per_day) == (10, 100, 100)
    assert (brand.epsilon_per_period, brand.period_days, brand.epsilon_per_query) == (2.0, 30, 0.25)
    assert brand.noised and not brand.exact and brand.co_parties == {"retailer_b"}
    assert (brand.max_set_size, brand.max_concurrent) == (1_000_000, 2)
    inherited = policy.terms("retailer_b")
    assert inherited.query_kinds == {"overlap"} and inherited.queries_per_day == 50
    assert inherited.exact and not inherited.noised and inherited.co_parties == frozenset()
    assert (inherited.epsilon_per_query, inherited.epsilon_per_period) == (0.0, 0.0)
    assert policy.partner_for_identity("retailer-b.example.net") == "retailer_b"


def test_defaults_are_inherited_and_overridden(policy: Policy) -> None:
    brand, retailer = policy.terms("brand_x"), policy.terms("retailer_b")
    assert brand.queries_per_day == 10 and retailer.queries_per_day == 3
    assert brand.min_cohort == retailer.min_cohort == 10  # from [defaults]
    assert retailer.identities == ("retailer_b",)  # default identity: the partner's name
    assert retailer.attributes == frozenset()
    # no epsilon anywhere: protective defaults, not exact answers
    assert (retailer.epsilon_per_query, retailer.epsilon_per_period) == (0.5, 10.0)
    assert retailer.noised and not retailer.exact
    assert brand.id_types == {"email", "phone"} and retailer.id_types == {"email"}


def test_identities_map_to_partners(policy: Policy) -> None:
    assert policy.partner_for_identity("brand-x.example.com") == "brand_x"
    assert policy.partner_for_identity("brand_x") == "brand_x"
    assert policy.partner_for_identity("mallory.example.com") is None
    with pytest.raises(UnknownPartner, match="mallory"):
        policy.terms("mallory")


def test_allowed_request(policy: Policy) -> None:
    request = overlap(kind="profile", attributes=ALLOWED, counterparty_sizes={"retailer_a": 100})
    decision = policy.check("brand_x", request)
    assert decision == Decision(True, "partners.brand_x", "allowed for brand_x")


@pytest.mark.parametrize(
    ("partner", "request_", "rule", "message", "kind"),
    [
        (None, overlap(), "partners", "not mapped to any partner", NotPermitted),
        (
            "mallory",
            overlap(),
            "partners.mallory",
            "partner mallory is not listed",
            NotPermitted,
        ),
        (
            "retailer_b",
            overlap(kind="profile"),
            "partners.retailer_b.query_kinds",
            "query kind profile is not allowed for retailer_b",
            NotPermitted,
        ),
        (
            "retailer_b",
            overlap(id_type="phone"),
            "partners.retailer_b.id_types",
            "id type phone is not allowed for retailer_b",
            NotPermitted,
        ),
        (
            "brand_x",
            overlap(kind="profile", attributes=("age_band", "income")),
            "partners.brand_x.attributes",
            "attribute income is not allowed for brand_x",
            NotPermitted,
        ),
        (
            "brand_x",
            overlap(counterparty_sizes={"retailer_a": 500, "retailer_c": 99}),
            "partners.brand_x.min_counterparty_set",
            "the set of retailer_c has 99 identifiers, fewer than min_counterparty_set 100 for "
            "brand_x",
            CounterpartySetTooSmall,
        ),
    ],
    ids=["unmapped", "unlisted", "kind", "id_type", "attribute", "counterparty_set"],
)
def test_refusals_name_rule_and_kind(
    policy: Policy,
    partner: str | None,
    request_: PolicyRequest,
    rule: str,
    message: str,
    kind: type[GovernanceRefusal],
) -> None:
    decision = policy.check(partner, request_)
    assert not decision.allowed
    assert (decision.rule, decision.kind) == (rule, kind)
    assert message in decision.message


def test_counterparty_size_exactly_minimum_is_allowed(policy: Policy) -> None:
    assert policy.check("brand_x", overlap(counterparty_sizes={"retailer_a": 100})).allowed


@given(st.lists(st.sampled_from(["age_band", "gender", "income", "city"]), max_size=4))
def test_attributes_allowed_iff_all_listed(attributes: list[str]) -> None:
    policy = load_policy(EXAMPLE)
    decision = policy.check("brand", overlap(kind="profile", attributes=attributes))
    listed = {"age_band", "gender", "spend_12m"}
    assert decision.allowed == (set(attributes) <= listed)
    if not decision.allowed:
        first = next(a for a in attributes if a not in listed)
        assert decision.message == f"attribute {first} is not allowed for brand"


BASE = """
[partners.brand_x]
query_kinds = ["overlap"]
id_types = ["email"]
min_cohort = 10
min_counterparty_set = 100
queries_per_day = 5
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[partners.brand_x]\nquery_kinds = [\n", "is not valid TOML"),
        ("", "[partners]: list at least one partner"),
        (BASE.replace("min_cohort = 10\n", ""), "[partners.brand_x]: missing key 'min_cohort'"),
        (BASE + "min_cohorts = 3\n", "[partners.brand_x]: unknown key 'min_cohorts'"),
        (
            BASE.replace("min_cohort = 10", "min_cohort = 0"),
            "[partners.brand_x].min_cohort: must be at least 1, got 0",
        ),
        (
            BASE.replace("min_cohort = 10", 'min_cohort = "ten"'),
            "[partners.brand_x].min_cohort: expected int",
        ),
        (
            BASE.replace('["overlap"]', '["overlap", "export"]'),
            "[partners.brand_x].query_kinds: 'export' is not one of overlap, profile",
        ),
        (BASE.replace('["email"]', '["fax"]'), "[partners.brand_x].id_types: 'fax' is not one"),
        (
            BASE + "epsilon_per_query = 1.0\nepsilon_per_period = 0.5\n",
            "[partners.brand_x].epsilon_per_query: 1.0 exceeds epsilon_per_period 0.5",
        ),
        (
            BASE + "epsilon_per_period = -1.0\n",
            "[partners.brand_x].epsilon_per_period: must be a finite number >= 0",
        ),
        (
            "[defaults]\nperiod_days = 0\n" + BASE,
            "[partners.brand_x].period_days (from [defaults]): must be at least 1",
        ),
        ("[defaults]\nmin_cohrt = 1\n" + BASE, "[defaults]: unknown key 'min_cohrt'"),
        (
            BASE + "[partners.brand_y]\nidentities = ['brand_x']\n" + BASE.split("\n", 2)[2],
            "[partners.brand_y].identities: 'brand_x' already maps to partner brand_x",
        ),
        ("partner = 1\n" + BASE, "unknown top-level key 'partner'"),
    ],
    ids=[
        "toml",
        "no-partners",
        "missing",
        "unknown-key",
        "range",
        "type",
        "kind",
        "id-type",
        "epsilon-order",
        "negative-epsilon",
        "from-defaults",
        "defaults-typo",
        "duplicate-id",
        "top-level",
    ],
)
def test_load_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "absent.toml")
