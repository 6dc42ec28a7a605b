"""The node's logic for overlap steps: open a session, stream its blinded set, re-blind others'."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from connectors.identifiers import SERVES, IdType
from connectors.members import LoadReport, load_members
from connectors.sources import open_source
from node.config import NodeConfig
from node.executor import CryptoExecutor
from node.sessions import QuerySession, SessionStore
from protocols import psi

QUERY_KINDS = ("overlap", "profile")


class QueryRefused(ValueError):
    """The request cannot be served as asked (bad query id, party list, id type, profile)."""


@dataclass(frozen=True)
class NodeDescription:
    """What the node tells the coordinator about itself."""

    party: str
    id_types: tuple[str, ...]
    profile_version: str


@dataclass(frozen=True)
class SessionOpened:
    """The outcome of opening a session: set size and the load report (counts only)."""

    party: str
    set_size: int
    report: LoadReport


class NodeService:
    """Serves one party's steps of queries over its configured member source."""

    def __init__(
        self, config: NodeConfig, executor: CryptoExecutor, sessions: SessionStore | None = None
    ) -> None:
        self.config = config
        self.executor = executor
        self.sessions = sessions or SessionStore()

    def describe(self) -> NodeDescription:
        """Party name, servable identifier types and the normalisation profile label."""
        id_types = sorted(
            {t.value for c in self.config.identifiers for t in SERVES[c.kind]}
        )
        return NodeDescription(
            self.config.party, tuple(id_types), self.config.normalisation.label()
        )

    def open_session(
        self,
        query_id: str,
        kind: str,
        role: str,
        id_type: str,
        profile_version: str,
        parties: tuple[str, ...],
    ) -> SessionOpened:
        """Load members for the query, shuffle them, and draw the query's fresh key."""
        if not query_id or len(query_id) > 128:
            raise QueryRefused("query id must be 1 to 128 characters")
        if kind not in QUERY_KINDS:
            raise QueryRefused(f"unknown query kind {kind!r}")
        if self.config.party not in parties:
            raise QueryRefused(
                f"party {self.config.party!r} is not among the query's parties {list(parties)}"
            )
        expected = self.config.normalisation.label()
        if profile_version != expected:
            raise QueryRefused(
                f"normalisation profile {profile_version!r} does not match this node's "
                f"{expected!r} (party {self.config.party!r})"
            )
        try:
            wanted = IdType(id_type)
        except ValueError:
            known = ", ".join(t.value for t in IdType)
            raise QueryRefused(f"unknown id type {id_type!r}; known: {known}") from None
        column = self.config.column_for(wanted)
        table = load_members(
            open_source(self.config.source),
            column.column,
            column.kind,
            wanted,
            self.config.normalisation,
            chunk_rows=self.config.chunk_rows,
        )
        session = QuerySession(
            query_id=query_id,
            kind=kind,
            role=role,
            id_type=wanted,
            parties=parties,
            elements=psi.shuffle_elements(table.elements),
            report=table.report,
        )
        self.sessions.add(session)
        return SessionOpened(self.config.party, len(session.elements), table.report)

    def own_set(self, query_id: str) -> Iterator[bytes]:
        """The session's elements, hashed and blinded with its key, in its secret order."""
        session = self.sessions.get(query_id)
        return self.executor.blind_elements(session.elements, session.key.scalar)

    def reblind(
        self, query_id: str, chunks: Iterator[bytes], preserve_order: bool
    ) -> Iterator[bytes]:
        """Multiply every received point by the session key; reshuffle unless told not to.

        Every point is validated in the workers; the whole stream is read (and its trailer
        checked by the caller's framing) before anything is sent back.
        """
        session = self.sessions.get(query_id)
        blinded = b"".join(self.executor.blind_points(chunks, session.key.scalar))
        if not preserve_order:
            blinded = psi.shuffle_points(blinded)
        return iter((blinded,))

    def close(self, query_id: str) -> bool:
        """Forget the query's key and members."""
        return self.sessions.close(query_id)
