"""The dashboard's overview is bounded (issue 22): the newest sessions, the last pages of each and
the activity the dashboard lists, with the totals; the full views stay complete."""

from __future__ import annotations

import re
from typing import Any

from mock_sprinto.control import MAX_OVERVIEW_PAGES, MAX_OVERVIEW_SESSIONS, OVERVIEW_ACTIVITY, OVERVIEW_SESSIONS
from mock_sprinto.http.dashboard import DASHBOARD_JS

from ..helpers import Control, Vendor, user

PAGE_EVENTS = {"page_accepted", "page_rejected", "page_refused"}


async def _sync(vendor: Vendor, pages: int, bad_every: int = 0) -> str:
    """One session of ``pages`` pushes (every ``bad_every``-th invalid), closed with apply."""
    session = await vendor.start()
    for n in range(1, pages + 1):
        if bad_every and n % bad_every == 0:
            await vendor.push(session["id"], {"entities": {"User": [user(n, workEmail="nope")]}}, expect=400)
        else:
            await vendor.push(session["id"], {"page_hint": n, "entities": {"User": [user(n)]}})
    await vendor.close(session["id"])
    return str(session["id"])


def _is_subsequence(part: list[Any], whole: list[Any]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


async def test_the_overview_holds_the_newest_sessions_and_says_how_many_there_are(
    serve: Any, make_emulator: Any
) -> None:
    client = await serve(make_emulator(processing_seconds=0))
    control, vendor = Control(client), Vendor(client, "many", "k")
    for _ in range(OVERVIEW_SESSIONS + 5):
        await _sync(vendor, 1)
    full = await control.sessions("many")
    view = await control.get("/integrations/many/overview")
    assert view["sessions_total"] == len(full) == OVERVIEW_SESSIONS + 5
    # The newest, oldest first as in the full view, each as the full view has it.
    assert view["sessions"] == full[-OVERVIEW_SESSIONS:]
    assert all(s["pages_total"] == len(s["pages"]) == 1 for s in full)
    more = await control.get("/integrations/many/overview", params={"sessions": str(OVERVIEW_SESSIONS + 5)})
    assert more["sessions"] == full and more["sessions_total"] == len(full)
    none = await control.get("/integrations/many/overview", params={"sessions": "0"})
    assert none["sessions"] == [] and none["sessions_total"] == len(full) and none["report"] == view["report"]
    assert await control.get("/integrations/unseen/overview", params={"sessions": "3"}) == {
        "integration_id": "unseen",
        "exists": False,
    }


async def test_a_long_session_shows_its_last_pages_and_the_activity_the_dashboard_lists(
    serve: Any, make_emulator: Any
) -> None:
    client = await serve(make_emulator(processing_seconds=0))
    control, vendor = Control(client), Vendor(client, "long", "k")
    older = await _sync(vendor, 150, bad_every=10)  # pages 10, 20, ... 150 rejected
    newer = await _sync(vendor, 2 * OVERVIEW_ACTIVITY)
    full = {s["id"]: s for s in await control.sessions("long")}
    log = (await control.get("/integrations/long/activity"))["items"]

    view = await control.get("/integrations/long/overview")
    shown = {s["id"]: s for s in view["sessions"]}
    assert shown[older]["pages_total"] == full[older]["pages_total"] == len(full[older]["pages"]) == 150
    assert shown[older]["pages"] == full[older]["pages"][-100:]  # the last 100, as the full view has them
    assert {k: v for k, v in shown[older].items() if k != "pages"} == {
        k: v for k, v in full[older].items() if k != "pages"
    }
    assert [p["ordinal"] for p in shown[newer]["pages"]] == list(range(301, 401))
    paged = await control.get("/integrations/long/overview", params={"pages": "3"})
    assert [p["ordinal"] for p in paged["sessions"][0]["pages"]] == [148, 149, 150]
    assert (await control.get(f"/integrations/long/sessions/{older}"))["pages_total"] == 150  # complete

    # The activity: items of the full log, in its order; the last OVERVIEW_ACTIVITY of it; every
    # anomaly (fewer than OVERVIEW_ACTIVITY here); and each shown session's timeline, its page
    # events for the pages shown only.
    activity = view["activity"]
    assert view["activity_total"] == len(log) > len(activity)
    assert _is_subsequence(activity, log) and activity[-OVERVIEW_ACTIVITY:] == log[-OVERVIEW_ACTIVITY:]
    assert [a for a in activity if a["level"] != "info"] == [a for a in log if a["level"] != "info"]
    of_older = [a for a in activity if a["session_id"] == older]
    pages_of_older = {a["details"]["page"] for a in of_older if a["type"] in PAGE_EVENTS}
    assert pages_of_older == set(range(51, 151)) | {10, 20, 30, 40, 50}  # the last 100, and the anomalies
    assert {"session_created", "session_processing", "session_processed"} <= {a["type"] for a in of_older}

    # Only the newer session shown: of the older one, only its anomalies are left.
    one = await control.get("/integrations/long/overview", params={"sessions": "1"})
    assert [s["id"] for s in one["sessions"]] == [newer] and one["sessions_total"] == 2
    assert {a["type"] for a in one["activity"] if a["session_id"] == older} == {"page_rejected"}


async def test_the_overviews_bounds_are_checked_as_offset_and_limit_are(client: Any, control: Control) -> None:
    await Vendor(client, "bounds", "k").start()
    for name, bad in (
        ("sessions", "-1"),
        ("sessions", str(MAX_OVERVIEW_SESSIONS + 1)),
        ("sessions", "x"),
        ("sessions", ""),
        ("pages", str(MAX_OVERVIEW_PAGES + 1)),
        ("pages", "1.5"),
        ("limit", "1001"),
    ):
        async with client.get("/_mock/integrations/bounds/overview", params={name: bad}) as response:
            assert response.status == 400, (name, bad)
            body = await response.json()
            assert body["code"] == "invalid_parameter" and body["parameter"] == name, body
            assert re.search(rf"'{name}' must be a whole number from 0 to \d+", body["detail"]), body
    edge = {"sessions": str(MAX_OVERVIEW_SESSIONS), "pages": str(MAX_OVERVIEW_PAGES)}
    assert (await control.get("/integrations/bounds/overview", params=edge))["sessions_total"] == 1


def test_the_dashboard_asks_for_what_the_overview_holds() -> None:
    script = DASHBOARD_JS
    assert f"const ACTIVITY_SHOWN = {OVERVIEW_ACTIVITY};" in script
    assert f"const MAX_SESSIONS = {MAX_OVERVIEW_SESSIONS};" in script
    assert f"const SESSIONS_STEP = {OVERVIEW_SESSIONS};" in script
