"""The page without a deployment: an empty history, and settlement shares when a settlement
table holds some (the chart's data is exactly the table's rows)."""

from __future__ import annotations

import http.client
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from sqlalchemy import text

from coordinator.config import CoordinatorConfig
from coordinator.dashboard import DashboardServer
from coordinator.dashboard_config import DashboardSettings
from coordinator.dashboard_data import Collector
from coordinator.dashboard_page import render_dashboard
from coordinator.history import HistoryStore
from tests.insights.test_report import parse

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def specs(document: str) -> dict[str, dict[str, object]]:
    start = document.index('<script type="application/json" id="specs">') + 43
    data = document[start : document.index("</script>", start)].replace("<\\/", "</")
    loaded: dict[str, dict[str, object]] = json.loads(data)
    return loaded


def collector(tmp_path: Path) -> Collector:
    config = CoordinatorConfig(
        listen="127.0.0.1:0", parties={"brand": "127.0.0.1:1", "retailer_a": "127.0.0.1:2"}
    )
    settings = DashboardSettings(listen="127.0.0.1:0", users=tmp_path / "users.toml")
    return Collector(config, settings, {}, None, HistoryStore(str(tmp_path / "history.db")))


def test_an_empty_history_renders_with_nothing_measured(tmp_path: Path) -> None:
    source = collector(tmp_path)
    document = render_dashboard(source.snapshot(NOW), "en", "ops")
    parse(document)  # tags nest and close
    assert 'id="no-trends"' in document and "No settlement statements recorded yet." in document
    assert document.count("not measured") == 4
    assert "The coordinator keeps no audit log." in document
    assert set(specs(document)) == {"queries", "budget"}
    source.store.close()


def test_settlement_shares_are_drawn_from_the_settlement_table(tmp_path: Path) -> None:
    source = collector(tmp_path)
    rows = [("2026-09", "brand", 0.4), ("2026-09", "retailer_a", 0.6), ("2026-10", "brand", 0.5)]
    with source.store.engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE settlement_shares (period TEXT, party TEXT, share REAL)")
        )
        for row in rows:
            connection.execute(
                text("INSERT INTO settlement_shares VALUES (:p, :q, :s)"),
                dict(zip("pqs", row, strict=True)),
            )
    document = render_dashboard(source.snapshot(NOW), "zh-CN", "ops")
    chart = specs(document)["settlement"]
    assert chart["data"] == {"values": [{"period": p, "party": q, "share": s} for p, q, s in rows]}
    assert 'data-spec="settlement"' in document and "结算份额趋势" in document
    source.store.close()


def test_a_broken_users_file_refuses_sign_in_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "users.toml").write_text('[users.ops]\npassword = "plain text"\n')
    source = collector(tmp_path)
    server = DashboardServer(source.settings, source, lambda: NOW)
    try:
        parts = urlsplit(server.url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        body = urlencode({"user": "ops", "password": "plain text"})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/login", body, headers)
        response = connection.getresponse()
        assert response.status == 503 and response.getheader("Set-Cookie") is None
        assert b"the users file cannot be read" in response.read()
        connection.close()
    finally:
        server.stop()
        source.store.close()
