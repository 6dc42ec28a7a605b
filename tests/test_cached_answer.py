"""A cached answer is released as the nodes hold it: its text unchanged, the result renamed."""

from __future__ import annotations

import json
from dataclasses import replace

from coordinator.cached import answer_to_release
from model.results import ProfileResult

EARLIER = ProfileResult("q-1", "brand", ("retailer",), ("age",), (), seconds=2.5)


def test_a_fresh_answer_is_released_as_made_and_kept_as_its_json() -> None:
    def reuse(data: object) -> ProfileResult:
        raise AssertionError(f"nothing is cached here, yet reuse got {data}")

    result, text = answer_to_release(None, reuse, lambda: EARLIER)
    assert result is EARLIER
    assert ProfileResult.from_json(json.loads(text)) == EARLIER


def test_a_cached_answer_goes_back_to_the_nodes_as_the_text_they_hold() -> None:
    _, held = answer_to_release(None, ProfileResult.from_json, lambda: EARLIER)

    def fresh() -> ProfileResult:
        raise AssertionError("a cached answer is not computed afresh")

    result, text = answer_to_release(
        held,
        lambda data: replace(ProfileResult.from_json(data), query_id="q-2", from_cache=True),
        fresh,
    )
    assert text == held
    assert result == replace(EARLIER, query_id="q-2", from_cache=True)
