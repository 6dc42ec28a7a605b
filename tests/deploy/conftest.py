"""Fixtures of the deploy tests: the file names `gongying certs init` creates."""

from __future__ import annotations

import pytest

from runtime.certs import init_certs
from tests.deploy.layout import NODES


@pytest.fixture(scope="module")
def cert_names(tmp_path_factory: pytest.TempPathFactory) -> frozenset[str]:
    """The file names `gongying certs init --parties brand,retailer_a,...` creates."""
    folder = tmp_path_factory.mktemp("certs")
    init_certs(folder, list(NODES), days=1)
    return frozenset(p.name for p in folder.iterdir())
