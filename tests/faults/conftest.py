"""Shared fixtures: one Paillier key per session (key generation is slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.harness import paillier_key


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return paillier_key(tmp_path_factory.mktemp("paillier"))
