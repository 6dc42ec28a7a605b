"""The dashboard over real HTTP: sign-in required, wrong passwords refused, and the numbers on
the page equal what the schedules ran (the history) and the files' truth (the oracle)."""

from __future__ import annotations

import http.client
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from coordinator.dashboard_data import integrity_of
from coordinator.dashboard_users import load_users
from runtime.audit import SignedHead, StoredRecord, load_public_key
from tests.insights.test_report import parse
from tests.workspace.cluster import (
    BRAND,
    BUDGET_B,
    PARTIES,
    PASSWORD,
    RETAILER_A,
    RETAILER_B,
    USER,
    Workspace,
)


def request(
    workspace: Workspace,
    method: str,
    path: str,
    body: dict[str, str] | None = None,
    cookie: str = "",
) -> http.client.HTTPResponse:
    parts = urlsplit(workspace.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    if cookie:
        headers["Cookie"] = cookie
    connection.request(method, path, urlencode(body) if body else None, headers)
    response = connection.getresponse()
    response.read_body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


def sign_in(workspace: Workspace, password: str = PASSWORD) -> str:
    response = request(workspace, "POST", "/login", {"user": USER, "password": password})
    assert response.status == 303, response.status
    cookie = response.getheader("Set-Cookie") or ""
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    return cookie.split(";")[0]


def page(workspace: Workspace, cookie: str, lang: str = "en") -> str:
    response = request(workspace, "GET", f"/?lang={lang}", cookie=cookie)
    assert response.status == 200
    assert "script-src 'self'" in (response.getheader("Content-Security-Policy") or "")
    return str(response.read_body.decode())  # type: ignore[attr-defined]


def table(document: str, css: str) -> list[list[str]]:
    """The body rows of the table with class `css`."""
    start = document.index(f'<table class="{css}">')
    end = document.index("</table>", start) + len("</table>")
    return parse(document[start:end]).rows[1:]


def test_the_page_needs_a_sign_in(workspace: Workspace) -> None:
    response = request(workspace, "GET", "/")
    assert response.status == 303 and response.getheader("Location", "").startswith("/login")
    assert request(workspace, "GET", "/", cookie="gongying_session=forged").status == 303
    assert request(workspace, "GET", "/login").status == 200
    assert request(workspace, "GET", "/static/vega-embed.min.js").status == 200  # served locally


def test_a_wrong_password_or_unknown_user_is_refused(workspace: Workspace) -> None:
    for user, password in ((USER, "not the password"), ("nobody", PASSWORD), (USER, "")):
        response = request(workspace, "POST", "/login", {"user": user, "password": password})
        assert response.status == 401
        assert response.getheader("Set-Cookie") is None
        assert b"Wrong user name or password" in response.read_body  # type: ignore[attr-defined]
    assert load_users(workspace.root / "dashboard.users.toml")[USER].startswith("scrypt$")
    assert PASSWORD not in (workspace.root / "dashboard.users.toml").read_text()


def test_repeated_failures_lock_the_name_out(workspace: Workspace) -> None:
    name = "locked-out-user"
    codes = [
        request(workspace, "POST", "/login", {"user": name, "password": "x"}).status
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_signing_out_ends_the_session(workspace: Workspace) -> None:
    cookie = sign_in(workspace)
    page(workspace, cookie)
    assert request(workspace, "POST", "/logout", cookie=cookie).status == 303
    assert request(workspace, "GET", "/", cookie=cookie).status == 303


def test_the_numbers_are_what_ran(workspace: Workspace) -> None:
    document = page(workspace, sign_in(workspace))
    store = workspace.coordinator.workspace.store
    assert store is not None
    runs = store.runs()

    partners = {row[0]: row for row in table(document, "partners")}
    assert set(partners) == set(PARTIES)
    assert all(row[2] == "serving" for row in partners.values())

    activity = {row[0]: row[1:] for row in table(document, "activity")}
    for party in PARTIES:
        mine = Counter(run.outcome for run in runs if party in run.parties)
        expected = [str(sum(mine.values())), *(str(mine[o]) for o in ("released", "refused"))]
        assert activity[party][:3] == expected, party
        assert activity[party][3] == str(mine["failed"])
    # retailer_b charged 0.5 for each released retailer_a query; its agreed budget is 2.0
    spent = 0.5 * sum(r.outcome == "released" for r in runs if r.schedule == "ab_daily")
    assert activity[RETAILER_B][4:] == [
        f"{spent:.2f}",
        f"{BUDGET_B:.2f}",
        f"{100 * (1 - spent / BUDGET_B):.1f}%",
    ]
    assert activity[BRAND][4:] == ["0.00", "—", "—"]

    integrity = {row[0]: row for row in table(document, "integrity")}
    for party in PARTIES:
        assert integrity[party][1] == str(sum(party in run.parties for run in runs))
        assert integrity[party][4] == "yes"
    for party in (BRAND, RETAILER_A):
        assert integrity[party][5] == f"{integrity[party][1]}/{integrity[party][1]} valid"
    assert integrity[RETAILER_B][5] == "no key"
    assert "verified" in document and "0 faults" not in document

    schedules = {row[0]: row[1:] for row in table(document, "schedules")}
    assert schedules["ab_daily"][:4] == ["3", "2", "1", "0"]
    assert schedules["unsigned"][:4] == ["3", "0", "3", "0"]
    assert schedules["monthly_overlap"][4:] == ["2026-11-01", "released"]

    truth, before = workspace.truths[-1], workspace.truths[-2]
    latest = {row[0]: row[1:] for row in table(document, "latest")}
    for partner in (RETAILER_A, RETAILER_B):
        shared = truth.pair(BRAND, partner)
        assert latest[partner] == [f"{shared:,}", f"{truth.sizes[partner] - shared:,}"]

    scorecard = {row[0]: row[1:3] for row in table(document, "scorecard")}
    total = truth.pair(BRAND, RETAILER_A) + truth.pair(BRAND, RETAILER_B)
    previous = before.pair(BRAND, RETAILER_A) + before.pair(BRAND, RETAILER_B)
    growth = (total - previous) / previous
    assert scorecard["Overlap growth (last period)"] == [
        f"{100 * growth:.1f}%",
        "green" if growth >= 0.2 else "amber" if growth >= 0.0 else "red",
    ]
    new = sum(n for members, n in truth.regions.items() if BRAND not in members)
    reach = next(v for k, v in scorecard.items() if k.startswith("New-customer reach"))
    assert reach == [f"{new / truth.sizes[BRAND]:.3f}", "no rule"]
    refused = sum(run.outcome == "refused" for run in runs)
    rate = refused / len(runs)
    assert scorecard["Refusal rate"] == [
        f"{100 * rate:.1f}%",
        "green" if rate <= 0.05 else "amber" if rate <= 0.5 else "red",
    ]
    headroom = 1 - spent / BUDGET_B
    assert scorecard["Budget headroom (lowest partner)"] == [f"{100 * headroom:.1f}%", "no rule"]
    assert "No settlement statements recorded yet." in document


def test_the_page_speaks_chinese(workspace: Workspace) -> None:
    document = page(workspace, sign_in(workspace), lang="zh-CN")
    assert '<html lang="zh-CN">' in document
    for words in ("联营健康度仪表盘", "健康度评分卡", "审计日志完整性", "尚无结算单记录"):
        assert words in document


def test_a_forged_or_rolled_back_head_shows(workspace: Workspace) -> None:
    audit = workspace.coordinator.service.audit
    assert audit is not None
    records = list(audit.records())
    keys = {p: load_public_key(workspace.root / f"certs/{p}.sign.pub") for p in PARTIES}
    honest = {i.party: i for i in integrity_of(records, PARTIES, keys)}
    brand_valid = honest[BRAND].valid
    assert brand_valid is not None
    assert all(i.consistent and i.valid == i.witnessed > 0 for i in honest.values())

    def altered(
        index: int, party: str, head: Callable[[SignedHead], SignedHead]
    ) -> list[StoredRecord]:
        stored = records[index]
        witnessed = tuple(
            replace(w, head=head(w.head)) if w.head.party == party else w
            for w in stored.record.witnessed
        )
        forged = replace(stored, record=replace(stored.record, witnessed=witnessed))
        return [*records[:index], forged, *records[index + 1 :]]

    last = max(
        i for i, s in enumerate(records) if any(w.head.party == BRAND for w in s.record.witnessed)
    )
    forged = {
        i.party: i
        for i in integrity_of(altered(last, BRAND, lambda h: replace(h, seq=1)), PARTIES, keys)
    }
    assert not forged[BRAND].consistent  # its log went back (or forked at seq 1)
    assert forged[BRAND].valid == brand_valid - 1  # and that head's signature fails
    assert forged[RETAILER_A] == honest[RETAILER_A]
    other_hash = altered(last, BRAND, lambda h: replace(h, hash="0" * 64))
    assert integrity_of(other_hash, PARTIES, keys)[0].valid == brand_valid - 1
