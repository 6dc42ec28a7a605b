"""Stores and clients close when their `with` block is left, whether it ends or raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.point_files import PointFiles


def test_leaving_the_block_removes_the_files_even_on_error(tmp_path: Path) -> None:
    with PointFiles("gy-test-", tmp_path) as files:
        files.append("a", bytes(32))
        folder = files.folder
        assert folder.is_dir()
    assert not folder.exists()
    with pytest.raises(KeyError), PointFiles("gy-test-", tmp_path) as files:
        folder = files.folder
        raise KeyError("inside")
    assert not folder.exists()
