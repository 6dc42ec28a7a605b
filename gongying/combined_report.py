"""One report from saved `--json` answers: an overlap and a profile side by side, offline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from model.results import OverlapResult, ProfileResult
from runtime.config_file import ConfigError


class SavedResultError(ConfigError):
    """A saved answer cannot be read: missing file, not JSON, not an overlap or profile."""


def read_saved_result(path: Path) -> OverlapResult | ProfileResult:
    """An overlap or profile answer saved from `gongying query ... --json` (by its `kind`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SavedResultError(f"{path}: cannot read: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SavedResultError(
            f"{path}: not JSON ({error}); save an answer with `gongying query ... --json > FILE`"
        ) from None
    kind = data.get("kind") if isinstance(data, dict) else None
    try:
        if kind == "overlap":
            return OverlapResult.from_json(data)
        if kind == "profile":
            return ProfileResult.from_json(data)
    except (KeyError, TypeError, ValueError) as error:
        raise SavedResultError(f"{path}: a {kind} answer with a bad or missing {error}") from None
    raise SavedResultError(
        f"{path}: key 'kind' is {kind!r}, not 'overlap' or 'profile'; save an answer with "
        "`gongying query overlap|profile --json > FILE`"
    )


def read_saved_results(
    paths: Sequence[Path],
) -> tuple[OverlapResult | None, ProfileResult | None]:
    """At most one overlap and one profile from saved answers, whichever order they come in."""
    overlap: OverlapResult | None = None
    profile: ProfileResult | None = None
    for path in paths:
        result = read_saved_result(path)
        if isinstance(result, OverlapResult):
            if overlap is not None:
                raise SavedResultError(f"{path}: a second overlap answer; give one of each kind")
            overlap = result
        else:
            if profile is not None:
                raise SavedResultError(f"{path}: a second profile answer; give one of each kind")
            profile = result
    if overlap is None and profile is None:
        raise SavedResultError("no saved answers given: pass overlap.json and/or profile.json")
    return overlap, profile
