"""Chain verification: recompute the hash chain and check every signed checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from runtime.audit.record import GENESIS_HASH, Checkpoint, StoredRecord, chain_hash


class FaultKind(StrEnum):
    """Why a record or checkpoint failed verification."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad checkpoint signature"
    CHECKPOINT_MISMATCH = "checkpoint mismatch"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class ChainFault:
    """One problem found by `verify_chain`, at the first sequence number it affects."""

    seq: int
    kind: FaultKind
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of verifying one party's log."""

    party: str
    records: int
    checkpoints: int
    head_seq: int
    head_hash: str
    signatures_checked: bool
    faults: tuple[ChainFault, ...]
    signed_seq: int | None = None
    covered: int = 0

    @property
    def ok(self) -> bool:
        """True when no fault was found."""
        return not self.faults

    @property
    def unsigned(self) -> int:
        """Records after the last checkpoint that verified (all of them when none did)."""
        return self.records - self.covered

    def coverage(self) -> str:
        """One line: how much of the log the verified checkpoints cover."""
        return (
            f"{self.covered} of {self.records} records covered by signed checkpoints; "
            f"{self.unsigned} unsigned records after the last checkpoint"
        )

    def coverage_problem(self, allow_unsigned_tail: int = 0) -> str | None:
        """Why the signed checkpoints do not cover enough of the log, or None when they do.

        `signed_seq` and `covered` count a checkpoint only when its signature verified under
        the public key; without a key nothing counts as signed. An empty log (a party that has
        served nothing yet) needs no checkpoint; a truncated-to-empty one fails reconcile.
        """
        if not self.signatures_checked:
            return "checkpoint signatures were not checked (no public key)"
        if self.signed_seq is None and self.records > 0:
            return (
                f"no signed checkpoint: none of the {self.records} records is covered by a "
                "signature (its party signs one at every settle and on close)"
            )
        if self.unsigned > allow_unsigned_tail:
            return (
                f"{self.unsigned} unsigned records after the last checkpoint (records "
                f"{(self.signed_seq or 0) + 1}..{self.head_seq}); at most {allow_unsigned_tail} "
                "accepted "
                "(--allow-unsigned-tail N accepts the records of queries still in flight)"
            )
        return None

    @property
    def first(self) -> ChainFault | None:
        """The fault with the lowest sequence number, if any."""
        return self.faults[0] if self.faults else None


def _link_fault(rows: Sequence[StoredRecord], index: int) -> ChainFault:
    """Classify a self-consistent record whose prev_hash is not its predecessor's hash."""
    row = rows[index]
    position = {r.hash: i for i, r in enumerate(rows)}
    target = position.get(row.prev_hash)
    if target is not None and target > index:
        return ChainFault(
            row.seq,
            FaultKind.REORDERED,
            f"record {row.seq} links to record {rows[target].seq}, which is stored after it",
        )
    if index > 0 and row.prev_hash == rows[index - 1].prev_hash:
        extra = rows[index - 1].seq
        return ChainFault(
            extra,
            FaultKind.INSERTED,
            f"record {extra} is not part of the chain: record {row.seq} links past it",
        )
    if target is not None and target < index - 1:
        extra = rows[target + 1].seq
        return ChainFault(
            extra,
            FaultKind.INSERTED,
            f"records {extra}..{rows[index - 1].seq} are not part of the chain: "
            f"record {row.seq} links past them to record {rows[target].seq}",
        )
    return ChainFault(
        row.seq,
        FaultKind.DELETED,
        f"record {row.seq} links to a hash no stored record has: "
        "the record before it was deleted or rewritten",
    )


def _record_faults(rows: Sequence[StoredRecord]) -> list[ChainFault]:
    faults: list[ChainFault] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    for index, row in enumerate(rows):
        gap = row.seq != expected_seq
        if gap:
            faults.append(
                ChainFault(
                    expected_seq,
                    FaultKind.DELETED,
                    f"records {expected_seq}..{row.seq - 1} are missing (sequence gap)",
                )
            )
        if chain_hash(row.prev_hash, row.record) != row.hash:
            following = rows[index + 1] if index + 1 < len(rows) else None
            if following is not None and following.prev_hash == prev_hash:
                kind, why = FaultKind.INSERTED, "is not part of the chain: the next record skips it"
            else:
                kind, why = FaultKind.EDITED, "no longer matches its stored hash"
            faults.append(ChainFault(row.seq, kind, f"record {row.seq} {why}"))
        elif row.prev_hash != prev_hash and not gap:
            faults.append(_link_fault(rows, index))
        expected_seq, prev_hash = row.seq + 1, row.hash
    return faults


def _checkpoint_faults(
    party: str,
    rows: Sequence[StoredRecord],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
) -> tuple[list[ChainFault], list[int]]:
    """Faults of the checkpoints, and the seqs of those that passed every check."""
    faults: list[ChainFault] = []
    good: list[int] = []
    by_seq = {row.seq: row.hash for row in rows}
    by_seq[0] = GENESIS_HASH
    last_seq = rows[-1].seq if rows else 0
    for cp in checkpoints:
        if cp.party != party:
            faults.append(
                ChainFault(
                    cp.seq,
                    FaultKind.BAD_SIGNATURE,
                    f"checkpoint at record {cp.seq} names party {cp.party!r}, not {party!r}",
                )
            )
            continue
        if public_key is not None:
            try:
                public_key.verify(cp.signature, cp.message())
            except InvalidSignature:
                faults.append(
                    ChainFault(
                        cp.seq,
                        FaultKind.BAD_SIGNATURE,
                        f"checkpoint at record {cp.seq} does not verify under the public key",
                    )
                )
                continue
        if cp.seq > last_seq:
            faults.append(
                ChainFault(
                    last_seq + 1,
                    FaultKind.TRUNCATED,
                    f"checkpoint signed record {cp.seq} but the log ends at record {last_seq}: "
                    f"records {last_seq + 1}..{cp.seq} were removed",
                )
            )
        elif by_seq.get(cp.seq) != cp.hash:
            faults.append(
                ChainFault(
                    cp.seq,
                    FaultKind.CHECKPOINT_MISMATCH,
                    f"checkpoint at record {cp.seq} signed hash {cp.hash[:16]}..., "
                    "which the chain no longer has there",
                )
            )
        else:
            good.append(cp.seq)
    return faults, good


def verify_chain(
    party: str,
    rows: Sequence[StoredRecord],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey | None,
) -> VerifyReport:
    """Verify `rows` (in stored seq order) and `checkpoints` of `party`'s log.

    Without `public_key` the checkpoints are still compared with the chain, but their
    signatures are not checked (`signatures_checked` is False) and no record counts as covered.
    """
    checkpoint_faults, good = _checkpoint_faults(party, rows, checkpoints, public_key)
    faults = _record_faults(rows) + checkpoint_faults
    faults.sort(key=lambda fault: fault.seq)
    signed_seq = max(good) if good and public_key is not None else None
    return VerifyReport(
        party=party,
        records=len(rows),
        checkpoints=len(checkpoints),
        head_seq=rows[-1].seq if rows else 0,
        head_hash=rows[-1].hash if rows else GENESIS_HASH,
        signatures_checked=public_key is not None,
        faults=tuple(faults),
        signed_seq=signed_seq,
        covered=0 if signed_seq is None else sum(1 for row in rows if row.seq <= signed_seq),
    )
