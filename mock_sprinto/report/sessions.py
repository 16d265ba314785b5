"""The checks on sessions: how a client starts, closes and leaves them, one function per finding."""

from __future__ import annotations

from typing import Any

from ..journal import JournalEntry
from ..lifecycle import State
from ..store import Session
from .kinds import BY_ID
from .model import Finding
from .run import Run, evidence, last_arrival, lost, when


# ---- sessions -----------------------------------------------------------------------------------
def close_without_status(run: Run) -> Finding:
    finding = BY_ID["close_without_status"].new()
    sessions = run.tenant.sessions
    reported: set[str] = set()
    for entry in run.of_operation("close_session"):
        if entry.code != "invalid_close_status" or entry.session_id is None or entry.session_id in reported:
            continue
        session = sessions.get(entry.session_id)
        if session is not None and session.closed_at is None:
            reported.add(entry.session_id)
            finding.note(lambda: evidence(entry, state=session.state.value))
    return finding


def session_left_to_expire(run: Run) -> Finding:
    """Not a session whose expiry the client was told of (a 409 ``session_not_active`` naming it,
    read) and then started another after: it was mid-sync, and starting over with every page is
    what the docs recommend (docs/exam.md, ``expired-mid-sync``); the exam passed such a client
    while this finding failed its report."""
    finding = BY_ID["session_left_to_expire"].new()
    tried = run.close_tried()
    told = {e.session_id: e.answer for e in reversed(run.client) if e.code == "session_not_active" and not lost(e)}
    newest_start = max(
        (e.arrival for e in run.client if e.operation == "start_session" and e.status == 201 and not lost(e)),
        default=0,
    )
    for session in run.sessions:
        if (
            session.expired_at is not None
            and not session.expired_by_scenario
            and session.closed_at is None
            and session.accepted_pages
            and session.id not in tried
            and not (session.id in told and newest_start > told[session.id])
        ):
            finding.note(
                lambda: {
                    "session_id": session.id,
                    "accepted_pages": len(session.accepted_pages),
                    "at": when(session.expired_at),
                }
            )
    return finding


def session_left_active(run: Run) -> Finding:
    finding = BY_ID["session_left_active"].new()
    tried = run.close_tried()
    for session in run.sessions:
        if session.state is State.ACTIVE and session.id not in tried:
            finding.note(
                lambda: {
                    "session_id": session.id,
                    "accepted_pages": len(session.accepted_pages),
                    "last_request_at": when(session.last_request_at),
                }
            )
    return finding


def _conflicts(run: Run) -> list[JournalEntry]:
    """Real 409s on start (not a scenario's), each naming the session that stood in the way."""
    return [
        e
        for e in run.client
        if e.operation == "start_session"
        and e.code == "session_already_active"
        and e.names_session is not None
        and e.rule is None
    ]


def start_conflict_unhandled(run: Run) -> Finding:
    """A start refused for the session still active, and nothing after that deals with it: no
    request naming that session (a close or a push), no successful start. A close of another
    session (one the client made up, say) does not deal with it."""
    finding = BY_ID["start_conflict_unhandled"].new()
    started = max((e.arrival for e in run.of_operation("start_session") if e.status == 201), default=0)
    used = last_arrival(run.client, lambda e: e.session_id)
    reported: set[str | None] = set()
    for conflict in _conflicts(run):  # each names its session (an injected 409 names none: not judged)
        if conflict.names_session in reported:
            continue
        dealt_with = max(started, used.get(conflict.names_session, 0))
        if dealt_with <= conflict.answer:  # nothing of the kind arrived after its answer
            reported.add(conflict.names_session)
            finding.note(lambda: evidence(conflict, active_session_id=conflict.names_session))
    return finding


def start_conflict_ignored(run: Run) -> Finding:
    finding = BY_ID["start_conflict_ignored"].new()
    streak: list[JournalEntry] = []

    def flush() -> None:
        if len(streak) >= 2:
            finding.note(
                lambda: {
                    "request_ids": [e.request_id for e in streak],
                    "active_session_id": streak[0].names_session,
                    "conflicts": len(streak),
                    "at": when(streak[0].arrived_at),
                }
            )
        streak.clear()

    conflicts = {e.request_id for e in _conflicts(run)}
    for entry in run.client:
        if entry.request_id in conflicts:
            if streak and streak[0].names_session != entry.names_session:
                flush()
            streak.append(entry)
        elif streak and (
            entry.operation in ("close_session", "start_session") or entry.session_id == streak[0].names_session
        ):
            flush()
    flush()
    return finding


def outcome_not_read(run: Run) -> Finding:
    finding = BY_ID["outcome_not_read"].new()
    sessions = run.tenant.sessions
    polled = last_arrival(run.of_operation("get_session"), lambda e: e.session_id)
    for close in run.of_operation("close_session"):
        session = sessions.get(close.session_id or "")
        if session is None or session.close_status != "apply" or not run.received(close.request_id, 202):
            continue
        if polled.get(session.id, 0) <= close.answer:  # no read of the session arrived after its close was answered
            finding.note(lambda: evidence(close, state=session.state.value))
    return finding


def close_without_pages(run: Run) -> Finding:
    finding = BY_ID["close_without_pages"].new()
    closes = {e.session_id: e for e in run.client if e.operation == "close_session" and e.status == 202}
    for session in run.sessions:
        if session.close_status == "apply" and not session.accepted_pages:
            finding.note(lambda: _closed_without_pages(session, closes.get(session.id)))
    return finding


def _closed_without_pages(session: Session, close: JournalEntry | None) -> dict[str, Any]:
    item: dict[str, Any] = {"session_id": session.id, "at": when(session.closed_at)}
    if close is not None:
        item["request_id"] = close.request_id
    return item
