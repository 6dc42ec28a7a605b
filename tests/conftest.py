"""Test order and how the run is spread over workers.

Each test belongs to a unit: the package folder when the package's conftest shares a deployment
(a package-scoped fixture), else its module. pytest-xdist sends a unit whole to one
worker, so a shared deployment starts once per run.

In one process: pytest-randomly shuffles modules across the whole run; this keeps each package's
modules together (in their shuffled order, packages in the order they first appear), so a
package-scoped deployment is started once rather than each time the run returns to its package.
Over workers: units with the most slow tests go out first, so no long unit is left to run alone
at the end; within a unit the order stays shuffled. Either way the order is reproducible from
the printed seed.
"""

from __future__ import annotations

import ast
import functools
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

TESTS = Path(__file__).resolve().parent


def _package(item: pytest.Item) -> str:
    return item.nodeid.rpartition("/")[0]


@functools.cache
def _shares_a_deployment(package: str) -> bool:
    """Whether `package`'s conftest.py defines a package-scoped fixture (a deployment or
    certificates; session-scoped ones are made once per worker anyway)."""
    conftest = TESTS.parent / package / "conftest.py"
    if not conftest.is_file():
        return False
    return any(
        isinstance(node, ast.keyword)
        and node.arg == "scope"
        and isinstance(node.value, ast.Constant)
        and node.value.value == "package"
        for node in ast.walk(ast.parse(conftest.read_text()))
    )


def unit(nodeid: str) -> str:
    """The unit of the test `nodeid`: its package when that shares a deployment, else its module."""
    module = nodeid.partition("::")[0]
    package = module.rpartition("/")[0]
    return package if package != "tests" and _shares_a_deployment(package) else module


class UnitScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """xdist's scheduling by scope, with the scope of a test being its unit."""

    def _split_scope(self, nodeid: str) -> str:
        return unit(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
    """Units for the default `--dist=loadfile` (pyproject); any other --dist is xdist's own."""
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    parallel = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    group = {item: unit(item.nodeid) if parallel else _package(item) for item in items}
    slow = Counter(group[item] for item in items if parallel and item.get_closest_marker("slow"))
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(group[item], index)
    # stable: keeps pytest-randomly's shuffle within each group
    items.sort(key=lambda item: (-slow[group[item]], first[group[item]]))
