"""The owner's policy (policy.toml): who may ask what, with whom, how much, how often, how noised.

Protective by default (DESIGN 7): a partner whose table sets no epsilon gets noise and a budget
(DEFAULT_EPSILON_PER_QUERY over DEFAULT_EPSILON_PER_PERIOD per DEFAULT_PERIOD_DAYS rolling days);
an explicit epsilon of 0 is refused unless the partner has `exact = true`, an explicit opt-in
that the node logs as a WARNING at start-up and that still needs min_cohort >= EXACT_MIN_COHORT.
Caps on the partner's set size and concurrent queries, and the parties that may appear in its
queries, default to protective values too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from connectors.identifiers import IdType
from model.errors import CounterpartySetTooSmall, GovernanceRefusal, NotPermitted
from node.policy_values import (
    agreement_hashes,
    at_least,
    choice_set,
    epsilon_value,
    path_value,
    string_list,
)
from runtime.config_file import ConfigError, expect, read_toml
from runtime.signing import AUDIENCES, SHARED

QUERY_KINDS: Final = ("overlap", "profile")
ID_TYPES: Final = tuple(t.value for t in IdType)
_REQUIRED: Final = (
    "query_kinds",
    "id_types",
    "min_cohort",
    "min_counterparty_set",
    "queries_per_day",
)
DEFAULT_EPSILON_PER_QUERY: Final = 0.5
DEFAULT_EPSILON_PER_PERIOD: Final = 10.0
DEFAULT_PERIOD_DAYS: Final = 30
DEFAULT_MAX_SET_SIZE: Final = 1_000_000
DEFAULT_MAX_CONCURRENT: Final = 2
EXACT_MIN_COHORT: Final = 5
ANY_PARTY: Final = "*"
_EPSILONS: Final = ("epsilon_per_query", "epsilon_per_period")
_OPTIONAL: Final[dict[str, Any]] = {
    "identities": None,  # default: the partner's own name
    "attributes": [],
    "epsilon_per_period": None,  # None: DEFAULT_EPSILON_PER_PERIOD (0 under exact = true)
    "period_days": DEFAULT_PERIOD_DAYS,
    "epsilon_per_query": None,  # None: DEFAULT_EPSILON_PER_QUERY (0 under exact = true)
    "exact": False,  # opt-in: exact answers, no noise, no budget (logged at start-up)
    "max_set_size": DEFAULT_MAX_SET_SIZE,  # largest set of the partner this node re-blinds
    "max_concurrent": DEFAULT_MAX_CONCURRENT,  # the partner's queries open here at once
    "co_parties": [],  # other parties allowed in the partner's queries; ["*"]: any
    "signing_key": "",  # the partner's Ed25519 query-verification key (<partner>.sign.pub)
    "audiences": [SHARED],  # whom the partner's profiles may describe (signing.AUDIENCES)
    "agreements": [],  # SHA-256 hashes of the agreements the partner may query for here
}
KEYS: Final = frozenset(_REQUIRED) | frozenset(_OPTIONAL)


class UnknownPartner(LookupError):
    """A partner name that the policy does not list."""


@dataclass(frozen=True)
class PartnerTerms:
    """What one partner may ask, and the limits on its answers."""

    name: str
    identities: tuple[str, ...]
    query_kinds: frozenset[str]
    id_types: frozenset[str]
    attributes: frozenset[str]
    min_cohort: int
    min_counterparty_set: int
    queries_per_day: int
    epsilon_per_period: float
    period_days: int
    epsilon_per_query: float
    signing_key: Path | None = None
    exact: bool = False
    max_set_size: int = DEFAULT_MAX_SET_SIZE
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    co_parties: frozenset[str] = frozenset()
    audiences: frozenset[str] = frozenset({SHARED})
    agreements: frozenset[str] = frozenset()

    @property
    def noised(self) -> bool:
        """Whether answers to this partner carry discrete Laplace noise."""
        return self.epsilon_per_query > 0

    def allows_co_party(self, party: str) -> bool:
        """Whether `party` may appear in this partner's queries (besides it and this node)."""
        return ANY_PARTY in self.co_parties or party in self.co_parties


@dataclass(frozen=True)
class PolicyRequest:
    """What a query asks of this node, as far as policy is concerned."""

    kind: str
    id_type: str
    parties: Sequence[str]
    attributes: Sequence[str] = ()
    counterparty_sizes: Mapping[str, int] | None = None  # None: set sizes not known yet
    querier: str = ""  # the querier's party (who signed); "": not known (no party checks)
    node: str = ""  # the party whose policy this is
    audience: str = SHARED  # whom a profile describes (signed by the querier)
    agreement: str = ""  # the agreement the querier signed the query for ("" when none)


@dataclass(frozen=True)
class Decision:
    """The policy's verdict; `rule` names the policy key, `kind` the refusal's (None: allowed)."""

    allowed: bool
    rule: str
    message: str
    kind: type[GovernanceRefusal] | None = None

    @classmethod
    def allow(cls, partner: str) -> Decision:
        """The decision for a request that passes every rule."""
        return cls(True, f"partners.{partner}", f"allowed for {partner}")

    @classmethod
    def refuse(cls, rule: str, message: str, kind: type[GovernanceRefusal]) -> Decision:
        """A refusal naming the rule it breaks."""
        return cls(False, rule, message, kind)

    def refusal(self) -> GovernanceRefusal:
        """The refusal to raise for this decision (a refusal of its kind, rule and message)."""
        assert self.kind is not None, "an allowed request is not refused"
        return self.kind(self.rule, self.message)


@dataclass(frozen=True)
class Policy:
    """Every listed partner's terms, and the certificate identities that map to them."""

    partners: Mapping[str, PartnerTerms]
    path: Path | None = None

    def partner_for_identity(self, identity: str) -> str | None:
        """The partner whose `identities` list this certificate SAN, or None when unlisted."""
        for terms in self.partners.values():
            if identity in terms.identities:
                return terms.name
        return None

    def terms(self, partner: str) -> PartnerTerms:
        """The partner's terms; UnknownPartner when the policy does not list it."""
        try:
            return self.partners[partner]
        except KeyError:
            raise UnknownPartner(f"partner {partner!r} is not listed in the policy") from None

    def check(self, partner: str | None, request: PolicyRequest) -> Decision:
        """Apply the static rules (who, kind, id type, attributes, counter-party set sizes)."""
        if partner is None:
            return Decision.refuse(
                "partners",
                "the requester's identity is not mapped to any partner in the policy",
                NotPermitted,
            )
        terms = self.partners.get(partner)
        if terms is None:
            return Decision.refuse(
                f"partners.{partner}",
                f"partner {partner} is not listed in the policy",
                NotPermitted,
            )
        rule = f"partners.{partner}"
        if request.kind not in terms.query_kinds:
            return Decision.refuse(
                f"{rule}.query_kinds",
                f"query kind {request.kind} is not allowed for {partner}",
                NotPermitted,
            )
        if request.id_type not in terms.id_types:
            return Decision.refuse(
                f"{rule}.id_types",
                f"id type {request.id_type} is not allowed for {partner}",
                NotPermitted,
            )
        for attribute in request.attributes:
            if attribute not in terms.attributes:
                return Decision.refuse(
                    f"{rule}.attributes",
                    f"attribute {attribute} is not allowed for {partner}",
                    NotPermitted,
                )
        if request.kind == "profile" and request.audience not in terms.audiences:
            return Decision.refuse(
                f"{rule}.audiences",
                f"audience {request.audience} is not allowed for {partner} (allowed: "
                f"{', '.join(sorted(terms.audiences))}); add it to {rule}.audiences to allow it",
                NotPermitted,
            )
        if request.agreement and request.agreement not in terms.agreements:
            return Decision.refuse(
                f"{rule}.agreements",
                f"agreement {request.agreement} is not accepted by {request.node or 'this node'} "
                f"for {partner}; add its hash to {rule}.agreements to accept it",
                NotPermitted,
            )
        if request.querier:
            refusal = _party_refusal(terms, request)
            if refusal is not None:
                return refusal
        for party, size in (request.counterparty_sizes or {}).items():
            if size < terms.min_counterparty_set:
                return Decision.refuse(
                    f"{rule}.min_counterparty_set",
                    f"the set of {party} has {size} identifiers, fewer than min_counterparty_set "
                    f"{terms.min_counterparty_set} for {partner}",
                    CounterpartySetTooSmall,
                )
        return Decision.allow(partner)


def _party_refusal(terms: PartnerTerms, request: PolicyRequest) -> Decision | None:
    """A querier's query must include the querier; other parties need the owner's consent."""
    rule = f"partners.{terms.name}.co_parties"
    if request.querier not in request.parties:
        return Decision.refuse(
            rule,
            f"{request.querier} may query only with its own party among the parties "
            f"({rule}): {', '.join(request.parties)} without {request.querier} is refused",
            NotPermitted,
        )
    others = [p for p in request.parties if p not in (request.querier, request.node)]
    for party in others:
        if not terms.allows_co_party(party):
            return Decision.refuse(
                rule,
                f"{party} may not appear in queries of {terms.name} at {request.node or 'this'}"
                f" node: add it to {rule} to consent",
                NotPermitted,
            )
    return None


def exact_partners(policy: Policy) -> list[PartnerTerms]:
    """The partners that receive exact answers (exact = true), for the start-up WARNING."""
    return [t for t in policy.partners.values() if t.exact]


def load_policy(path: Path) -> Policy:
    """Parse policy.toml; every error names the file and the key."""
    raw = read_toml(path)
    where = str(path)
    unknown = sorted(set(raw) - {"defaults", "partners"})
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key {unknown[0]!r}")
    defaults = expect(raw.get("defaults", {}), dict, f"{where} [defaults]")
    _check_keys(defaults, f"{where} [defaults]")
    partners_table = expect(raw.get("partners", {}), dict, f"{where} [partners]")
    if not partners_table:
        raise ConfigError(f"{where} [partners]: list at least one partner")
    partners: dict[str, PartnerTerms] = {}
    owner_of: dict[str, str] = {}
    for name, table in partners_table.items():
        at = f"{where} [partners.{name}]"
        terms = _partner(name, expect(table, dict, at), defaults, at, path.parent)
        for identity in terms.identities:
            if identity in owner_of:
                raise ConfigError(
                    f"{at}.identities: {identity!r} already maps to partner {owner_of[identity]}"
                )
            owner_of[identity] = name
        partners[name] = terms
    return Policy(partners, path)


def _check_keys(table: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})")


def _partner(
    name: str, table: Mapping[str, Any], defaults: Mapping[str, Any], at: str, base: Path
) -> PartnerTerms:
    _check_keys(table, at)
    merged = {**_OPTIONAL, **defaults, **table}
    for key in _REQUIRED:
        if key not in merged:
            raise ConfigError(f"{at}: missing key {key!r} (set it here or in [defaults])")

    def where(key: str) -> str:
        return f"{at}.{key}" if key in table else f"{at}.{key} (from [defaults])"

    identities = merged["identities"] if merged["identities"] is not None else [name]
    exact = expect(merged["exact"], bool, where("exact"))
    epsilons = {
        key: _chosen_epsilon(key, merged, table, exact, name, where, at) for key in _EPSILONS
    }
    terms = PartnerTerms(
        name=name,
        identities=tuple(string_list(identities, where("identities"))),
        query_kinds=choice_set(merged["query_kinds"], QUERY_KINDS, where("query_kinds")),
        id_types=choice_set(merged["id_types"], ID_TYPES, where("id_types")),
        attributes=frozenset(string_list(merged["attributes"], where("attributes"))),
        min_cohort=at_least(merged["min_cohort"], 1, where("min_cohort")),
        min_counterparty_set=at_least(
            merged["min_counterparty_set"], 1, where("min_counterparty_set")
        ),
        queries_per_day=at_least(merged["queries_per_day"], 0, where("queries_per_day")),
        epsilon_per_period=epsilons["epsilon_per_period"],
        period_days=at_least(merged["period_days"], 1, where("period_days")),
        epsilon_per_query=epsilons["epsilon_per_query"],
        signing_key=path_value(merged["signing_key"], base, where("signing_key")),
        exact=exact,
        max_set_size=at_least(merged["max_set_size"], 1, where("max_set_size")),
        max_concurrent=at_least(merged["max_concurrent"], 1, where("max_concurrent")),
        co_parties=frozenset(string_list(merged["co_parties"], where("co_parties"))),
        audiences=choice_set(merged["audiences"], AUDIENCES, where("audiences")),
        agreements=agreement_hashes(merged["agreements"], where("agreements")),
    )
    if exact and terms.min_cohort < EXACT_MIN_COHORT:
        raise ConfigError(
            f"{where('min_cohort')}: exact = true for partner {name} needs min_cohort >= "
            f"{EXACT_MIN_COHORT}, got {terms.min_cohort}; raise min_cohort or drop exact"
        )
    if terms.epsilon_per_query > terms.epsilon_per_period:
        raise ConfigError(
            f"{where('epsilon_per_query')}: {terms.epsilon_per_query} exceeds "
            f"epsilon_per_period {terms.epsilon_per_period}, so no query could ever be answered"
        )
    return terms


def _chosen_epsilon(
    key: str,
    merged: Mapping[str, Any],
    table: Mapping[str, Any],
    exact: bool,
    name: str,
    where: Callable[[str], str],
    at: str,
) -> float:
    """The partner's epsilon: protective default when unset; 0 only under exact = true (which
    overrides an epsilon inherited from [defaults], but not one in the partner's own table)."""
    if exact:
        if key in table and epsilon_value(table[key], where(key)) > 0:
            raise ConfigError(
                f"{where(key)}: exact = true gives partner {name} exact answers without noise, "
                f"so {key} {table[key]} contradicts it; remove one of the two"
            )
        return 0.0
    value = merged[key]
    if value is None:
        return _default(key)
    number = epsilon_value(value, where(key))
    if number == 0:
        raise ConfigError(
            f"{where(key)}: 0 would give partner {name} exact answers with no noise or budget; "
            f"set {key} > 0 (default {_default(key)}), or opt in with exact = true in {at}"
        )
    return number


def _default(key: str) -> float:
    return DEFAULT_EPSILON_PER_QUERY if key == "epsilon_per_query" else DEFAULT_EPSILON_PER_PERIOD
