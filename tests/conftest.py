"""Random order by package: pytest-randomly shuffles modules across the whole run; this keeps
each package's modules together (in their shuffled order, packages in the order they first
appear), so a package-scoped deployment is started once rather than each time the run returns
to its package. The order stays random and reproducible from the printed seed."""

from __future__ import annotations

import pytest


def _package(item: pytest.Item) -> str:
    return item.nodeid.rpartition("/")[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(_package(item), index)
    items.sort(key=lambda item: first[_package(item)])  # stable: keeps the shuffle within
