"""The languages of reports and tables (a catalogue each in gongying/messages_*.py)."""

from __future__ import annotations

LANGUAGES = ("en", "zh-CN")
DEFAULT = "en"


def nearest_language(lang: str) -> str | None:
    """A supported language written another way (`zh_cn`, `ZH-cn`), or None."""
    wanted = lang.lower().replace("_", "-")
    return next((known for known in LANGUAGES if known.lower() == wanted), None)
