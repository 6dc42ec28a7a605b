"""Agreement files: parsed exactly, refused in one line, hashed canonically."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from settlement.agreement import Agreement, AgreementError, load_agreement
from tests.settlement.agreements import ALTERNATIVE, CURRENT


def _load(tmp_path: Path, text: str) -> Agreement:
    path = tmp_path / "agreement.toml"
    path.write_text(text)
    return load_agreement(path)


def test_the_current_agreement_parses_exactly(tmp_path: Path) -> None:
    agreement = _load(tmp_path, CURRENT)
    assert agreement.name == "brand-retail-autumn" and agreement.version == 1
    assert [(p.name, p.share, p.metric) for p in agreement.pools] == [
        ("base", Fraction(2, 5), "shared_spend"),
        ("incremental", Fraction(3, 10), "shapley_reach"),
        ("long_term", Fraction(3, 10), "repeat_rate"),
    ]
    assert agreement.profile_attributes() == ("spend", "repeat")
    assert agreement.needs_overlap()
    alternative = _load(tmp_path, ALTERNATIVE)
    assert dict(alternative.pools[2].inputs)["retailer_c"] == Fraction(3, 2)
    assert alternative.profile_attributes() == ()


def test_the_hash_ignores_layout_and_covers_every_term(tmp_path: Path) -> None:
    base = _load(tmp_path, CURRENT).hash
    assert len(base) == 64
    relaid = "\n".join(line.split("#")[0].rstrip() for line in CURRENT.splitlines())
    assert _load(tmp_path, relaid.replace('"40%"', "0.4")).hash == base
    for old, new in [
        ('"40%"', '"35%"'),
        ("version = 1", "version = 2"),
        ('bin = "yes"', 'bin = "no"'),
        ('last_period = "2026-11"', 'last_period = "2026-12"'),
    ]:
        changed = CURRENT.replace(old, new)
        if old == '"40%"':
            changed = changed.replace(
                'share = "30%"\nmetric = "repeat_rate"', 'share = "35%"\nmetric = "repeat_rate"'
            )
        assert _load(tmp_path, changed).hash != base, old


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("version = 1", "versoin = 1"), "unknown key 'versoin'; did you mean 'version'?"),
        (('share = "40%"', 'share = "45%"'), "shares add up to 105%, not 100%"),
        (
            ('metric = "shapley_reach"', 'metric = "shapley"'),
            "[pools.incremental].metric: 'shapley' is not one of",
        ),
        (('attribute = "spend"\n', ""), "[pools.base]: metric shared_spend needs key 'attribute'"),
        (
            ('first_period = "2026-09"', 'first_period = "2026-9"'),
            "first_period: '2026-9' is not a month YYYY-MM",
        ),
        (
            ('last_period = "2026-11"', 'last_period = "2026-08"'),
            "last_period 2026-08 is before first_period 2026-09",
        ),
        (('"retailer_c"]', '"brand"]'), "partners: the querier brand cannot also be a partner"),
        (('share = "40%"', 'share = "forty"'), "[pools.base].share: 'forty' is not a share"),
        (
            ('bin = "yes"', 'bin = "yes"\nbins = 2'),
            "[pools.long_term]: unknown key 'bins'; did you mean 'bin'?",
        ),
    ],
)
def test_mistakes_are_one_line_naming_the_file_and_key(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    assert edit[0] in CURRENT
    with pytest.raises(AgreementError) as error:
        _load(tmp_path, CURRENT.replace(edit[0], edit[1], 1))
    assert message in str(error.value)
    assert str(tmp_path / "agreement.toml") in str(error.value)
    assert "\n" not in str(error.value)


def test_declared_inputs_must_cover_every_partner(tmp_path: Path) -> None:
    text = ALTERNATIVE.replace(", retailer_c = 1.5", "")
    with pytest.raises(
        AgreementError, match=r"\[pools.stores\].inputs: no value for partner retailer_c"
    ):
        _load(tmp_path, text)


def test_periods_outside_the_agreement_are_refused(tmp_path: Path) -> None:
    agreement = _load(tmp_path, CURRENT)
    agreement.check_period("2026-10")
    with pytest.raises(AgreementError, match="period 2026-12 is outside agreement"):
        agreement.check_period("2026-12")
    with pytest.raises(AgreementError, match="is not a month YYYY-MM"):
        agreement.check_period("November")
