"""What each admitted query asked, kept beside the ledger so a restarted node can log a query it
was killed in the middle of with its kind, parties and attributes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from node.ledger_schema import admissions_table


class AdmissionNotes:
    """(kind, parties, attributes) of admitted queries, by query id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def note(
        self, query_id: str, kind: str, parties: Sequence[str], attributes: Sequence[str]
    ) -> None:
        """Keep what `query_id` asked (a retry of the same id keeps the first note)."""
        c = admissions_table.c
        with contextlib.suppress(IntegrityError), self._engine.begin() as conn:  # a racing retry
            if conn.execute(select(c.query_id).where(c.query_id == query_id)).first() is None:
                conn.execute(
                    admissions_table.insert().values(
                        query_id=query_id,
                        kind=kind,
                        parties=json.dumps(list(parties)),
                        attributes=json.dumps(list(attributes)),
                    )
                )

    def get(self, query_id: str) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
        """(kind, parties, attributes) noted for `query_id`, or None when none was noted."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(admissions_table).where(admissions_table.c.query_id == query_id)
            ).first()
            conn.rollback()
        if row is None:
            return None
        return str(row.kind), tuple(json.loads(row.parties)), tuple(json.loads(row.attributes))
