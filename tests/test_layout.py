"""Imports point one way (DESIGN 9): each package imports only from packages below it.

Checked on every import statement, at module level or inside functions, so a function-level import
cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"protocols", "connectors"}),  # pure: cryptography, member sources
    frozenset({"model"}),  # plain result and error types
    frozenset({"release"}),  # release rules (pure functions of counted answers)
    frozenset({"runtime"}),  # config, TLS, identity, signing, executor, storage, audit
    frozenset({"wire"}),  # stubs, streams, serde, the error -> status table
    frozenset({"node", "client", "coordinator"}),  # siblings: none imports another
    frozenset({"settlement"}),  # agreements, statements, sandbox: over the client and audit logs
    frozenset({"gongying"}),  # CLI, report, demo
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import of one of our packages in `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in RANK]
    return found


def violations(root: Path) -> list[str]:
    """Every import that points sideways or up, as `file:line: a -> b`."""
    wrong = []
    for package, rank in sorted(RANK.items()):
        for path in sorted((root / package).rglob("*.py")):
            if "v1" in path.relative_to(root).parts:
                continue  # generated stubs
            for line, target in imported_packages(path):
                if target != package and RANK[target] >= rank:
                    wrong.append(f"{path.relative_to(root)}:{line}: {package} -> {target}")
    return wrong


def test_imports_point_down() -> None:
    assert violations(ROOT) == []


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "scripts"}
    assert packages == set(RANK)


@pytest.mark.parametrize(
    ("package", "source", "allowed"),
    [
        ("protocols", "from node.config import NodeConfig\n", False),
        ("node", "def f():\n    from coordinator import overlap\n", False),
        ("coordinator", "from wire.status import reported\n", True),
        ("client", "import coordinator.progress\n", False),
    ],
)
def test_the_check_sees_upward_and_sideways_imports(
    tmp_path: Path, package: str, source: str, allowed: bool
) -> None:
    (tmp_path / package).mkdir()
    (tmp_path / package / "m.py").write_text(source)
    assert (violations(tmp_path) == []) is allowed
