"""The checks on sessions: how a client starts, closes and leaves them, one function per finding."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from typing import Any

from ..journal import JournalEntry
from ..lifecycle import State
from ..store import Session
from .kinds import BY_ID, PATIENT_START_WAIT_SECONDS
from .model import Finding
from .run import Run, arrived, evidence, last_arrival, lost, when


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
    """Not a session whose expiry the client learnt of and then started another after: it was
    mid-sync, and starting over with every page is what the docs recommend (docs/exam.md,
    ``expired-mid-sync``); the exam passed such a client while this finding failed its report.
    Learnt by a 409 ``session_not_active`` naming it, or by a read of it (200) once it had expired:
    a client that reads its session before each push sees ``expired`` and pushes nothing into it,
    as careful as one told by the 409."""
    finding = BY_ID["session_left_to_expire"].new()
    tried = run.close_tried()
    learnt = _expiries_learnt(run)
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
            and not (session.id in learnt and newest_start > learnt[session.id])
        ):
            finding.note(
                lambda: {
                    "session_id": session.id,
                    "accepted_pages": len(session.accepted_pages),
                    "at": when(session.expired_at),
                }
            )
    return finding


def _expiries_learnt(run: Run) -> dict[str, int]:
    """The first answer (its order) that told the client each session had expired: a 409
    ``session_not_active`` naming it, or a read of it answered 200 that arrived once it had expired
    (the emulator answers with the state as of arrival; a HAR's session expires at the latest at
    the answer that showed it, which arrived before then)."""
    sessions = run.tenant.sessions
    learnt: dict[str, int] = {}
    for entry in run.arrivals:  # a read the HTTP library sent again by itself answered the client too
        if entry.session_id is None or lost(entry):
            continue
        if entry.operation == "get_session" and entry.status == 200:
            session = sessions.get(entry.session_id)
            expired_at = session.expired_at if session is not None else None
            if expired_at is None or (arrived(entry) < expired_at and entry.at != expired_at):
                continue
        elif entry.code != "session_not_active":
            continue
        learnt[entry.session_id] = min(learnt.get(entry.session_id, entry.answer), entry.answer)
    return learnt


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
    """Starts refused 409 in a row for the same active session, nothing between dealing with it
    (a close, a use of that session, another start), and at least one sent again sooner than
    ``PATIENT_START_WAIT_SECONDS`` after the refusal before it (emulator time). A client waiting
    for another worker's sync to end (1 s, 2 s, 4 s, reading the integration's status between)
    ignores nothing: it starts once that session is closed. On a frozen clock every wait reads
    0 s, the patient worker's as the hammering one's, so nothing is judged there (as
    ``retry_without_backoff``)."""
    finding = BY_ID["start_conflict_ignored"].new()
    if run.tenant.settings.frozen_clock:
        return finding
    streak: list[JournalEntry] = []
    waits: list[float] = []  # between consecutive refusals of the streak: its answer to the next arrival

    def flush() -> None:
        if len(streak) >= 2 and min(waits) < PATIENT_START_WAIT_SECONDS:
            finding.note(
                lambda: {
                    "request_ids": [e.request_id for e in streak],
                    "active_session_id": streak[0].names_session,
                    "conflicts": len(streak),
                    "waits_seconds": list(waits),
                    "at": when(streak[0].arrived_at),
                }
            )
        streak.clear()
        waits.clear()

    conflicts = {e.request_id for e in _conflicts(run)}
    for entry in run.client:
        if entry.request_id in conflicts:
            if streak and streak[0].names_session != entry.names_session:
                flush()
            if streak:
                waits.append(round(max(arrived(entry) - streak[-1].at, 0.0), 3))
            streak.append(entry)
        elif streak and (
            entry.operation in ("close_session", "start_session") or entry.session_id == streak[0].names_session
        ):
            flush()
    flush()
    return finding


def outcome_not_read(run: Run) -> Finding:
    """A session closed with apply (202; or, that answer lost, a close sent again answered 409)
    whose outcome the client never read. Once the session has
    finished, only a read that arrived then (or later) and was answered 200 shows the outcome: a
    read of the session, or of the activity log (``session_processed`` or ``session_failed``). A
    read while it was still processing shows none: a client that read once and left never learnt
    that processing failed and nothing was applied. A session still processing when the report is
    made has no outcome yet: any read of it, or of the activity log, after its close was answered
    is a client polling, and not judged (on a frozen clock processing waits for the clock)."""
    finding = BY_ID["outcome_not_read"].new()
    sessions = run.tenant.sessions
    # Every read, one the client's HTTP library sent again by itself after a reset too: its answer
    # showed the outcome to the client (Java's HttpURLConnection re-sends a reset GET 42 ms later).
    reads = run.every("get_session")
    polled = last_arrival(reads, lambda e: e.session_id)
    read_outcome = last_arrival(reads, lambda e: e.session_id if _showed_outcome(e, sessions) else None)
    activity = _ActivityReads(run.every("activity"))
    judged: set[str] = set()
    lost_close: set[str] = set()  # sessions a close of which took effect with its answer lost
    for close in run.of_operation("close_session"):
        session = sessions.get(close.session_id or "")
        if session is None or session.close_status != "apply" or session.id in judged:
            continue
        if lost(close):
            lost_close.add(session.id)
            continue
        # The client learnt its session was closed with apply from a 202, or, when that answer was
        # lost, from the 409 its close sent again got: either way the outcome is then to be read.
        if not (close.status == 202 or (close.code == "session_not_closable" and session.id in lost_close)):
            continue
        judged.add(session.id)
        if session.finished_at is None:  # still processing: a read after the close is a client polling
            if max(polled.get(session.id, 0), activity.last) > close.answer:
                continue
        elif read_outcome.get(session.id, 0) > close.answer or activity.read_since(close.answer, session.finished_at):
            continue
        finding.note(lambda: evidence(close, state=session.state.value))
    return finding


def _showed_outcome(read: JournalEntry, sessions: Mapping[str, Session]) -> bool:
    """A read of a session answered 200 once it had finished: the emulator answers with the state as
    of arrival; a HAR's session finishes at the answer that showed it, which arrived before then."""
    session = sessions.get(read.session_id or "")
    finished_at = session.finished_at if session is not None else None
    if finished_at is None or read.status != 200 or lost(read):
        return False
    return arrived(read) >= finished_at or read.at == finished_at


class _ActivityReads:
    """The reads of the activity log, in arrival order: whether one answered 200 arrived after a
    close was answered and once its session had finished, one bisection a close (a busy
    integration's client may read the log after every sync)."""

    def __init__(self, reads: list[JournalEntry]) -> None:
        self.last = reads[-1].arrival if reads else 0  # any read, answered or not: a client polling
        shown = [e for e in reads if e.status == 200 and not lost(e)]
        self.arrivals = [e.arrival for e in shown]
        # The latest emulator time any of the reads from each one on arrived at.
        latest = list(itertools.accumulate(reversed([arrived(e) for e in shown]), max))
        latest.reverse()
        self.latest_from = latest

    def read_since(self, answer: int, finished_at: float) -> bool:
        at = bisect.bisect_right(self.arrivals, answer)
        return at < len(self.latest_from) and self.latest_from[at] >= finished_at


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
