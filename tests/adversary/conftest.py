"""The governed mTLS deployment the deviating coordinator and partners attack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.adversary.deviating import Deployment, start_deployment


@pytest.fixture(scope="package")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The governed mTLS deployment of tests/adversary/deviating.py (tests restore what stops)."""
    running = start_deployment(tmp_path_factory.mktemp("deviating"))
    yield running
    running.stop()
