"""One scheduled deployment for the package's tests (see cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workspace.cluster import Workspace, run_workspace


@pytest.fixture(scope="package")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    running = run_workspace(tmp_path_factory.mktemp("workspace"))
    yield running
    running.stop()
