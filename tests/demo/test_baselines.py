"""The openmined-psi baseline counts the true intersection and reports its costs."""

from __future__ import annotations

import pytest

from bench.baselines import peak_rss_mb, random_emails, run_openmined_cardinality


@pytest.mark.parametrize(
    ("shared", "client_only", "server_only"), [(0, 50, 80), (120, 80, 180), (40, 0, 0)]
)
def test_count_equals_the_exact_intersection(
    shared: int, client_only: int, server_only: int
) -> None:
    # GCS filter with fpr 1e-9 for the whole client set: at these sizes a false positive
    # has probability below 1e-9, so the count must be exact.
    common = random_emails(shared, "s.")
    client = common + random_emails(client_only, "c.")
    server = random_emails(server_only, "v.") + common
    result = run_openmined_cardinality(client, server, fpr=1e-9)
    assert result.count == len(set(client) & set(server)) == shared
    assert result.wire_bytes > 33 * len(client)  # the request alone is one point per item
    assert result.seconds > 0
    assert result.elements_per_second == pytest.approx((len(client) + len(server)) / result.seconds)


def test_peak_rss_is_plausible() -> None:
    assert 5 < peak_rss_mb() < 64 * 1024
