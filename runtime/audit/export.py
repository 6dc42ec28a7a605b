"""Export an audit log as JSON Lines or CSV."""

from __future__ import annotations

import csv
import json
from typing import Final, Literal, TextIO

from runtime.audit.log import AuditLog
from runtime.audit.record import canonical_json

CSV_COLUMNS: Final = (
    "seq", "prev_hash", "hash", "query_id", "time", "party", "requester", "kind", "parties",
    "attributes", "decision", "rule", "released", "suppressed", "epsilon", "duration_ms", "error",
    "witnessed",
)  # fmt: skip
_JSON_CELLS: Final = frozenset({"parties", "attributes", "released", "witnessed"})


def export(log: AuditLog, fmt: Literal["jsonl", "csv"], out: TextIO) -> int:
    """Write every record of `log` to `out`; returns how many were written.

    JSONL: one canonical JSON object per line (record fields plus seq, prev_hash, hash), so an
    export can be re-hashed offline. CSV: the columns of `CSV_COLUMNS`; parties, attributes and
    released (and witnessed, the peers' signed heads, when present) are JSON text in their
    cells; a missing rule, error or witnessed is an empty cell.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"export format {fmt!r} is not one of 'jsonl', 'csv'")
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    if fmt == "csv":
        writer.writeheader()
    count = 0
    for stored in log.records():
        data = stored.to_dict()
        if fmt == "jsonl":
            out.write(canonical_json(data).decode("utf-8") + "\n")
        else:
            writer.writerow(
                {
                    name: json.dumps(value, sort_keys=True)
                    if name in _JSON_CELLS
                    else ("" if value is None else value)
                    for name, value in data.items()
                }
            )
        count += 1
    return count
