"""Per-query sessions: the query's fresh key and members, dropped when the query ends or idles."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.identifiers import IdType
from connectors.members import LoadTally
from model.errors import SessionExists, SessionNotFound
from node.admission import Admission
from protocols.profile import Attribute
from protocols.psi import PsiParty
from runtime.signing import SignedQuery

DEFAULT_IDLE_SECONDS = 600.0


@dataclass(frozen=True)
class SessionRequest:
    """What a coordinator asks when it opens a query's session at this node (OpenSession).

    `signed` is the querier's signed query; `requester` the identity of the calling peer;
    `querier_set` the querier node's fingerprint of its set; `psi_group` the group asked for
    (empty: ristretto255).
    """

    query_id: str
    kind: str
    role: str
    id_type: str
    profile_version: str
    parties: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    paillier_n: int | None = None
    signed: SignedQuery | None = None
    requester: str = ""
    paillier_key_signature: bytes = b""
    querier_set: str = ""
    psi_group: str = ""


@dataclass
class QuerySession:
    """One query's state at a node. `elements` are in a secret random order."""

    query_id: str
    kind: str
    role: str
    id_type: IdType
    parties: tuple[str, ...]
    elements: Sequence[bytes]
    report: LoadTally
    # this party's PSI state: key, group and the secret order of `elements` (protocols/psi.py)
    psi: PsiParty = field(default_factory=PsiParty.fresh, repr=False)
    attributes: dict[str, list[object]] = field(default_factory=dict, repr=False)
    paillier_n: int | None = None
    specs: tuple[Attribute, ...] = ()
    admission: Admission | None = None
    # the cached load that `psi.order` indexes, if any
    cached: Any = field(default=None, repr=False)
    # the unblinding step (node/unblinding.py): owners whose re-blinding this querier unblinded;
    # whether this owner signed its re-blinding of the querier's set
    unblinded_for: set[str] = field(default_factory=set)
    reblind_signed: bool = False
    last_used: float = field(default_factory=time.monotonic)

    def forget(self) -> None:
        """Wipe the key and drop the members and the order."""
        self.psi.forget()
        self.elements = []
        self.attributes = {}
        self.cached = None


class SessionStore:
    """Open sessions by query id; thread-safe; idle sessions expire and are forgotten."""

    def __init__(
        self,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        on_expire: Callable[[QuerySession], None] | None = None,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.on_expire = on_expire
        self._sessions: dict[str, QuerySession] = {}
        self._lock = threading.Lock()

    def add(self, session: QuerySession) -> None:
        """Register a new session; refuses a query id that is already open."""
        self.expire()
        with self._lock:
            if session.query_id in self._sessions:
                session.forget()
                raise SessionExists(f"query {session.query_id} already has an open session")
            self._sessions[session.query_id] = session

    def get(self, query_id: str) -> QuerySession:
        """The open session of `query_id`, marked as used now."""
        with self._lock:
            session = self._sessions.get(query_id)
            if session is None:
                raise SessionNotFound(f"no open session for query {query_id!r}")
            session.last_used = time.monotonic()
            return session

    def close(self, query_id: str) -> bool:
        """Forget a session; False when there was none."""
        with self._lock:
            session = self._sessions.pop(query_id, None)
        if session is None:
            return False
        session.forget()
        return True

    def expire(self) -> int:
        """Forget sessions idle for longer than `idle_seconds`; how many were dropped."""
        cutoff = time.monotonic() - self.idle_seconds
        with self._lock:
            stale = [q for q, s in self._sessions.items() if s.last_used < cutoff]
            dropped = [self._sessions.pop(q) for q in stale]
        for session in dropped:
            if self.on_expire is not None:
                self.on_expire(session)
            session.forget()
        return len(dropped)

    def query_ids(self) -> list[str]:
        """The query ids of the open sessions."""
        with self._lock:
            return list(self._sessions)

    def open_count(self) -> int:
        """How many sessions are open."""
        with self._lock:
            return len(self._sessions)

    def close_all(self) -> None:
        """Forget every session (shutdown); each counts as expired (logged as failed)."""
        with self._lock:
            dropped = list(self._sessions.values())
            self._sessions.clear()
        for session in dropped:
            if self.on_expire is not None:
                self.on_expire(session)
            session.forget()
