"""The handles' typed results (``mock_sprinto.testing.views``) are what the server really sends: every
member a view declares is there (or may be left out, where it says so), none is left undeclared,
and each value has the declared type, for a run that meets every kind of value once."""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import requests

from mock_sprinto.pytest_plugin import MockSprintoApp
from mock_sprinto.testing import (
    ActivityItemView,
    AsyncMockSprinto,
    CoverageView,
    JournalEntryView,
    MockSprinto,
    ReportView,
    ScenarioView,
    SessionView,
    SettingsView,
)

from .records import user

SCENARIO = {
    "name": "one-unavailable-status",
    "rules": [{"name": "status down", "match": {"operation": "integration_status"}, "respond": {"status": 503}}],
}


def mismatches(value: Any, hint: Any, where: str = "") -> list[str]:
    """Where ``value`` (parsed JSON) differs from the type ``hint``: missing or undeclared members,
    values of another type, words outside a ``Literal``."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return []
    if is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{where or '/'}: {value!r} is not an object"]
        declared = hint.__required_keys__ | hint.__optional_keys__
        found = [f"{where}/{key}: missing" for key in sorted(hint.__required_keys__ - set(value))]
        found += [f"{where}/{key}: not declared by {hint.__name__}" for key in sorted(set(value) - declared)]
        hints = get_type_hints(hint)
        for key in sorted(set(value) & declared):
            found += mismatches(value[key], hints[key], f"{where}/{key}")
        return found
    if origin is Literal:
        return [] if value in args else [f"{where}: {value!r} is not one of {args}"]
    if origin in (Union, types.UnionType):
        return [] if any(not mismatches(value, arg, where) for arg in args) else [f"{where}: {value!r} is not {hint}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not a list"]
        return [problem for i, item in enumerate(value) for problem in mismatches(item, args[0], f"{where}/{i}")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        return [problem for key, item in value.items() for problem in mismatches(item, args[1], f"{where}/{key}")]
    if hint is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if hint is float:  # a JSON number: 3600 is one too
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    return [] if ok else [f"{where}: {value!r} is not {hint.__name__}"]


def test_mismatches_names_a_missing_an_undeclared_and_a_mistyped_member() -> None:
    view = {"behaviour": "applied", "met": "yes", "extra": 1}
    assert mismatches(view, CoverageView) == [
        "/recovered: missing",
        "/extra: not declared by CoverageView",
        "/met: 'yes' is not bool",
    ]


async def _run_meeting_every_kind_of_value(mock: AsyncMockSprinto) -> dict[str, Any]:
    """Configuration, an accepted and a rejected page, a rule that fires, a processed session."""
    settings = await mock.use_settings({"max_page_items": 50})
    scenario = await mock.use_scenario(SCENARIO)
    async with mock.client.get(mock.integration_path + "/status", headers=mock.headers) as response:
        assert response.status == 503  # the scenario's rule fired: the journal names it
    async with mock.client.post(mock.integration_path + "/sessions", headers=mock.headers) as response:
        session_id = (await response.json())["id"]
    pages = mock.integration_path + f"/sessions/{session_id}/entities"
    accepted = {"entities": {"User": [user(1)]}, "page_hint": 1}
    rejected = {"entities": {"User": [user(2, workEmail="x", extra=True)]}, "page_hint": "two"}
    for body, status in ((accepted, 202), (rejected, 400)):
        async with mock.client.post(pages, headers=mock.headers, json=body) as response:
            assert response.status == status
    close = {"status": "apply"}
    async with mock.client.post(pages.replace("/entities", "/close"), headers=mock.headers, json=close) as response:
        assert response.status == 202
    await mock.clock.advance(seconds=2)
    return {"settings": settings, "scenario": scenario, "session_id": session_id}


async def test_what_the_in_process_handle_returns_is_what_its_views_declare(mock_sprinto_app: MockSprintoApp) -> None:
    mock = await mock_sprinto_app()
    done = await _run_meeting_every_kind_of_value(mock)
    session = await mock.assert_session_processed(records=1)
    report = await mock.report()
    journal = await mock.journal()
    # The run met every kind of value: a rejected page's errors, a finding's evidence, a fired rule.
    assert session["pages"][1]["errors"] and report["findings"] and any(entry["rule"] for entry in journal)
    assert done["scenario"]["rules"]
    seen: list[tuple[Any, Any]] = [
        (done["settings"], SettingsView),
        (done["scenario"], ScenarioView),
        (session, SessionView),
        (await mock.session(done["session_id"]), SessionView),
        *((each, SessionView) for each in await mock.sessions()),
        *((entry, JournalEntryView) for entry in journal),
        *((item, ActivityItemView) for item in await mock.activity()),
        (report, ReportView),
        (await mock.assert_client_well_behaved(allow=[f["id"] for f in report["findings"]]), ReportView),
    ]
    assert [problem for value, view in seen for problem in mismatches(value, view)] == []


def test_what_the_blocking_handle_returns_is_what_the_views_declare(mock_sprinto: MockSprinto) -> None:
    url, headers = mock_sprinto.integration_url, mock_sprinto.headers
    mock_sprinto.use_scenario(SCENARIO)
    assert requests.get(url + "/status", headers=headers, timeout=10).status_code == 503
    sid = requests.post(url + "/sessions", headers=headers, timeout=10).json()["id"]
    body = {"entities": {"User": [user(2, workEmail="x")]}}
    assert requests.post(f"{url}/sessions/{sid}/entities", headers=headers, json=body, timeout=10).status_code == 400
    seen: list[tuple[Any, Any]] = [
        (mock_sprinto.use_settings({"max_page_items": 50}), SettingsView),
        (mock_sprinto.use_scenario(SCENARIO), ScenarioView),
        (mock_sprinto.session(sid), SessionView),
        *((each, SessionView) for each in mock_sprinto.sessions()),
        *((entry, JournalEntryView) for entry in mock_sprinto.journal()),
        *((item, ActivityItemView) for item in mock_sprinto.activity()),
        (mock_sprinto.report(), ReportView),
    ]
    assert [problem for value, view in seen for problem in mismatches(value, view)] == []
