"""The checked-in gRPC stubs are exactly what scripts/gen_protos.py generates from proto/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gen_protos.py"
STUBS = Path("wire") / "v1"


def _gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / STUBS).iterdir())}


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of proto/ and the stubs, to alter without touching the real tree."""
    shutil.copytree(REPO / "proto", tmp_path / "proto")
    shutil.copytree(REPO / STUBS, tmp_path / STUBS, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_checked_in_stubs_are_current() -> None:
    before = _snapshot(REPO)
    result = _gen("--check")
    assert result.returncode == 0, result.stderr
    assert "stale" not in result.stderr
    assert _snapshot(REPO) == before  # --check writes nothing


def test_altered_missing_or_extra_stubs_fail_the_check(copy: Path) -> None:
    real = _snapshot(REPO)
    result = _gen("--check", "--root", str(copy))
    assert result.returncode == 0, result.stderr

    altered = copy / STUBS / "points_pb2.py"
    altered.write_text(altered.read_text() + "\n# edited by hand\n")
    (copy / STUBS / "node_pb2_grpc.pyi").unlink()
    (copy / STUBS / "old_pb2.py").write_text("# left over from a removed proto\n")
    result = _gen("--check", "--root", str(copy))
    assert result.returncode == 1
    for name in ("points_pb2.py", "node_pb2_grpc.pyi", "old_pb2.py"):
        assert f"stale generated stub: wire/v1/{name}" in result.stderr
    assert "stale generated stub: wire/v1/coordinator_pb2.py" not in result.stderr

    # regenerating the copy repairs it, and the real tree is never touched
    result = _gen("--root", str(copy))
    assert result.returncode == 0, result.stderr
    assert not (copy / STUBS / "old_pb2.py").exists()
    assert _gen("--check", "--root", str(copy)).returncode == 0
    assert _snapshot(REPO) == real


def test_proto_change_without_regeneration_fails_the_check(copy: Path) -> None:
    proto = copy / "proto" / "wire" / "v1" / "points.proto"
    text = proto.read_text()
    assert "bytes digest = 2;" in text
    proto.write_text(text.replace("bytes digest = 2;", "bytes digest = 2;\n  string note = 3;"))
    result = _gen("--check", "--root", str(copy))
    assert result.returncode == 1
    assert "stale generated stub: wire/v1/points_pb2.py" in result.stderr
