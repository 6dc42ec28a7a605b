"""Audit records as plain lines: a narrow form that fits a terminal (80 columns by default) and a
wide form with every field on one line; query ids are shortened only to a prefix that
`gongying audit show` accepts, and the listing says so."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Final

from runtime.audit import StoredRecord
from runtime.audit.summary import reason

SHORT_ID: Final = 8
MIN_WIDTH: Final = 40


def short_ids(query_ids: Iterable[str]) -> dict[str, str]:
    """Each id cut to the shortest prefix (at least SHORT_ID characters) that no other listed id
    starts with; an id no longer than its prefix stays whole."""
    ids = sorted(set(query_ids))
    short: dict[str, str] = {}
    for index, query_id in enumerate(ids):
        length = SHORT_ID
        neighbours = ids[max(0, index - 1) : index] + ids[index + 1 : index + 2]
        for other in neighbours:
            common = 0
            while common < min(len(query_id), len(other)) and query_id[common] == other[common]:
                common += 1
            length = max(length, common + 1)
        short[query_id] = query_id if length >= len(query_id) else query_id[:length]
    return short


def released_text(released: dict[str, int], suppressed: int) -> str:
    """`cell=count, ...` and how many cells were suppressed."""
    cells = ", ".join(f"{name}={count}" for name, count in sorted(released.items()))
    hidden = f"{suppressed} suppressed" if suppressed else ""
    return "; ".join(part for part in (cells, hidden) if part) or "-"


def _field(label: str, value: str, width: int) -> list[str]:
    return textwrap.wrap(
        value,
        width=width,
        initial_indent=f"    {label}: ",
        subsequent_indent=" " * 6,
        break_long_words=True,
        break_on_hyphens=False,
    )


def narrow_lines(
    records: Sequence[StoredRecord], width: int = 80, every_id: Iterable[str] = ()
) -> list[str]:
    """A head line per record (seq, time, query id prefix, requester, kind, decision, epsilon)
    and wrapped detail lines: parties, attributes, released values, reason. Prefixes are unique
    among `every_id` (the whole log's ids) as well as among the records listed."""
    width = max(width, MIN_WIDTH)
    short = short_ids([*every_id, *(stored.record.query_id for stored in records)])
    lines: list[str] = []
    for stored in records:
        r = stored.record
        head = (
            f"#{stored.seq} {r.time:%Y-%m-%d %H:%M:%S} {short[r.query_id]} {r.requester} "
            f"{r.kind} {r.decision.upper()} eps {r.epsilon:g} {r.duration_ms} ms"
        )
        lines += textwrap.wrap(head, width=width, subsequent_indent=" " * 6, break_long_words=True)
        lines += _field("parties", ", ".join(r.parties) or "-", width)
        if r.attributes:
            lines += _field("attributes", ", ".join(r.attributes), width)
        if r.decision in ("released", "allowed") or r.released:
            lines += _field("released", released_text(r.released, r.suppressed), width)
        if r.decision in ("refused", "failed"):
            lines += _field("reason", reason(r) or "(none recorded)", width)
    if any(short[q] != q for q in short):
        note = (
            f"query ids shortened to their first {SHORT_ID}+ characters: `gongying audit show "
            "PREFIX` accepts them; --wide prints them whole"
        )
        lines += textwrap.wrap(note, width=width)
    lines.append(f"{len(records)} records")
    return lines


WIDE_COLUMNS: Final = (
    "seq", "time", "query_id", "requester", "kind", "decision", "parties", "attributes",
    "released", "epsilon", "ms", "reason",
)  # fmt: skip


def wide_lines(records: Sequence[StoredRecord]) -> list[str]:
    """One tab-separated line per record, every field whole (for wide terminals and `cut`)."""
    lines = ["\t".join(WIDE_COLUMNS)]
    for stored in records:
        r = stored.record
        lines.append(
            "\t".join((
                str(stored.seq), f"{r.time:%Y-%m-%dT%H:%M:%S}Z", r.query_id, r.requester, r.kind,
                r.decision, ",".join(r.parties) or "-", ",".join(r.attributes) or "-",
                released_text(r.released, r.suppressed), f"{r.epsilon:g}", str(r.duration_ms),
                reason(r).replace("\t", " ").replace("\n", " ") or "-",
            ))
        )  # fmt: skip
    return lines
