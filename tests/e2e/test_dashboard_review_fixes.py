"""The dashboard review's defects, each seen in a real headless Chromium as a person meets it: a
server that stopped under an open page, focus and a selection across the page's redraws, a bidi
control in a client's value, 128-character ids and 250-character page hints at 1,400 px, the
journal's limits and its status filter, a 420 px window, and the wording. Screenshots go to
``tests/e2e/artifacts/`` as in test_dashboard.py."""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .test_cli import Server, start
from .test_dashboard import (
    ARTIFACTS,
    click,
    fits_the_window,
    in_session,
    texts,
    user,
    vendor,
    wait_for,
)
from .test_dashboard import (
    pytestmark as needs_browser,  # the same skip: in CI (REQUIRE_CHROMIUM) a missing browser fails
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

LONG_ID = "x" * 60 + ".long-integration-id-" + "y" * 47  # 128 characters, the most an id may have


@pytest.fixture
def server() -> Iterator[Server]:
    running = start("--processing-seconds", "0")
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)


@pytest.fixture
def shot(browser: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """The window as it is (its size kept: the narrow test's shot is narrow)."""
    ARTIFACTS.mkdir(exist_ok=True)

    def save(step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        browser.save_screenshot(str(path))
        return path

    return save


def open_page(browser: Any, server: Server, integration: str) -> None:
    browser.get(f"{server.origin}/_mock/#integration={integration}")
    wait_for(browser, lambda: browser.execute_script("return document.body.dataset.refreshed"), "a refresh")


def uncaught(browser: Any) -> list[str]:
    """The console's uncaught errors (a refused connection's own network line is not one)."""
    return [e["message"] for e in browser.get_log("browser") if "Uncaught" in e["message"]]


def free_port() -> int:
    """A port of 19100-19199 that nothing listens on: the server is started there twice."""
    for port in range(19150, 19200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 19150-19199")


@needs_browser
def test_a_stopped_server_is_said_on_the_page_and_a_failed_click_too(browser: Any, shot: Callable[[str], Path]) -> None:
    port = free_port()
    running = start("--port", str(port))
    try:
        assert vendor(running, "watched")("POST", "/sessions")[0] == 201
        open_page(browser, running, "watched")
        wait_for(browser, lambda: texts(browser, "#integration-id") == ["watched"], "the integration")
        assert not browser.find_element(By.ID, "status").is_displayed()
        browser.get_log("browser")
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)

        # The page says the server is gone, when it went, and that it keeps trying.
        status = browser.find_element(By.ID, "status")
        wait_for(browser, lambda: status.is_displayed() and "cannot reach the server" in status.text, "the status")
        assert re.search(r"cannot reach the server since \d\d:\d\d:\d\d; retrying", status.text), status.text
        assert browser.execute_script("return document.body.classList.contains('stale')")  # what is shown, dimmed
        # A clock button that cannot reach it says so in the same place, and raises nothing.
        click(browser, '#integration button[data-advance="60"]')
        wait_for(browser, lambda: "did not move" in status.text, "the failed click, said")
        assert '"+1 min"' in status.text and "cannot reach the server" in status.text
        shot("stopped")
        assert uncaught(browser) == []
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(10)

    # Back on the same port: the connection line goes away, and with it body.dataset.error.
    again = start("--port", str(port))
    try:
        wait_for(browser, lambda: not browser.find_elements(By.CSS_SELECTOR, "#status .connection"), "the recovery", 15)
        assert browser.execute_script("return 'error' in document.body.dataset") is False
        assert "did not move" in browser.find_element(By.ID, "status").text  # kept until dismissed
        click(browser, "#status button.dismiss")
        wait_for(browser, lambda: not browser.find_element(By.ID, "status").is_displayed(), "the status, gone")
        shot("back")
        assert uncaught(browser) == []
    finally:
        again.proc.send_signal(signal.SIGINT)
        again.proc.wait(10)


@needs_browser
def test_focus_and_a_selection_survive_the_redraws(server: Server, browser: Any) -> None:
    for name in ("first", "second"):
        assert vendor(server, name)("POST", "/sessions")[0] == 201
    call = vendor(server, "second")
    _, listing = server.call("GET", "/_mock/integrations/second")
    sid = listing["active_session_id"]
    assert call("POST", f"/sessions/{sid}/entities", {"page_hint": 1, "entities": {"User": [user(1)]}})[0] == 202
    open_page(browser, server, "first")

    # Enter on "show": the integration is shown and the focus stays on its button, now "shown".
    button = 'tr[data-integration="second"] button'
    wait_for(browser, lambda: browser.find_element(By.CSS_SELECTOR, button), "the show button")
    browser.find_element(By.CSS_SELECTOR, button).send_keys(Keys.ENTER)
    wait_for(browser, lambda: texts(browser, button) == ["shown"], "second shown")
    time.sleep(1.5)  # a poll or two later
    focused = browser.execute_script(
        "const node = document.activeElement; const row = node.closest('tr');"
        "return node.tagName + ' ' + (row ? row.dataset.integration : '');"
    )
    assert focused == "BUTTON second"  # was BODY: the next Tab went back to the first "show"

    # A session's summary has the focus and page 1's time is selected while the client pushes more.
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: texts(browser, in_session(sid, 'tr[data-page="1"]')), "page 1")
    picked = browser.execute_script(
        "const cell = document.querySelector(arguments[0]);"
        "const range = document.createRange(); range.selectNodeContents(cell);"
        "getSelection().removeAllRanges(); getSelection().addRange(range);"
        "document.querySelector(arguments[1]).focus(); return getSelection().toString();",
        in_session(sid, 'tr[data-page="1"] td.at'),
        in_session(sid, "summary"),
    )
    assert picked.startswith("20")
    for n in range(2, 5):
        assert call("POST", f"/sessions/{sid}/entities", {"page_hint": n, "entities": {"User": [user(n)]}})[0] == 202
    wait_for(browser, lambda: texts(browser, in_session(sid, 'tr[data-page="4"]')), "page 4")
    time.sleep(1.5)
    assert browser.execute_script("return getSelection().toString()") == picked
    assert browser.execute_script("return document.activeElement.dataset.focus") == f"summary:session:{sid}"
    errors = [e for e in browser.get_log("browser") if "favicon" not in e["message"]]
    assert errors == [], errors


@needs_browser
def test_a_bidi_control_in_a_client_value_is_shown_not_applied(
    server: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    call = vendor(server, "bidi")
    _, session = call("POST", "/sessions", {"client_reference_id": "nightly\u202e-2026"})
    sid = session["id"]
    page = {"page_hint": 1, "entities": {"User": [user(1, employmentType="abc\u202e", workEmail="x\u202e@y")]}}
    assert call("POST", f"/sessions/{sid}/entities", page)[0] == 400
    open_page(browser, server, "bidi")
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: len(texts(browser, in_session(sid, ".issue"))) == 2, "the issues")
    # No text node of the page holds an override, embedding or isolate: each is shown as U+....
    raw = browser.execute_script(
        "const walk = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);"
        "const found = []; while (walk.nextNode()) if (/[\\u202a-\\u202e\\u2066-\\u2069]/.test(walk.currentNode.data))"
        " found.push(walk.currentNode.data); return found;"
    )
    assert raw == []
    issues = texts(browser, in_session(sid, ".issue"))
    assert issues[0] == '"abcU+202E" is not one of "EMPLOYEE" or "CONTRACTOR"', issues
    assert texts(browser, in_session(sid, ".client-ref")) == ["nightlyU+202E-2026"]
    isolated = browser.execute_script("return getComputedStyle(document.querySelector('.client-ref')).unicodeBidi")
    assert isolated == "isolate"
    shot("bidi")


def cards_overflowing(browser: Any) -> list[str]:
    """The cards (and sessions) whose content is wider than they are: a column pushed out of view."""
    found: list[str] = browser.execute_script(
        "return [...document.querySelectorAll('section.card, details.session')]"
        ".filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)"
        ".map((e) => (e.id || e.dataset.key || e.className) + ' ' + e.scrollWidth + '>' + e.clientWidth);"
    )
    return found


@needs_browser
def test_long_values_wrap_and_every_column_stays_in_view(
    server: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    rule = "a-rule-whose-name-runs-on-" + "z" * 60
    scenario = {
        "name": "long",
        "rules": [{"name": rule, "match": {"operation": "get_session"}, "respond": {"status": 503}}],
    }
    assert server.call("PUT", f"/_mock/integrations/{LONG_ID}/scenario", scenario)[0] == 200
    call = vendor(server, LONG_ID)
    _, session = call("POST", "/sessions")
    sid = session["id"]
    assert (
        call("POST", f"/sessions/{sid}/entities", {"page_hint": "W" * 250, "entities": {"User": [user(1)]}})[0] == 202
    )
    assert call("GET", f"/sessions/{sid}")[0] == 503
    open_page(browser, server, LONG_ID)
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: texts(browser, in_session(sid, "td.page-hint")), "the page hint")
    wait_for(browser, lambda: any(rule in t for t in texts(browser, "#journal td.rule")), "the rule fired")
    assert cards_overflowing(browser) == []
    assert fits_the_window(browser)
    width = browser.execute_script("return window.innerWidth")
    for css in (
        f'tr[data-integration="{LONG_ID}"] button',
        in_session(sid, 'tr[data-page="1"] td.at'),
        "#journal td:last-child",
    ):
        right = browser.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().right", css)
        assert right <= width, css
    shot("long")


@needs_browser
def test_the_journal_says_what_it_leaves_out_and_refuses_a_status_it_cannot_filter_by(
    server: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    call = vendor(server, "busy")
    _, session = call("POST", "/sessions")
    for _ in range(104):
        assert call("GET", f"/sessions/{session['id']}")[0] == 200
    assert call("POST", "/sessions")[0] == 409
    open_page(browser, server, "busy")
    note = "#journal-note p.journal-left-out"
    wait_for(browser, lambda: texts(browser, note), "the journal's note")
    assert texts(browser, note)[0].startswith("the newest 100 of 106 requests recorded")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#journal tbody tr")) == 100

    box = browser.find_element(By.ID, "f-status")
    box.send_keys("4xx")
    wait_for(browser, lambda: box.get_attribute("aria-invalid") == "true", "4xx marked invalid")
    hint = browser.find_element(By.ID, "f-status-hint").text
    assert hint.startswith("not a status code: type one, such as 429 (0 is a broken connection)"), hint
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#journal tbody tr") == [], "nothing listed")
    assert not browser.find_element(By.ID, "har-filtered").is_displayed()
    shot("invalid")
    box.clear()
    box.send_keys("409")
    wait_for(browser, lambda: box.get_attribute("aria-invalid") == "false", "409 valid")
    wait_for(browser, lambda: texts(browser, "#journal tbody td:nth-child(3)") == ["409"], "the one 409")
    assert browser.find_element(By.ID, "har-filtered").get_attribute("href").endswith("status=409")
    assert texts(browser, note) == []  # one request matches: all of them are shown


@needs_browser
def test_a_narrow_window_shows_every_row_whole(server: Server, browser: Any, shot: Callable[[str], Path]) -> None:
    for name in ("narrow-a", LONG_ID):
        call = vendor(server, name)
        _, session = call("POST", "/sessions")
        assert (
            call("POST", f"/sessions/{session['id']}/entities", {"page_hint": 1, "entities": {"User": [user(1)]}})[0]
            == 202
        )
    browser.set_window_size(420, 900)
    open_page(browser, server, "narrow-a")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#integrations tbody tr")) == 2, "two rows")
    width = browser.execute_script("return window.innerWidth")
    assert width <= 440
    for button in browser.find_elements(By.CSS_SELECTOR, "#integrations button"):
        assert button.is_displayed()
        assert browser.execute_script("return arguments[0].getBoundingClientRect().right", button) <= width
    assert cards_overflowing(browser) == [] and fits_the_window(browser)
    # each cell says its column
    labels = {c.get_attribute("data-label") for c in browser.find_elements(By.CSS_SELECTOR, "#integrations td")}
    assert {"id", "findings"} <= labels
    shot("narrow")


@needs_browser
def test_numbers_plurals_and_the_failed_mark_read_once(server: Server, browser: Any) -> None:
    assert server.call("PUT", "/_mock/integrations/fails/scenario", "processing-fails")[0] == 200
    call = vendor(server, "fails")
    _, session = call("POST", "/sessions")
    sid = session["id"]
    assert (
        call(
            "POST", f"/sessions/{sid}/entities", {"page_hint": 1, "entities": {"User": [user(n) for n in range(1, 7)]}}
        )[0]
        == 202
    )
    assert call("POST", f"/sessions/{sid}/close", {"status": "apply"})[0] == 202
    open_page(browser, server, "fails")
    click(browser, '#integration button[data-advance="60"]')
    row = 'tr[data-integration="fails"]'
    wait_for(browser, lambda: "1 failed" in texts(browser, row)[0], "the failed mark")
    assert texts(browser, row + " td:nth-child(3)") == ["1 failed"]  # said once, as the badge (was "failed 1 1 failed")
    summary = texts(browser, in_session(sid, "summary"))[0]
    assert "1 page accepted, 0 rejected; 6 records;" in summary, summary  # was "page(s)", "record(s)"
    assert "; 1 retry" in summary or re.search(r"; [2-9]\d* retries", summary), summary  # was "2 retry"
    # bytes with thousands separators, as the notes beside them have
    click(browser, in_session(sid, "summary"))
    wait_for(browser, lambda: texts(browser, in_session(sid, 'tr[data-page="1"] td')), "page 1")
    assert re.fullmatch(r"\d,\d{3} / \d,\d{3}", texts(browser, in_session(sid, 'tr[data-page="1"] td'))[5])
    # The version label reads at WCAG AA contrast on the header (it was #667 on #1d2330, ~2.8:1).
    ratio = browser.execute_script(
        "const lum = (c) => { const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map((v) => { v /= 255;"
        " return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });"
        " return 0.2126 * r + 0.7152 * g + 0.0722 * b; };"
        "const fg = lum(getComputedStyle(document.getElementById('version')).color);"
        "const bg = lum(getComputedStyle(document.querySelector('header')).backgroundColor);"
        "return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);"
    )
    assert ratio >= 4.5, ratio


def test_the_banner_of_a_guarded_server_gives_the_dashboard_address_a_browser_can_open() -> None:
    running = start("--admin-token", "s3cret")
    try:
        line = next(line for line in running.banner.splitlines() if line.strip().startswith("dashboard"))
        assert f"{running.origin}/_mock/?token=ADMIN_TOKEN" in line
        assert "s3cret" not in running.banner  # the token itself is not printed
    finally:
        running.proc.send_signal(signal.SIGINT)
        running.proc.wait(10)


@needs_browser
def test_the_address_names_the_integration_shown(server: Server, browser: Any) -> None:
    for name in ("first", "second", "third"):
        assert vendor(server, name)("POST", "/sessions")[0] == 201
    open_page(browser, server, "first")

    def shown_and_address() -> tuple[list[str], str]:
        return texts(browser, "#integration-id"), browser.execute_script("return location.hash")

    assert shown_and_address() == (["first"], "#integration=first")
    # Deleted while shown: the page shows another, and the address follows (a reload or a copied
    # link opened the deleted one's name before).
    assert server.call("DELETE", "/_mock/integrations/first")[0] == 204
    wait_for(browser, lambda: shown_and_address() == (["third"], "#integration=third"), "the address following")
    # An address pasted into the tab, only its '#' part changed: the page shows what it names.
    browser.execute_script("location.hash = '#integration=second'")
    wait_for(browser, lambda: shown_and_address() == (["second"], "#integration=second"), "the pasted address")
    # A click replaces the address, and Back still leaves for the page before (not the click's).
    click(browser, 'tr[data-integration="third"] button')
    wait_for(browser, lambda: shown_and_address() == (["third"], "#integration=third"), "the click")
    assert uncaught(browser) == []


@needs_browser
def test_a_keyboard_user_skips_the_header_links_to_the_integrations(server: Server, browser: Any) -> None:
    assert vendor(server, "first")("POST", "/sessions")[0] == 201
    open_page(browser, server, "first")
    # The header holds four links and a row of clock buttons: without a skip link a keyboard user
    # tabs through all of them on every visit before reaching the integrations.
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    first = browser.switch_to.active_element
    assert first.text == "Skip to the integrations" and first.rect["y"] >= 0  # shown once focused
    first.send_keys(Keys.ENTER)
    assert browser.execute_script("return document.activeElement.id") == "main"
    # The next Tab lands in the page's content, not back in the header.
    browser.switch_to.active_element.send_keys(Keys.TAB)
    inside = browser.execute_script("return document.getElementById('main').contains(document.activeElement)")
    assert inside
    wait_for(browser, lambda: texts(browser, "#integration-id") == ["first"], "the integration still shown")
    assert uncaught(browser) == []
