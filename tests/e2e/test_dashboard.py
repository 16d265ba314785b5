"""The dashboard as a person uses it: real headless Chromium (Debian's chromium and chromedriver,
driven by Selenium) opens /_mock/ on a real ``mock-sprinto serve --admin-token``, watches pages
arrive, clicks "+61 min", opens a finding's evidence, reads refused and injected answers in a
session's timeline, follows the links into the docs. Screenshots go to ``tests/e2e/artifacts/``
(git-ignored; CI keeps the folder), one per step, named after the test: look at them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from haralyzer import HarParser

from .test_cli import Server, start

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "dash-t0ken"
XSS = "<img src=x onerror=window.__xss=1>"

# CI installs Chromium and its driver (.ci/run) and sets REQUIRE_CHROMIUM, so there a missing one fails.
pytestmark = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None) and not os.environ.get("REQUIRE_CHROMIUM"),
    reason="Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)",
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture
def guarded() -> Iterator[Server]:
    running = start("--admin-token", TOKEN, "--processing-seconds", "0")
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """A Chromium of its own (a fresh profile), 1,400 × 1,000, quit afterwards."""
    assert CHROMIUM and CHROMEDRIVER, "REQUIRE_CHROMIUM is set but chromium or chromedriver is missing"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1000", f"--user-data-dir={profile}"):  # fmt: skip
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def shot(browser: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save a full-page screenshot as tests/e2e/artifacts/<test>-<step>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(step: str) -> Path:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1400, max(1000, min(int(height) + 40, 6000)))
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000, path  # a rendered page, not a blank one
        return path

    return save


def wait_for(browser: Any, condition: Callable[[], Any], what: str, timeout: float = 10) -> Any:
    """``condition`` until it holds; the page re-renders a section when its data changes, so an
    element found a moment ago may be gone: that is a retry, not a failure."""
    waiting = WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,))
    return waiting.until(lambda _: condition(), message=f"never saw {what}")


def click(browser: Any, css: str) -> None:
    """Click what ``css`` selects, as a person would, once it is there."""
    wait_for(browser, lambda: browser.find_element(By.CSS_SELECTOR, css).click() or True, css)


def texts(browser: Any, css: str) -> list[str]:
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, css)]


def vendor(server: Server, integration: str, key: str = "k") -> Callable[..., tuple[int, Any]]:
    base = f"/api/external/push/v1/integrations/{integration}"

    def call(method: str, tail: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return server.call(method, base + tail, body, {"api-key": key, **(headers or {})})

    return call


def in_session(session_id: str, css: str = "") -> str:
    return f'details[data-key="session:{session_id}"] {css}'.strip()


def user(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "employeeId": f"E{i}",
        "firstName": "Alice",
        "lastName": "Johnson",
        "workEmail": f"alice{i}@example.com",
        "employmentStartDate": "2022-01-15T09:00:00Z",
        "employmentType": "EMPLOYEE",
        **fields,
    }


def test_a_person_watches_a_sync_expire_and_reads_the_judges_evidence(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    # Without the token the page is refused; with it in the URL, a cookie opens it.
    browser.get(f"{guarded.origin}/_mock/")
    assert "admin_token_required" in browser.page_source
    browser.get_log("browser")  # that 401 was the point; every later console error is a bug
    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    assert browser.current_url == f"{guarded.origin}/_mock/"  # the token left the address bar
    empty = wait_for(browser, lambda: browser.find_element(By.ID, "empty").is_displayed(), "the empty state")
    assert empty
    quickstart = browser.find_element(By.ID, "quickstart").text
    assert f"BASE={guarded.origin}/api/external/push/v1/integrations/demo" in quickstart and "curl" in quickstart
    links = {a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#empty a")}
    assert f"{guarded.origin}/_mock/openapi.json" in links and f"{guarded.origin}/_mock/readme#quickstart" in links
    shot("empty")

    # A page pushed from the test appears, live.
    call = vendor(guarded, "dash-live")
    _, session = call("POST", "/sessions")
    sid = session["id"]
    assert call("POST", f"/sessions/{sid}/entities", {"page_hint": 1, "entities": {"User": [user(1)]}})[0] == 202
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: texts(browser, in_session(sid, 'tr[data-page="1"].accepted td')), "page 1, accepted")
    assert texts(browser, in_session(sid, 'tr[data-page="1"] td'))[1:5] == ["accepted", "1", "User 1", "1"]

    # An invalid page shows its errors, each with its JSON pointer.
    bad = {"page_hint": 2, "entities": {"User": [user(2, employmentType="INTERN")]}}
    assert call("POST", f"/sessions/{sid}/entities", bad)[0] == 400
    wait_for(browser, lambda: texts(browser, in_session(sid, 'tr[data-page="2"].rejected')), "page 2, rejected")
    assert texts(browser, in_session(sid, ".pointer")) == ["/entities/User/0/employmentType"]
    assert "is not one of" in texts(browser, in_session(sid, ".issue"))[0]
    shot("pages")

    # "+61 min" on this integration's clock: the session expires before our eyes.
    click(browser, '#integration button[data-advance="3660"]')
    wait_for(browser, lambda: texts(browser, in_session(sid, "summary .badge")) == ["expired"], "expiry")
    timeline = [
        li.get_attribute("data-type") for li in browser.find_elements(By.CSS_SELECTOR, in_session(sid, ".timeline li"))
    ]
    assert timeline == ["session_created", "page_accepted", "page_rejected", "session_expired"]

    # The judge's finding, opened: its evidence names the session, its advice is there.
    finding = 'details[data-key="finding:session_left_to_expire"]'
    click(browser, finding + " summary")
    wait_for(browser, lambda: any(sid in t for t in texts(browser, finding + " tr.evidence")), "the evidence")
    assert "advice" in texts(browser, finding)[0]
    assert texts(browser, 'tr[data-behaviour="session_expired"] td')[1] == "met"
    shot("expired")

    # The journal: the rule column, and a filter by status.
    browser.find_element(By.ID, "f-status").send_keys("400")
    wait_for(browser, lambda: set(texts(browser, "#journal tbody tr td:nth-child(3)")) == {"400"}, "only 400s")
    # The page's "its journal as HAR" link, fetched as the browser would (with its cookie), is a
    # HAR that a HAR library reads, secrets redacted.
    link = browser.find_element(By.ID, "har-one").get_attribute("href")
    assert link == f"{guarded.origin}/_mock/journal.har?integration_id=dash-live"
    fetched = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then((r) => r.text()).then(done);", link
    )
    entries = HarParser(json.loads(fetched)).har_data["entries"]
    assert [e["_operation"] for e in entries] == ["start_session", "push_page", "push_page"]
    assert "[redacted]" in fetched and '"api-key","value":"k"' not in fetched.replace(" ", "")
    errors = [e for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == [], errors


def test_a_page_a_scenario_rejected_shows_as_rejected_and_names_the_rule(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    # The client was told its page was rejected; the session showed "0 rejected" and no such page.
    call = vendor(guarded, "dash-rule")
    _, session = call("POST", "/sessions")
    sid = session["id"]
    page = {"page_hint": 1, "entities": {"User": [user(1)]}}
    assert call("POST", f"/sessions/{sid}/entities", page, {"Prefer": "code=400"})[0] == 400
    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    browser.get(f"{guarded.origin}/_mock/#integration=dash-rule")
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: texts(browser, in_session(sid, 'tr[data-page="1"].rejected')), "page 1, rejected")
    assert "0 pages accepted, 1 rejected" in texts(browser, in_session(sid, "summary"))[0]
    said = texts(browser, in_session(sid, ".page-errors p"))
    assert said[0] == "answered as the request's Prefer header asked (code=400)"
    assert texts(browser, in_session(sid, ".page-errors .rule")) == [
        "rejected as the request's Prefer header asked: code=400"
    ]
    shot("rule")
    errors = [e for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == [], errors


def test_data_from_the_client_is_text_in_every_view(guarded: Server, browser: Any, shot: Callable[[str], Path]) -> None:
    call = vendor(guarded, "dash-xss")
    _, session = call("POST", "/sessions", {"client_reference_id": XSS})
    sid = session["id"]
    page = {"page_hint": XSS, "entities": {"User": [user(1, firstName=XSS, role=XSS)]}}
    assert call("POST", f"/sessions/{sid}/entities", page)[0] == 202
    assert (
        call(
            "POST", f"/sessions/{sid}/entities", {"page_hint": XSS, "entities": {"User": [user(2, employmentType=XSS)]}}
        )[0]
        == 400
    )
    assert call("POST", f"/sessions/{sid}/close", {"status": "apply"})[0] == 202
    rule = {"match": {"operation": "get_session"}, "respond": {"status": 503}}
    scenario = {"name": "xss", "description": XSS, "rules": [rule]}
    guarded.call("PUT", "/_mock/integrations/dash-xss/scenario", scenario, {"Authorization": f"Bearer {TOKEN}"})

    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    browser.get(f"{guarded.origin}/_mock/#integration=dash-xss")
    wait_for(browser, lambda: texts(browser, "table.records tr.record"), "the applied records")
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: texts(browser, in_session(sid, ".issue")), "the errors")
    for where in ("table.records", in_session(sid, ".page-hint"), ".client-ref", ".issue", "#scenario"):
        assert any(XSS in text for text in texts(browser, where)), (where, texts(browser, where))
    assert browser.execute_script("return window.__xss") is None  # nothing ran
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []  # and no element was made of it
    shot("escaped")


def test_a_failed_session_is_marked_and_records_are_browsed_page_by_page(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    admin = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.call("PUT", "/_mock/integrations/dash-fails/scenario", "processing-fails", admin)[0] == 200
    failing = vendor(guarded, "dash-fails")
    _, doomed = failing("POST", "/sessions")
    assert (
        failing("POST", f"/sessions/{doomed['id']}/entities", {"page_hint": 1, "entities": {"User": [user(1)]}})[0]
        == 202
    )
    assert failing("POST", f"/sessions/{doomed['id']}/close", {"status": "apply"})[0] == 202
    applied = vendor(guarded, "dash-records")
    _, session = applied("POST", "/sessions")
    page = {"page_hint": 1, "entities": {"User": [user(i) for i in range(1, 26)]}}
    assert applied("POST", f"/sessions/{session['id']}/entities", page)[0] == 202
    assert applied("POST", f"/sessions/{session['id']}/close", {"status": "apply"})[0] == 202

    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    click(browser, 'tr[data-integration="dash-fails"] button')
    click(browser, '#integration button[data-advance="60"]')  # processing falls due, and fails twice
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, in_session(doomed["id"]) + ".failed"), "failed")
    click(browser, in_session(doomed["id"], "summary"))
    wait_for(browser, lambda: texts(browser, in_session(doomed["id"], ".last-error")), "last_error")
    assert texts(browser, in_session(doomed["id"], ".last-error"))[0].startswith("last_error: ")
    wait_for(browser, lambda: "1 failed" in texts(browser, 'tr[data-integration="dash-fails"]')[0], "the mark")
    timeline = [
        li.get_attribute("data-type")
        for li in browser.find_elements(By.CSS_SELECTOR, in_session(doomed["id"], ".timeline li"))
    ]
    activity = [kind for kind in timeline if kind != "answer"]  # the journal's answers interleave by time
    assert activity[-1] == "session_failed" and "processing_retry" in activity
    assert set(texts(browser, "#scenario tr[data-rule] td:nth-child(4)")) != {"0"}  # its rules fired
    shot("failed")

    # The global "+1 day" moves every integration's clock.
    before = browser.find_element(By.ID, "now").text
    click(browser, 'header button[data-advance="86400"]')
    wait_for(browser, lambda: browser.find_element(By.ID, "now").text[:10] != before[:10], "the next day")
    click(browser, 'tr[data-integration="dash-records"] button')
    wait_for(browser, lambda: any("1–20 of 25" in t for t in texts(browser, "#records .row span")), "records 1-20")
    assert len(texts(browser, "table.records tr.record")) == 20
    click(browser, "#records button:last-child")  # "next"
    wait_for(browser, lambda: any("21–25 of 25" in t for t in texts(browser, "#records .row span")), "records 21-25")
    assert texts(browser, "table.records tr.record td:first-child") == ["E21", "E22", "E23", "E24", "E25"]
    Select(browser.find_element(By.ID, "f-integration")).select_by_value("dash-records")
    wait_for(browser, lambda: set(texts(browser, "#journal tbody td:nth-child(6)")) == {"dash-records"}, "the filter")
    assert (
        browser.find_element(By.ID, "har-filtered")
        .get_attribute("href")
        .endswith("journal.har?integration_id=dash-records")
    )
    shot("records")


def fits_the_window(browser: Any) -> bool:
    """No page-wide horizontal scrollbar: what is wide scrolls inside its own card."""
    return bool(browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def broken_values(browser: Any) -> list[str]:
    """Timestamps and ids split over two lines (``2026-12-`` / ``04T14:25:14.698Z``)."""
    found: list[str] = browser.execute_script(
        "return [...document.querySelectorAll('.at, code.id')]"
        ".filter((e) => e.offsetParent !== null && e.getClientRects().length > 1).map((e) => e.textContent);"
    )
    return found


def test_a_timeline_shows_refused_and_injected_answers_and_every_integration_its_findings(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    # Another integration's client leaves a session active and polls it too fast: two findings,
    # the second with a list of request ids as evidence.
    other = vendor(guarded, "hr-newcomer-elsewhere")
    _, left = other("POST", "/sessions")
    for _ in range(5):
        assert other("GET", f"/sessions/{left['id']}")[0] == 200
    call = vendor(guarded, "hr-newcomer")
    _, session = call("POST", "/sessions")
    sid = session["id"]
    assert call("POST", f"/sessions/{sid}/entities", {"page_hint": 1, "entities": {"User": [user(1)]}})[0] == 202
    assert call("POST", "/sessions")[1]["code"] == "session_already_active"  # names the active session
    prefer = {"Prefer": "code=503"}
    assert call("POST", f"/sessions/{sid}/entities", {"entities": {"User": [user(2)]}}, prefer)[0] == 503
    assert call("POST", f"/sessions/{sid}/close", {"action": "apply"})[1]["code"] == "invalid_close_status"
    assert call("POST", f"/sessions/{sid}/close", {"status": "apply"})[0] == 202
    assert (
        call("POST", f"/sessions/{sid}/entities", {"entities": {"User": [user(3)]}})[1]["code"] == "session_not_active"
    )
    for _ in range(5):
        call("GET", f"/sessions/{sid}")

    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    browser.get(f"{guarded.origin}/_mock/#integration=hr-newcomer")
    # The findings column is filled for every integration, not only the one shown.
    for integration in ("hr-newcomer", "hr-newcomer-elsewhere"):
        cell = f'tr[data-integration="{integration}"] td.findings'
        wait_for(browser, lambda cell=cell: texts(browser, cell)[:1] != [] and texts(browser, cell)[0].isdigit(), cell)
    assert int(texts(browser, 'tr[data-integration="hr-newcomer-elsewhere"] td.findings')[0]) >= 2

    # The session's timeline holds what the journal alone showed as a bare code, with its meaning.
    click(browser, in_session(sid, "summary"))
    answers = in_session(sid, '.timeline li[data-type="answer"]')
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, answers)) == 4, "four answers")
    codes = [li.get_attribute("data-code") for li in browser.find_elements(By.CSS_SELECTOR, answers)]
    assert codes == ["session_already_active", "service_unavailable", "invalid_close_status", "session_not_active"]
    lines = texts(browser, answers)
    assert "start answered 409" in lines[0] and "a start while the integration has an active session" in lines[0]
    assert "push answered 503" in lines[1] and "fired: Prefer: code=503" in lines[1]
    assert "close answered 400" in lines[2] and "a close without status apply or discard" in lines[2]
    assert "push answered 409" in lines[3] and "a push to a session that is not active" in lines[3]
    kinds = [
        li.get_attribute("data-type") for li in browser.find_elements(By.CSS_SELECTOR, in_session(sid, ".timeline li"))
    ]
    assert kinds[:3] == ["session_created", "page_accepted", "answer"] and "session_processing" in kinds

    # A finding whose evidence is a list of request ids wraps inside its card.
    finding = 'details[data-key="finding:status_polled_too_fast"]'
    click(browser, finding + " summary")
    wait_for(browser, lambda: any("request_ids: req_" in t for t in texts(browser, finding + " td.more")), "the ids")
    assert fits_the_window(browser), "a page-wide horizontal scrollbar"
    assert broken_values(browser) == []
    shot("timeline")

    # The other integration, picked: its count was right before it was shown.
    click(browser, 'tr[data-integration="hr-newcomer-elsewhere"] button')
    wait_for(browser, lambda: texts(browser, "#integration-id") == ["hr-newcomer-elsewhere"], "the other one")
    assert fits_the_window(browser) and broken_values(browser) == []
    shot("other")
    errors = [e for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == [], errors


def test_a_long_run_shows_its_newest_sessions_and_last_pages_and_says_what_it_left_out(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    # A session of 205 pages, then 21 more sessions: the overview the page polls holds the newest
    # 20 sessions, the last 100 pages of each and the last 200 activity items (issue 22).
    call = vendor(guarded, "dash-long")
    _, long = call("POST", "/sessions")
    lid = long["id"]
    for n in range(1, 206):
        assert call("POST", f"/sessions/{lid}/entities", {"page_hint": n, "entities": {"User": [user(n)]}})[0] == 202
    assert call("POST", f"/sessions/{lid}/close", {"status": "apply"})[0] == 202
    for _ in range(21):
        _, session = call("POST", "/sessions")
        assert call("POST", f"/sessions/{session['id']}/close", {"status": "discard"})[0] == 202
    admin = {"Authorization": f"Bearer {TOKEN}"}
    logged = len(guarded.call("GET", "/_mock/integrations/dash-long/activity", headers=admin)[1]["items"])
    assert logged > 200

    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    browser.get(f"{guarded.origin}/_mock/#integration=dash-long")
    note = "#sessions p.sessions-left-out"
    wait_for(browser, lambda: texts(browser, note), "the sessions left out, said")
    assert texts(browser, note)[0].startswith("the newest 20 of 22 sessions (all of them as JSON)")
    assert len(browser.find_elements(By.CSS_SELECTOR, "details.session")) == 20
    assert not browser.find_elements(By.CSS_SELECTOR, in_session(lid))  # the oldest is not shown
    link = browser.find_element(By.CSS_SELECTOR, note + " a").get_attribute("href")
    assert link == f"{guarded.origin}/_mock/integrations/dash-long/sessions"
    fetched = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then((r) => r.json()).then(done);", link
    )
    assert len(fetched["sessions"]) == 22  # the full view, with the page's cookie
    activity_note = "#activity-note p.activity-left-out"
    wait_for(browser, lambda: texts(browser, activity_note), "the activity left out, said")
    assert texts(browser, activity_note)[0] == f"the last 200 of {logged} items (the whole log as JSON)"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#activity tbody tr")) == 200
    shot("newest")

    # "show 20 more": every session is there, and the note is gone.
    click(browser, note + " button.more-sessions")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, in_session(lid)), "the oldest session")
    assert len(browser.find_elements(By.CSS_SELECTOR, "details.session")) == 22
    assert browser.find_elements(By.CSS_SELECTOR, note) == []

    # The long session holds its last 100 pages, and says so; its timeline says where it is cut.
    click(browser, in_session(lid, "summary"))
    pages_note = in_session(lid, "p.pages-left-out")
    wait_for(browser, lambda: texts(browser, pages_note), "the pages left out, said")
    assert texts(browser, pages_note) == ["the last 100 of 205 pages (the whole session as JSON)"]
    href = browser.find_element(By.CSS_SELECTOR, pages_note + " a").get_attribute("href")
    assert href == f"{guarded.origin}/_mock/integrations/dash-long/sessions/{lid}"
    ordinals = [
        tr.get_attribute("data-page") for tr in browser.find_elements(By.CSS_SELECTOR, in_session(lid, "tr[data-page]"))
    ]
    assert ordinals == [str(n) for n in range(106, 206)]
    kinds = [
        li.get_attribute("data-type") for li in browser.find_elements(By.CSS_SELECTOR, in_session(lid, ".timeline li"))
    ]
    assert kinds[:3] == ["session_created", "left-out", "page_accepted"] and kinds.count("page_accepted") == 100
    assert (
        "the events of 105 earlier pages are left out" in texts(browser, in_session(lid, 'li[data-type="left-out"]'))[0]
    )
    assert fits_the_window(browser) and broken_values(browser) == []
    shot("long-session")
    errors = [e for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == [], errors


def test_a_few_sessions_are_listed_with_nothing_before_them_and_no_markdown_shown(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    # Three sessions (no note that some are left out): one applied, one discarded, the last
    # active, whose push was throttled and whose close forgot its status.
    call = vendor(guarded, "dash-few")
    for status in ("apply", "discard"):
        _, done = call("POST", "/sessions")
        assert call("POST", f"/sessions/{done['id']}/close", {"status": status})[0] == 202
    _, session = call("POST", "/sessions")
    sid = session["id"]
    throttled = call("POST", f"/sessions/{sid}/entities", {"entities": {"User": [user(1)]}}, {"Prefer": "code=429"})
    assert throttled[0] == 429
    assert call("POST", f"/sessions/{sid}/close", {"action": "apply"})[1]["code"] == "invalid_close_status"

    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    browser.get(f"{guarded.origin}/_mock/#integration=dash-few")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "details.session")) == 3, "three sessions")
    # was "null" above the first session: the missing note, made text
    assert not browser.execute_script(
        "return [...document.getElementById('sessions').childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)"
        ".map((n) => n.textContent).join('')"
    )
    assert not texts(browser, "#sessions")[0].startswith("null")
    assert browser.find_elements(By.CSS_SELECTOR, "#sessions p.sessions-left-out") == []

    # The error codes' meanings and the judge's advice read as text, their code spans as code.
    click(browser, in_session(sid, "summary"))
    throttle = in_session(sid, '.timeline li[data-code="rate_limited"]')
    wait_for(browser, lambda: texts(browser, throttle), "the 429 in the timeline")
    assert "push answered 429 rate_limited: throttled: retry after Retry-After seconds" in texts(browser, throttle)[0]
    assert "Retry-After" in texts(browser, throttle + " code")
    finding = 'details[data-key="finding:close_without_status"]'
    click(browser, finding + " summary")
    wait_for(browser, lambda: "advice" in texts(browser, finding)[0], "the advice")
    advice = texts(browser, finding + " p")[0]
    assert 'Close takes {"status": "apply"} or {"status": "discard"}: status is Required' in advice
    assert "`" not in texts(browser, "#integration")[0], "Markdown backticks shown as text"
    shot("few")
    errors = [e for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == [], errors


def test_an_integration_clock_behind_the_server_s_reads_as_behind(guarded: Server, browser: Any) -> None:
    # A state bundle taken two minutes earlier, imported: the integration's clock stands behind.
    call = vendor(guarded, "hr-restored")
    assert call("POST", "/sessions")[0] == 201
    admin = {"Authorization": f"Bearer {TOKEN}"}
    status, bundle = guarded.call("GET", "/_mock/integrations/hr-restored/state", headers=admin)
    assert status == 200
    bundle["integrations"][0]["clock"]["now"] -= 120
    assert guarded.call("PUT", "/_mock/integrations/hr-restored/state", bundle, admin)[0] == 200

    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    browser.get(f"{guarded.origin}/_mock/#integration=hr-restored")
    wait_for(browser, lambda: texts(browser, "#integration-id") == ["hr-restored"], "the restored integration")
    # was "(+-120.00943112373352 s)"
    assert texts(browser, "#integration-offset") == ["(−120 s)"]


def test_the_docs_the_dashboard_links_to_are_pages_a_person_can_read(
    guarded: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    browser.get(f"{guarded.origin}/_mock/?token={TOKEN}")
    wait_for(browser, lambda: browser.find_element(By.ID, "empty").is_displayed(), "the empty state")
    click(browser, '#empty a[href="docs/getting-started"]')
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "h2#install-it-elsewhere"), "getting started")
    # Markdown rendered: tables are tables, code blocks are code, one paragraph is not one line.
    assert browser.find_elements(By.CSS_SELECTOR, "table th") and browser.find_elements(By.CSS_SELECTOR, "pre code")
    assert len(browser.find_elements(By.TAG_NAME, "p")) < 60
    assert "```" not in browser.find_element(By.TAG_NAME, "body").text
    assert fits_the_window(browser)
    shot("getting-started")

    # Its links lead to the other pages, anchors included; a file not served is its text, not a dead link.
    click(browser, 'a[href="pytest#asyncio-the-emulator-in-process"]')
    wait_for(
        browser, lambda: browser.current_url.endswith("/_mock/docs/pytest#asyncio-the-emulator-in-process"), "pytest"
    )
    assert browser.find_elements(By.ID, "asyncio-the-emulator-in-process")
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a")]
    assert all(h.startswith((f"{guarded.origin}/_mock/", "http://", "https://")) for h in hrefs), hrefs
    assert not any(h.endswith(".md") or "/tests/" in h for h in hrefs), hrefs
    shot("pytest")

    # The reference's wide tables scroll inside themselves; a client's text in the docs is text.
    browser.get(f"{guarded.origin}/_mock/docs/reference")
    wait_for(browser, lambda: browser.find_elements(By.ID, "rules"), "the reference")
    assert fits_the_window(browser)
    browser.get(f"{guarded.origin}/_mock/docs/control-api")
    wait_for(browser, lambda: browser.find_elements(By.ID, "the-dashboard"), "the control API page")
    assert "<img src=x onerror=...>" in browser.find_element(By.TAG_NAME, "body").text
    assert browser.find_elements(By.TAG_NAME, "img") == []
    click(browser, "nav a")  # back to the dashboard
    wait_for(browser, lambda: browser.current_url == f"{guarded.origin}/_mock/", "the dashboard")
    shot("back")
