"""The language of reports and tables: a catalogue per language and owners' display labels.

`messages("zh-CN")` gives the strings of one language; `with_labels` adds the display names the
data owners declared for their attributes and bins (`[labels.zh-CN]` in node.toml), so a
report says 食品饮料 where the data says `food_beverage`. Without a label the raw code shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gongying import messages_en, messages_zh_cn
from model.results import Count, ReleaseInfo
from protocols.profile import OTHER_BIN
from runtime.languages import DEFAULT, LANGUAGES, nearest_language

CATALOGUES: dict[str, dict[str, str]] = {
    "en": messages_en.MESSAGES,
    "zh-CN": messages_zh_cn.MESSAGES,
}


class UnknownLanguage(ValueError):
    """A language with no catalogue."""


def check_language(lang: str, where: str = "--lang") -> str:
    """`lang` itself when it has a catalogue; else one line naming the supported languages."""
    if lang not in CATALOGUES:
        near = nearest_language(lang)
        hint = f" (did you mean {near!r}?)" if near else ""
        raise UnknownLanguage(
            f"{where}: unknown language {lang!r}{hint}; supported: {', '.join(LANGUAGES)}"
        )
    return lang


def system_language(environ: Mapping[str, str] | None = None) -> str:
    """The language the locale asks for (LC_ALL, LC_MESSAGES, LANG): `zh-CN` for any zh_*
    locale, else English."""
    env = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(variable, "")
        if value:
            return "zh-CN" if value.lower().startswith("zh") else DEFAULT
    return DEFAULT


@dataclass(frozen=True)
class Messages:
    """The strings of one language, with the owners' display labels in that language.

    Labels are keyed `attribute` (the attribute's name) and `attribute.bin` (a bin's name).
    """

    lang: str = DEFAULT
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_language(self.lang, "language")

    def __call__(self, key: str, **values: Any) -> str:
        return CATALOGUES[self.lang][key].format(**values)

    def with_labels(self, labels: Mapping[str, Mapping[str, str]]) -> Messages:
        """These strings with the owners' labels for this language (labels per language)."""
        return Messages(self.lang, dict(labels.get(self.lang, {})))

    def attribute(self, name: str) -> str:
        """An attribute's display name: the owner's label, else its name."""
        return self.labels.get(name, name)

    def bin(self, attribute: str, value: str) -> str:
        """A bin's display name: the owner's label, `other` in this language, else the code."""
        label = self.labels.get(f"{attribute}.{value}")
        if label is not None:
            return label
        return self("other_bin") if value == OTHER_BIN else value

    def hidden_words(self) -> tuple[str, str]:
        """The words of cells that hold no number (styled apart in the report)."""
        return self("suppressed"), self("not_computable")

    def shown(self, release: ReleaseInfo, count: Count, cell: str = "", table: str = "") -> str:
        """`release.shown` in this language: `suppressed` translated, `<k` and numbers as is."""
        text = release.shown(count, cell, table)
        return self("suppressed") if count is None and text == "suppressed" else text

    def label(self, release: ReleaseInfo, cell: str = "") -> str:
        """How a hidden cell is shown, in this language."""
        text = release.label(cell)
        return self("suppressed") if text == "suppressed" else text

    def region(self, members: tuple[str, ...] | list[str]) -> str:
        """A region's name in the tables: `brand & retailer_a only`."""
        return self("region_only", members=" & ".join(members))


def messages(lang: str | None = None) -> Messages:
    """The strings of `lang` (default: the system locale's language, else English)."""
    return Messages(check_language(lang) if lang else system_language())


ENGLISH = Messages()
