"""Export formats parse back to the stored records; reconcile names the party lacking a query."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from runtime.audit import AuditRecord, StoredRecord, export, open_audit_log, reconcile
from tests.audit.conftest import make_record


def _log_with(path: Path, party: str, indices: list[int]) -> list[StoredRecord]:
    with open_audit_log(str(path), party) as log:
        return [log.append(make_record(i, party=party)) for i in indices]


def test_jsonl_export_parses_back_to_the_stored_records(tmp_path: Path) -> None:
    stored = _log_with(tmp_path / "a.db", "retailer_a", list(range(1, 6)))
    out = io.StringIO()
    with open_audit_log(str(tmp_path / "a.db")) as log:
        assert export(log, "jsonl", out) == 5
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    for line, original in zip(lines, stored, strict=True):
        data = json.loads(line)
        assert (data.pop("seq"), data.pop("prev_hash"), data.pop("hash")) == (
            original.seq, original.prev_hash, original.hash,
        )  # fmt: skip
        assert AuditRecord.from_dict(data) == original.record
        assert line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"))


def test_csv_export_parses_back_to_the_stored_records(tmp_path: Path) -> None:
    stored = _log_with(tmp_path / "a.db", "retailer_a", list(range(1, 6)))
    out = io.StringIO()
    with open_audit_log(str(tmp_path / "a.db")) as log:
        export(log, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 5
    for row, original in zip(rows, stored, strict=True):
        r = original.record
        assert int(row["seq"]) == original.seq and row["hash"] == original.hash
        assert row["query_id"] == r.query_id and row["requester"] == r.requester
        assert row["time"] == r.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert tuple(json.loads(row["parties"])) == r.parties
        assert tuple(json.loads(row["attributes"])) == r.attributes
        assert json.loads(row["released"]) == r.released
        assert float(row["epsilon"]) == r.epsilon
        assert int(row["suppressed"]) == r.suppressed
        assert (row["rule"] or None) == r.rule and (row["error"] or None) == r.error


def test_reconcile_finds_the_query_a_party_lacks(tmp_path: Path) -> None:
    _log_with(tmp_path / "a.db", "retailer_a", [1, 2, 3, 4])
    _log_with(tmp_path / "b.db", "retailer_b", [1, 2, 4])
    with open_audit_log(str(tmp_path / "c.db"), "coordinator") as log:  # released all five
        for index in range(1, 6):
            log.append(make_record(index, party="coordinator", decision="released"))
    logs = {name: open_audit_log(str(tmp_path / f"{name[-1]}.db")) for name in ("a", "b", "c")}
    try:
        report = reconcile(logs)
    finally:
        for log in logs.values():
            log.close()
    assert report.queries == 5 and not report.ok
    missing = {(m.query_id, m.missing_from, m.present_in) for m in report.missing}
    assert missing == {("q0003", ("b",), ("a", "c")), ("q0005", ("a", "b"), ("c",))}
    assert report.conflicts == ()


def test_reconcile_named_only_expects_queries_only_where_named(tmp_path: Path) -> None:
    _log_with(tmp_path / "a.db", "retailer_a", [1, 2])
    with open_audit_log(str(tmp_path / "b.db"), "retailer_b") as log:
        log.append(make_record(1, party="retailer_b"))
        log.append(make_record(7, party="retailer_b", parties=("retailer_b", "retailer_c")))
        log.append(make_record(2, party="retailer_b", kind="profile"))
    a, b = open_audit_log(str(tmp_path / "a.db")), open_audit_log(str(tmp_path / "b.db"))
    try:
        report = reconcile({"retailer_a": a, "retailer_b": b}, named_only=True)
        everywhere = reconcile({"retailer_a": a, "retailer_b": b})
    finally:
        a.close()
        b.close()
    assert report.missing == ()  # q0007 names only b and c
    assert [m.query_id for m in everywhere.missing] == ["q0007"]
    assert [(c.query_id, c.field) for c in report.conflicts] == [("q0002", "kind")]
    assert report.conflicts[0].values == {"retailer_a": "overlap", "retailer_b": "profile"}


def test_reconcile_expects_a_query_the_coordinator_did_not_release_to_be_absent(
    tmp_path: Path,
) -> None:
    _log_with(tmp_path / "a.db", "retailer_a", [1])
    with open_audit_log(str(tmp_path / "c.db"), "coordinator") as log:
        log.append(make_record(1, party="coordinator"))
        log.append(make_record(2, party="coordinator", decision="refused"))
        log.append(make_record(3, party="coordinator", decision="released"))
    logs = {name: open_audit_log(str(tmp_path / f"{name[0]}.db")) for name in ("a", "coordinator")}
    try:
        report = reconcile(logs)
    finally:
        for log in logs.values():
            log.close()
    assert [(m.query_id, m.missing_from) for m in report.absent] == [("q0002", ("a",))]
    assert "coordinator logged it refused" in report.absent[0].reason
    assert [(m.query_id, m.missing_from, m.reason) for m in report.missing] == [
        ("q0003", ("a",), "")
    ]
