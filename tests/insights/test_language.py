"""Reports and tables in English or Chinese: one catalogue per language with the same keys and
placeholders, nothing English left in a zh-CN page's headings and column names, the same
numbers in both languages, owners' labels in place of codes, one-line refusals of other
languages."""

from __future__ import annotations

import re
import string
from dataclasses import replace

import pytest
from rich.console import Console

from client.insights import contribution
from client.prospects import analyse
from gongying.joint_render import print_joint
from gongying.messages import CATALOGUES, UnknownLanguage, check_language, system_language
from gongying.render import print_overlap, print_profile
from gongying.report import render_report
from model.results import ProfileResult, ReleaseInfo
from tests.insights.samples import demo_sets, overlap_from_sets, sample_profile, with_suppressed
from tests.insights.test_report import parse

CJK = re.compile(r"[\u4e00-\u9fff]")
LABELS = {
    "zh-CN": {
        "age_band": "年龄段",
        "age_band.18-24": "18-24岁",
        "gender": "性别",
        "gender.female": "女",
        "gender.male": "男",
        "spend_12m": "近12个月消费",
    }
}


def labelled_profile() -> ProfileResult:
    profile = sample_profile()
    owners = [replace(p, labels=LABELS) if p.owner == "retailer_a" else p for p in profile.profiles]
    return replace(profile, profiles=tuple(owners))


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    english = CATALOGUES["en"]
    for lang, catalogue in CATALOGUES.items():
        assert set(catalogue) == set(english), lang
        for key, text in catalogue.items():
            assert placeholders(text) == placeholders(english[key]), (lang, key)


def test_zh_cn_page_has_chinese_headings_and_columns_and_the_same_numbers() -> None:
    overlap = overlap_from_sets(demo_sets())
    profile = labelled_profile()
    shares = contribution(overlap, "brand")
    joint = analyse(overlap, "brand", 2)
    pages = {
        lang: render_report(overlap, profile, shares, joint=joint, lang=lang)
        for lang in ("en", "zh-CN")
    }
    zh = parse(pages["zh-CN"])
    names = {*overlap.parties, *profile.owners, "combined", "", "A \\ B"}
    headers = re.findall(r"<t[h]>([^<]*)</th>", pages["zh-CN"])
    assert headers
    for header in headers:
        assert header in names or CJK.search(header), header
    for heading in re.findall(r"<h[123]>([^<]*)</h[123]>", pages["zh-CN"]):
        assert CJK.search(heading), heading
    assert '<html lang="zh-CN">' in pages["zh-CN"]
    text = " ".join(zh.text)
    shown = ("年龄段", "18-24岁", "性别", "女", "近12个月消费", "受众画像", "数据来源", "其他")
    for label in shown:
        assert label in text, label
    assert "Audience profile" not in text and "Provenance" not in text

    def numbers(page: str) -> list[str]:
        """Every table cell holding a number, in page order (the provenance: a timestamp)."""
        body = page.split('<section id="provenance">')[0]
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", body)
        return [c for c in cells if re.fullmatch(r"[\d,]+(\.\d+)?%?( ± [\d,.]+)?", c)]

    assert len(numbers(pages["en"])) > 100
    assert numbers(pages["zh-CN"]) == numbers(pages["en"])
    english = parse(pages["en"])
    assert "age_band" in english.text and "年龄段" not in " ".join(english.text)  # no en labels


def test_zh_cn_terminal_tables() -> None:
    release = ReleaseInfo(k=10, suppressed=2, protective=("regions/brand+retailer_a",))
    overlap = with_suppressed(
        replace(overlap_from_sets(demo_sets()), release=release),
        ("brand", "retailer_a"),
        ("brand", "retailer_b"),
    )
    outputs = {}
    for lang in ("en", "zh-CN"):
        console = Console(record=True, width=200)
        print_overlap(overlap, console, lang=lang)
        print_profile(labelled_profile(), console, lang)
        print_joint(analyse(overlap_from_sets(demo_sets()), "brand", 2), console, lang)
        outputs[lang] = console.export_text()
    zh, en = outputs["zh-CN"], outputs["en"]
    assert "仅 brand & retailer_a" in zh and "brand & retailer_a only" in en
    assert "已隐藏" in zh and "suppressed" in en and "suppressed" not in zh
    assert "<10" in zh and "<10" in en
    for text in ("年龄段", "18-24岁", "共有受众", "两两重合", "新客", "耗时"):
        assert text in zh, text
    for text in ("Exclusive regions", "Shared audience", "took", "age_band"):
        assert text in en and text not in zh, text
    numbers = re.compile(r"\d[\d,]*")  # the same numbers, in the same order, in both
    assert numbers.findall(zh.split("\n\n")[0]) == numbers.findall(en.split("\n\n")[0])


def test_unknown_language_is_one_line_naming_the_supported_ones() -> None:
    with pytest.raises(UnknownLanguage) as refused:
        check_language("fr")
    assert str(refused.value) == "--lang: unknown language 'fr'; supported: en, zh-CN"
    with pytest.raises(UnknownLanguage, match=r"did you mean 'zh-CN'\?"):
        check_language("zh_cn")
    with pytest.raises(UnknownLanguage):
        render_report(overlap_from_sets(demo_sets()), None, lang="de")


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh-CN"),
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh-CN"),
        ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_system_locale_picks_the_default(environ: dict[str, str], lang: str) -> None:
    assert system_language(environ) == lang
