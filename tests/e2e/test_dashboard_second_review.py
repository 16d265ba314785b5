"""The second dashboard review, in a real headless Chromium: a server holding 120 integrations
lists the newest 50 and the one shown, says so, and fills their findings first; a 128-character
integration id keeps the journal's rows one line high; the timeline's "left out" line takes no
number; counts the page formats have thousands separators. Screenshots go to
``tests/e2e/artifacts/`` as in test_dashboard.py."""

from __future__ import annotations

import signal
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
from .test_dashboard_review_fixes import LONG_ID, cards_overflowing

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def server() -> Iterator[Server]:
    running = start("--processing-seconds", "0")  # an ephemeral port
    yield running
    running.proc.send_signal(signal.SIGINT)
    running.proc.wait(10)


@pytest.fixture
def shot(browser: Any, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    ARTIFACTS.mkdir(exist_ok=True)

    def save(step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        browser.save_screenshot(str(path))
        return path

    return save


def open_page(browser: Any, server: Server, integration: str | None = None) -> None:
    browser.get(f"{server.origin}/_mock/" + (f"#integration={integration}" if integration else ""))
    wait_for(browser, lambda: browser.execute_script("return document.body.dataset.refreshed"), "a refresh")


ROWS = "#integrations tbody tr"
NOTE = "#integrations-note p.integrations-left-out"


def unread(browser: Any) -> int:
    return int(
        browser.execute_script(
            "return [...document.querySelectorAll('#integrations td.findings')]"
            ".filter((c) => c.textContent === '…').length"
        )
    )


@needs_browser
def test_many_integrations_are_listed_as_the_newest_50_and_the_one_shown(
    server: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    for n in range(120):
        assert vendor(server, f"bulk-{n:03d}")("POST", "/sessions")[0] == 201
    call = vendor(server, "bulk-000")  # the oldest, with something to show
    _, listing = server.call("GET", "/_mock/integrations/bulk-000")
    assert (
        call("POST", f"/sessions/{listing['active_session_id']}/entities", {"entities": {"User": [user(1)]}})[0] == 202
    )
    open_page(browser, server, "bulk-000")

    # The newest 50 (oldest first, as before) and the one shown, older than them: said above the table.
    # was: all 121 rows, and the one shown's detail below them all.
    wait_for(browser, lambda: texts(browser, NOTE), "the note")
    assert texts(browser, NOTE)[0].startswith(
        "the newest 50 of 120 integrations, and the one shown (all of them as JSON)"
    )
    # read at once: a row is rebuilt as its findings come in
    ids, selected = browser.execute_script(
        "const rows = [...document.querySelectorAll(arguments[0])];"
        "return [rows.map((r) => r.dataset.integration), rows.filter((r) => r.classList.contains('selected'))"
        ".map((r) => r.dataset.integration)];",
        ROWS,
    )
    assert ids == ["bulk-000", *(f"bulk-{n:03d}" for n in range(70, 120))]
    assert selected == ["bulk-000"]
    link = browser.find_element(By.CSS_SELECTOR, f"{NOTE} a").get_attribute("href")
    assert link == f"{server.origin}/_mock/integrations"
    # The rows' findings are read first, a dozen a second: all of them within a few polls (was: 4 a
    # second from the oldest of all 120, so the rows shown waited for the rest).
    began = time.monotonic()
    wait_for(browser, lambda: unread(browser) == 0, "every row's findings", 15)
    assert time.monotonic() - began < 10
    detail = browser.execute_script(
        "return document.getElementById('integration').getBoundingClientRect().top + scrollY"
    )
    assert detail < 3000, detail  # below 51 rows, not 121
    shot("bounded")

    click(browser, "#integrations-note button.more-integrations")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ROWS)) == 101, "50 more rows")
    assert texts(browser, NOTE)[0].startswith("the newest 100 of 120 integrations, and the one shown")

    # Another one shown: the newest, among the rows already; the count is kept.
    click(browser, 'tr[data-integration="bulk-119"] button')
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ROWS)) == 100, "the old one gone")
    assert texts(browser, NOTE)[0].startswith("the newest 100 of 120 integrations (all of them as JSON)")

    # 390 px: the note and its button fit, each row a card.
    browser.set_window_size(390, 900)
    browser.get("about:blank")  # a page of its own, not a new address of the same one
    open_page(browser, server, "bulk-000")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, ROWS)) == 51, "51 rows again")
    button = browser.find_element(By.CSS_SELECTOR, "#integrations-note button.more-integrations")
    width = browser.execute_script("return window.innerWidth")
    assert (
        button.is_displayed()
        and browser.execute_script("return arguments[0].getBoundingClientRect().right", button) <= width
    )
    assert cards_overflowing(browser) == [] and fits_the_window(browser)
    shot("narrow")


@needs_browser
def test_a_long_id_keeps_journal_rows_one_line_and_the_timeline_counts_with_separators(
    server: Server, browser: Any, shot: Callable[[str], Path]
) -> None:
    call = vendor(server, LONG_ID)
    _, session = call("POST", "/sessions")
    sid = session["id"]
    for n in range(1_040):  # no page_hint: a finding on each page; past the 100 pages a session shows
        assert call("POST", f"/sessions/{sid}/entities", {"entities": {"User": [user(n)]}})[0] == 202
    for _ in range(3):
        assert call("GET", "/status")[0] == 200
    browser.set_window_size(1280, 900)
    open_page(browser, server, LONG_ID)

    # The journal's rows of a 128-character id stay one line high (were ~170 px at 1,280 px): its head
    # cut, its end kept, the whole id its title and its text (what a selection copies).
    cells = f'#journal td code.id.clipped[title="{LONG_ID}"]'
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, cells), "the clipped ids")
    heights = browser.execute_script(
        "return [...document.querySelectorAll('#journal tbody tr')].map((r) => r.getBoundingClientRect().height)"
    )
    assert max(heights) < 40, heights
    assert {element.get_attribute("textContent") for element in browser.find_elements(By.CSS_SELECTOR, cells)} == {
        LONG_ID
    }
    head, tail, ellipsis, clipped = browser.execute_script(
        "const code = document.querySelector(arguments[0]); const [head, tail] = code.children;"
        "return [head.textContent, tail.textContent, getComputedStyle(tail, '::before').content,"
        " head.scrollWidth > head.clientWidth];",
        cells,
    )
    assert (head + tail, tail, ellipsis, clipped) == (LONG_ID, LONG_ID[-9:], '"…"', True)
    assert cards_overflowing(browser) == [] and fits_the_window(browser)

    # The timeline's line for the pages left out takes no number (it took "2."), and says how many with a
    # separator, "pages" spelt out.
    click(browser, in_session(sid, "summary"))
    line = in_session(sid, 'li[data-type="left-out"]')
    wait_for(browser, lambda: texts(browser, line), "the left-out line")
    assert texts(browser, line) == ["… the events of 940 earlier pages are left out"]
    style = browser.execute_script(
        "const s = getComputedStyle(document.querySelector(arguments[0]));"
        "return [s.listStyleType, s.counterIncrement];",
        line,
    )
    assert style == ["none", "list-item 0"]

    # The finding on every page: its count with a separator (was "×1040").
    finding = '#report details.finding[data-key="finding:missing_page_hint"] summary'
    wait_for(browser, lambda: texts(browser, finding), "the finding")
    assert texts(browser, finding)[0].endswith("(×1,040)")
    shot("long-id")
