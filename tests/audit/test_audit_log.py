"""One suite over both backends: storage, filters, triggers, tamper detection, concurrency."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import DBAPIError

from runtime.audit import (
    GENESIS_HASH,
    AuditLog,
    AuditLogNotFound,
    AuditPartyMismatch,
    FaultKind,
    StoredRecord,
    chain_hash,
    open_audit_log,
)
from tests.audit.conftest import T0, Backend, make_record
from tests.audit.writers import append_many


def _filled(
    backend: Backend, key: Ed25519PrivateKey | None, count: int, every: int = 100
) -> tuple[AuditLog, list[StoredRecord]]:
    log = open_audit_log(backend.url, "retailer_a", key, checkpoint_every=every)
    stored = [log.append(make_record(index)) for index in range(1, count + 1)]
    return log, stored


def _oracle_hash(prev_hash: str, fields: dict[str, object]) -> str:
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev_hash.encode() + body.encode()).hexdigest()


class TestAuditLog:
    def test_append_round_trip_and_hash_matches_independent_oracle(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        log, stored = _filled(backend, signing_key, 4)
        with log:
            read = list(log.records())
        assert read == stored
        assert [s.seq for s in read] == [1, 2, 3, 4]
        assert [s.record for s in read] == [make_record(i) for i in range(1, 5)]
        first = read[0]
        assert first.prev_hash == GENESIS_HASH == "0" * 64
        expected = _oracle_hash(
            "0" * 64,
            {
                "query_id": "q0001", "time": "2025-03-01T09:01:00.123456Z",
                "party": "retailer_a", "requester": "brand_y", "kind": "profile",
                "parties": ["retailer_a", "retailer_b"], "attributes": ["age_band", "spend"],
                "decision": "refused", "rule": "rule_1", "released": {}, "suppressed": 1,
                "epsilon": 0.125, "duration_ms": 10, "error": None,
            },
        )  # fmt: skip
        assert first.hash == expected
        assert [s.prev_hash for s in read[1:]] == [s.hash for s in read[:-1]]

    def test_time_in_another_zone_is_stored_as_the_same_utc_instant(self, backend: Backend) -> None:
        moment = datetime(2025, 3, 1, 17, 30, tzinfo=timezone(timedelta(hours=8)))
        with open_audit_log(backend.url, "retailer_a") as log:
            log.append(make_record(1, time=moment))
            (stored,) = log.records()
        assert stored.record.time == moment
        assert stored.record.time.utcoffset() == timedelta(0)
        assert stored.record.time.hour == 9

    def test_filters_match_a_plain_python_filter(self, backend: Backend) -> None:
        log, stored = _filled(backend, None, 12)
        since = T0 + timedelta(minutes=5)
        with log:
            cases: list[tuple[dict[str, object], Callable[[StoredRecord], bool]]] = [
                ({"requester": "brand_x"}, lambda s: s.record.requester == "brand_x"),
                ({"kind": "profile"}, lambda s: s.record.kind == "profile"),
                ({"status": "refused"}, lambda s: s.record.decision == "refused"),
                ({"since": since}, lambda s: s.record.time >= since),
                ({"query_id": "q0007"}, lambda s: s.record.query_id == "q0007"),
                (
                    {"requester": "brand_y", "status": "failed", "since": since},
                    lambda s: (
                        s.record.requester == "brand_y"
                        and s.record.decision == "failed"
                        and s.record.time >= since
                    ),
                ),
            ]
            for filters, keep in cases:
                expected = [s for s in stored if keep(s)]
                assert expected, filters  # each case selects something
                assert list(log.records(**filters)) == expected, filters  # type: ignore[arg-type]

    def test_records_are_read_in_pages_without_gaps(
        self, backend: Backend, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("runtime.audit.sql._PAGE", 3)
        log, stored = _filled(backend, None, 10)
        with log:
            assert list(log.records()) == stored
            assert list(log.records(requester="brand_x")) == stored[1::2]

    def test_records_survive_reopen_and_the_chain_continues(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        log, stored = _filled(backend, signing_key, 3)
        log.close()
        with open_audit_log(backend.url, "retailer_a", signing_key) as again:
            assert list(again.records()) == stored
            fourth = again.append(make_record(4))
            assert (fourth.seq, fourth.prev_hash) == (4, stored[-1].hash)
            report = again.verify()
        assert report.ok and report.records == 4 and report.signatures_checked
        with open_audit_log(backend.url) as reader:
            assert reader.party == "retailer_a"
            assert [c.seq for c in reader.checkpoints()] == [3, 4]  # one per close

    def test_log_of_another_party_and_missing_log_are_refused(self, backend: Backend) -> None:
        open_audit_log(backend.url, "retailer_a").close()
        with pytest.raises(AuditPartyMismatch, match="belongs to party 'retailer_a', not 'x'"):
            open_audit_log(backend.url, "x")
        with (
            open_audit_log(backend.url, "retailer_a") as log,
            pytest.raises(AuditPartyMismatch, match="written by party 'retailer_b'"),
        ):
            log.append(make_record(1, party="retailer_b"))
        missing = backend.url.replace("audit.db", "none.db")
        if backend.name == "sqlite":
            with pytest.raises(AuditLogNotFound, match=r"none\.db does not exist"):
                open_audit_log(missing)

    def test_automatic_checkpoints_every_n_and_on_close(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        log, stored = _filled(backend, signing_key, 7, every=3)
        assert [c.seq for c in log.checkpoints()] == [3, 6]
        log.close()
        with open_audit_log(backend.url) as reader:
            checkpoints = reader.checkpoints()
            assert [c.seq for c in checkpoints] == [3, 6, 7]
            assert checkpoints[-1].hash == stored[-1].hash
            assert reader.verify(signing_key.public_key()).ok

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_records SET requester = 'brand_z' WHERE seq = 1",
            "DELETE FROM audit_records WHERE seq = 2",
            "UPDATE audit_checkpoints SET hash = 'x'",
            "DELETE FROM audit_checkpoints",
        ],
    )
    def test_database_refuses_update_and_delete(
        self, backend: Backend, signing_key: Ed25519PrivateKey, statement: str
    ) -> None:
        log, stored = _filled(backend, signing_key, 3)
        log.close()
        with pytest.raises(DBAPIError, match="append-only"):
            backend.plain(statement)
        with open_audit_log(backend.url, "retailer_a", signing_key) as again:
            assert list(again.records()) == stored
            assert again.verify().ok

    def test_postgres_refuses_truncate(self, backend: Backend) -> None:
        if backend.name != "postgresql":
            pytest.skip("TRUNCATE is a PostgreSQL statement")
        _filled(backend, None, 2)[0].close()
        with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"):
            backend.plain("TRUNCATE audit_records")

    def _tampered(
        self, backend: Backend, key: Ed25519PrivateKey, *statements: tuple[str, dict[str, object]]
    ) -> list[StoredRecord]:
        log, stored = _filled(backend, key, 6)
        log.close()
        assert open_audit_log(backend.url).verify(key.public_key()).ok
        for sql, params in statements:
            backend.admin(sql, params)
        return stored

    def _first_fault(self, backend: Backend, key: Ed25519PrivateKey) -> tuple[int, FaultKind]:
        with open_audit_log(backend.url) as reader:
            report = reader.verify(key.public_key())
        assert not report.ok
        assert report.first is not None
        return report.first.seq, report.first.kind

    def test_edit_is_detected(self, backend: Backend, signing_key: Ed25519PrivateKey) -> None:
        sql = "UPDATE audit_records SET epsilon = 0.0, decision = 'refused' WHERE seq = 4"
        self._tampered(backend, signing_key, (sql, {}))
        assert self._first_fault(backend, signing_key) == (4, FaultKind.EDITED)

    def test_unparseable_edit_is_detected(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        self._tampered(backend, signing_key, ("UPDATE audit_records SET time = 'yesterday' "
                                              "WHERE seq = 2", {}))  # fmt: skip
        assert self._first_fault(backend, signing_key) == (2, FaultKind.EDITED)

    def test_delete_is_detected(self, backend: Backend, signing_key: Ed25519PrivateKey) -> None:
        self._tampered(backend, signing_key, ("DELETE FROM audit_records WHERE seq = 3", {}))
        assert self._first_fault(backend, signing_key) == (3, FaultKind.DELETED)

    def test_delete_with_renumbering_is_detected(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        renumber: list[tuple[str, dict[str, object]]] = [
            ("UPDATE audit_records SET seq = :new WHERE seq = :old", {"new": s - 1, "old": s})
            for s in (4, 5, 6)
        ]
        self._tampered(
            backend, signing_key, ("DELETE FROM audit_records WHERE seq = 3", {}), *renumber
        )
        assert self._first_fault(backend, signing_key) == (3, FaultKind.DELETED)

    def test_insert_is_detected(self, backend: Backend, signing_key: Ed25519PrivateKey) -> None:
        log, stored = _filled(backend, signing_key, 6)
        log.close()
        forged = make_record(99, requester="brand_x")
        shift = [
            ("UPDATE audit_records SET seq = :new WHERE seq = :old", {"new": s + 1, "old": s})
            for s in (6, 5, 4, 3)
        ]
        for sql, params in shift:
            backend.admin(sql, params)
        row = {
            **forged.to_dict(),
            "seq": 3,
            "prev_hash": stored[1].hash,
            "hash": chain_hash(stored[1].hash, forged),  # a forger who knows the algorithm
            "parties": json.dumps(list(forged.parties)),
            "attributes": json.dumps(list(forged.attributes)),
            "released": json.dumps(forged.released),
        }
        columns = ", ".join(row)
        values = ", ".join(f":{name}" for name in row)
        backend.admin(f"INSERT INTO audit_records ({columns}) VALUES ({values})", row)
        assert self._first_fault(backend, signing_key) == (3, FaultKind.INSERTED)

    def test_reorder_is_detected(self, backend: Backend, signing_key: Ed25519PrivateKey) -> None:
        swap = "UPDATE audit_records SET seq = :new WHERE seq = :old"
        self._tampered(
            backend,
            signing_key,
            (swap, {"new": -1, "old": 3}),
            (swap, {"new": 3, "old": 4}),
            (swap, {"new": 4, "old": -1}),
        )
        assert self._first_fault(backend, signing_key) == (3, FaultKind.REORDERED)

    def test_tail_truncation_after_checkpoint_is_detected(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        self._tampered(backend, signing_key, ("DELETE FROM audit_records WHERE seq >= 5", {}))
        # the chain of records 1..4 is intact; only the checkpoint at 6 (from close) shows it
        assert self._first_fault(backend, signing_key) == (5, FaultKind.TRUNCATED)

    def test_rewritten_chain_is_caught_by_the_checkpoint(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        stored = self._tampered(backend, signing_key)
        prev = stored[1].hash
        for original in stored[2:]:  # edit record 3 and re-hash everything after it
            record = original.record
            if original.seq == 3:
                record = make_record(3, requester="brand_z")
            digest = chain_hash(prev, record)
            backend.admin(
                "UPDATE audit_records SET requester = :requester, prev_hash = :prev, "
                "hash = :hash WHERE seq = :seq",
                {"requester": record.requester, "prev": prev, "hash": digest,
                 "seq": original.seq},
            )  # fmt: skip
            prev = digest
        assert self._first_fault(backend, signing_key) == (6, FaultKind.CHECKPOINT_MISMATCH)

    def test_bad_checkpoint_signature_and_wrong_key_are_detected(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        self._tampered(backend, signing_key)
        with open_audit_log(backend.url) as reader:
            other = Ed25519PrivateKey.generate().public_key()
            wrong = reader.verify(other)
            unsigned = reader.verify()
        assert wrong.first is not None
        assert (wrong.first.seq, wrong.first.kind) == (6, FaultKind.BAD_SIGNATURE)
        assert unsigned.ok and not unsigned.signatures_checked
        backend.admin("UPDATE audit_checkpoints SET signature = :sig", {"sig": "00" * 64})
        assert self._first_fault(backend, signing_key) == (6, FaultKind.BAD_SIGNATURE)

    def test_concurrent_threads_build_one_unbroken_chain(
        self, backend: Backend, signing_key: Ed25519PrivateKey
    ) -> None:
        shared = open_audit_log(backend.url, "retailer_a", signing_key, checkpoint_every=7)
        own = [open_audit_log(backend.url, "retailer_a", signing_key, checkpoint_every=7)
               for _ in range(2)]  # fmt: skip
        writers = [shared, shared, *own]
        errors: list[BaseException] = []

        def write(index: int) -> None:
            try:
                for n in range(10):
                    writers[index].append(make_record(100 * index + n))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for log in own:
            log.close()
        assert errors == []
        stored = list(shared.records())
        report = shared.verify()
        shared_checkpoints = shared.checkpoints()
        shared.close()
        assert report.ok, report.faults
        assert [s.seq for s in stored] == list(range(1, 41))
        expected = {f"q{100 * i + n:04d}" for i in range(4) for n in range(10)}
        assert {s.record.query_id for s in stored} == expected
        seqs = {c.seq for c in shared_checkpoints}
        assert {7, 14, 21, 28, 35} <= seqs, seqs

    def test_two_processes_build_one_unbroken_chain(self, backend: Backend) -> None:
        if backend.name != "sqlite":
            pytest.skip("the multi-process case is the embedded SQLite file")
        open_audit_log(backend.url, "retailer_a").close()
        context = multiprocessing.get_context("spawn")
        procs = [context.Process(target=append_many, args=(backend.url, 1000 * k, 25))
                 for k in (1, 2)]  # fmt: skip
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        assert [proc.exitcode for proc in procs] == [0, 0]
        with open_audit_log(backend.url) as reader:
            stored = list(reader.records())
            assert reader.verify().ok
        assert [s.seq for s in stored] == list(range(1, 51))
        assert len({s.record.query_id for s in stored}) == 50
        assert all(s.record.time.tzinfo is UTC for s in stored)
