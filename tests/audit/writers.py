"""A writer process for the multi-process append test (importable under spawn)."""

from __future__ import annotations

from runtime.audit import open_audit_log
from tests.audit.conftest import make_record


def append_many(location: str, first: int, count: int) -> None:
    """Append records q{first}..q{first+count-1} to the log at `location`."""
    log = open_audit_log(location, "retailer_a")
    try:
        for index in range(first, first + count):
            log.append(make_record(index))
    finally:
        log.close()
