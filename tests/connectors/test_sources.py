"""Every source kind reads the same generated table as pandas does, in any chunk size."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from connectors import (
    FrameSource,
    MemberSource,
    MissingColumn,
    SourceNotFound,
    SourceSpec,
    SourceSpecError,
    SourceUnreadable,
    open_source,
)

COLUMNS = ["email", "member_no", "city"]


def _write(kind: str, frame: pd.DataFrame, tmp_path: Path) -> MemberSource:
    if kind == "csv":
        path = tmp_path / "members.csv"
        frame.to_csv(path, index=False)
        return open_source(SourceSpec(kind="csv", path=str(path)))
    if kind == "parquet":
        path = tmp_path / "members.parquet"
        frame.to_parquet(path, row_group_size=97)
        return open_source(SourceSpec(kind="parquet", path=str(path)))
    if kind == "sqlite":
        path = tmp_path / "members.db"
        with sqlite3.connect(path) as connection:
            frame.to_sql("members", connection, index=False)
        return open_source(SourceSpec(kind="sql", url=f"sqlite:///{path}", table="members"))
    return FrameSource(frame, label="test members")


def _read_all(source: MemberSource, columns: list[str], chunk_rows: int) -> pd.DataFrame:
    chunks = list(source.iter_chunks(columns, chunk_rows))
    assert all(len(c) <= chunk_rows for c in chunks)
    return pd.concat(chunks, ignore_index=True)


@pytest.mark.parametrize("kind", ["csv", "parquet", "sqlite", "frame"])
@pytest.mark.parametrize("chunk_rows", [1_000, 64, 7])
def test_source_round_trips_generated_table(
    kind: str, chunk_rows: int, members: pd.DataFrame, tmp_path: Path
) -> None:
    source = _write(kind, members, tmp_path)
    assert source.columns() == COLUMNS
    read = _read_all(source, ["city", "email"], chunk_rows)
    assert list(read.columns) == ["city", "email"]
    expected = members[["city", "email"]].astype(object)
    got = read.astype(object).where(read.notna(), None)
    assert got.values.tolist() == expected.where(expected.notna(), None).values.tolist()


def test_csv_keeps_na_like_text_and_reads_ids_as_text(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("member_no,points\n007,10\nNA,\nnull,3\n", encoding="utf-8")
    read = _read_all(
        open_source(SourceSpec(kind="csv", path=str(path))), ["member_no", "points"], 2
    )
    assert read.values.tolist() == [["007", "10"], ["NA", None], ["null", "3"]]


def test_sql_query_source_selects_rows(members: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "members.db"
    with sqlite3.connect(path) as connection:
        members.to_sql("members", connection, index=False)
    spec = SourceSpec(
        kind="sql", url=f"sqlite:///{path}", query="SELECT * FROM members WHERE city = 'Shanghai'"
    )
    read = _read_all(open_source(spec), ["email"], 13)
    expected = members.loc[members["city"] == "Shanghai", "email"]
    assert read["email"].tolist() == [None if pd.isna(e) else e for e in expected]


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    for kind in ("csv", "parquet"):
        with pytest.raises(SourceNotFound, match=r"absent\.csv"):
            open_source(SourceSpec(kind=kind, path=str(path))).columns()


@pytest.mark.parametrize("kind", ["csv", "parquet", "sqlite", "frame"])
def test_missing_column_lists_available(kind: str, members: pd.DataFrame, tmp_path: Path) -> None:
    source = _write(kind, members, tmp_path)
    with pytest.raises(MissingColumn) as caught:
        list(source.iter_chunks(["email", "phone"]))
    message = str(caught.value)
    assert "'phone'" in message and source.spec.describe() in message
    assert "'email', 'member_no', 'city'" in message


def test_corrupt_and_truncated_parquet_are_unreadable(
    members: pd.DataFrame, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(SourceUnreadable, match=r"garbage\.parquet"):
        open_source(SourceSpec(kind="parquet", path=str(garbage))).columns()
    whole = tmp_path / "whole.parquet"
    members.to_parquet(whole)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(SourceUnreadable, match=r"truncated\.parquet"):
        list(open_source(SourceSpec(kind="parquet", path=str(truncated))).iter_chunks(["email"]))


def test_truncated_csv_with_open_quote_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_text('email,city\na@b.com,Shanghai\n"c@d.com,Shen', encoding="utf-8")
    with pytest.raises(SourceUnreadable, match=r"cut\.csv.*(EOF|partially written)"):
        list(open_source(SourceSpec(kind="csv", path=str(path))).iter_chunks(["email"]))


def test_csv_cut_off_mid_row_is_unreadable(tmp_path: Path) -> None:
    """A last row with fewer fields and no line ending is a partial write, not a member."""
    path = tmp_path / "partial.csv"
    path.write_text("email,city,tier\na@b.com,Shanghai,1\nc@d.com,Shen", encoding="utf-8")
    with pytest.raises(SourceUnreadable, match=r"partial\.csv.*2 of 3 fields.*partially written"):
        list(open_source(SourceSpec(kind="csv", path=str(path))).iter_chunks(["email"]))
    complete = tmp_path / "complete.csv"
    complete.write_text("email,city,tier\na@b.com,Shanghai,1\nc@d.com,Shen,2", encoding="utf-8")
    rows = list(open_source(SourceSpec(kind="csv", path=str(complete))).iter_chunks(["email"]))
    assert sum(len(r) for r in rows) == 2  # no line ending but every field: a complete file


def test_csv_row_with_extra_fields_is_unreadable_and_named(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("email,city\na@b.com,Shanghai\nc@d.com,x,y\n", encoding="utf-8")
    with pytest.raises(SourceUnreadable, match=r"ragged\.csv.*line 3"):
        list(open_source(SourceSpec(kind="csv", path=str(path))).iter_chunks(["email"]))


def test_empty_and_undecodable_csv_are_unreadable(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SourceUnreadable, match=r"empty\.csv: file is empty"):
        open_source(SourceSpec(kind="csv", path=str(empty))).columns()
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("email,city\na@b.com,北京\n".encode("gbk"))
    with pytest.raises(SourceUnreadable, match=r"gbk\.csv"):
        list(open_source(SourceSpec(kind="csv", path=str(gbk))).iter_chunks(["city"]))
    spec = SourceSpec(kind="csv", path=str(gbk), encoding="gbk")
    assert _read_all(open_source(spec), ["city"], 10)["city"].tolist() == ["北京"]


def test_unreachable_database_masks_password() -> None:
    spec = SourceSpec(
        kind="sql", url="postgresql+psycopg://gy:s3cret@127.0.0.1:1/members", table="members"
    )
    with pytest.raises(SourceUnreadable) as caught:
        open_source(spec).columns()
    message = str(caught.value)
    assert "s3cret" not in message and "***" in message and "127.0.0.1" in message
    assert spec.describe() == "sql postgresql+psycopg://gy:***@127.0.0.1:1/members table members"


def test_missing_table_is_not_found(tmp_path: Path) -> None:
    spec = SourceSpec(kind="sql", url=f"sqlite:///{tmp_path / 'x.db'}", table="nope")
    with pytest.raises(SourceNotFound, match="table nope"):
        open_source(spec).columns()


def test_spec_rejects_incomplete_sources() -> None:
    with pytest.raises(SourceSpecError):
        SourceSpec(kind="csv")
    with pytest.raises(SourceSpecError):
        SourceSpec(kind="sql", url="sqlite://")
    with pytest.raises(SourceSpecError):
        SourceSpec(kind="sql", url="sqlite://", table="t", query="SELECT 1")
    with pytest.raises(SourceSpecError, match="FrameSource"):
        open_source(SourceSpec(kind="dataframe"))
    with pytest.raises(ValueError, match="chunk_rows"):
        list(FrameSource(pd.DataFrame({"a": [1]})).iter_chunks(["a"], 0))
