"""Behaviour coverage: each documented Sprinto behaviour a run can meet, one function each, saying
whether the run met it and whether the client recovered (None where recovery means nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..journal import JournalEntry
from ..lifecycle import State
from ..steps import Steps, finished
from .checks import unrecovered_of
from .model import Coverage
from .run import (
    REJECTED_CODES,
    Run,
    arrived,
    given_up_on,
    last_arrival,
    lost,
    rejected_by_rule,
    transport_broken,
)

if TYPE_CHECKING:
    from ..store import Session

Verdict = tuple[bool, bool | None]


def _met(met: bool, recovered: Callable[[], bool]) -> Verdict:
    return (True, recovered()) if met else (False, None)


def _later(run: Run, entry: JournalEntry, ok: Callable[[JournalEntry], bool]) -> bool:
    return any(e.arrival > entry.answer and ok(e) for e in run.entries)


def page_rejected(run: Run) -> Verdict:
    """Every page rejected with 400 has its fixed page accepted after it (``checks.unrecovered_pages``).
    A page a scenario rule rejected (as if it were invalid: the client cannot fix it) is recovered
    the same way, or once its session was discarded; one its session does not list (its list full,
    the session gone) is judged from the journal (``Run.sent_again_after``)."""
    rejected = [(s, p) for s in run.sessions for p in s.rejected_pages if p.code in REJECTED_CODES]
    listed = run.listed_rejections()
    unlisted = [e for e in run.pushes() if rejected_by_rule(e) and e.request_id not in listed]
    left = {p.request_id for s in run.sessions for p in unrecovered_of(run, s)}

    def recovered() -> bool:
        sessions = run.tenant.sessions
        return all(
            p.request_id not in left or (p.rule is not None and s.close_status == "discard") for s, p in rejected
        ) and all(
            run.sent_again_after(e) or getattr(sessions.get(e.session_id or ""), "close_status", None) == "discard"
            for e in unlisted
        )

    return _met(bool(rejected or unlisted), recovered)


def start_conflict(run: Run) -> Verdict:
    """The client then closed or used the active session, or started one after all."""
    conflicts = [e for e in run.entries if e.code == "session_already_active"]

    def dealt_with(e: JournalEntry) -> bool:
        named = conflicts[-1].names_session
        return (
            (e.operation == "close_session" and named is None)  # a 409 that named none: any close
            or (e.operation == "start_session" and e.status == 201)
            or (e.session_id is not None and e.session_id == named)
        )

    return _met(bool(conflicts), lambda: _later(run, conflicts[-1], dealt_with))


def session_not_active(run: Run) -> Verdict:
    """A new session was started, or the inactive one closed with apply, and no page it refused
    was left out of an applied session (``Run.pages_left_out``)."""
    inactive = [e for e in run.entries if e.code == "session_not_active"]

    def moved_on(e: JournalEntry) -> bool:
        return (e.operation == "start_session" and e.status == 201) or (
            e.operation == "close_session" and e.status == 202
        )

    def recovered() -> bool:
        return _later(run, inactive[-1], moved_on) and not any(
            entry.code == "session_not_active" for entry, _ in run.pages_left_out()
        )

    return _met(bool(inactive), recovered)


def payload_too_large(run: Run) -> Verdict:
    """A later page of the same session was accepted (the page was split)."""
    accepted_in = last_arrival(
        run.entries, lambda e: e.session_id if e.operation == "push_page" and e.status == 202 else None
    )
    too_large = [e for e in run.entries if e.operation == "push_page" and e.status == 413]
    return _met(bool(too_large), lambda: all(accepted_in.get(t.session_id, 0) > t.answer for t in too_large))


def _attempt_key(entry: JournalEntry) -> tuple[str, str | None]:
    """What a retry of this request looks like: a start has no session yet (the retry's answer names
    the new one), every other operation is retried on its session."""
    return entry.operation, None if entry.operation == "start_session" else entry.session_id


def rate_limited(run: Run) -> Verdict:
    """The throttled call later succeeded: for a push whose page was read, that page (the same
    bytes) was accepted later, as after a lost answer; for any other call, the same operation (on
    the same session but for a start). A later page accepted in its place is not the throttled
    one: a client that moved on past it was called recovered."""
    throttled = [e for e in run.entries if e.status == 429]

    def recovered() -> bool:
        succeeded = last_arrival(
            run.entries, lambda e: _attempt_key(e) if 200 <= e.status < 300 and not lost(e) else None
        )
        recoveries = _Recoveries(run)
        for throttle in throttled:
            page_recovered = recoveries.after(throttle) if throttle.operation == "push_page" else None
            if page_recovered is None:  # not a push, or its page not known: the same operation later
                page_recovered = succeeded.get(_attempt_key(throttle), 0) > throttle.answer
            if not page_recovered:
                return False
        return True

    return _met(bool(throttled), recovered)


def session_expired(run: Run) -> Verdict:
    """Applied after all, or a new session started after it expired; not when a page pushed to
    it after it expired was left out of it and it was applied alone (``Run.pages_left_out``)."""
    newest_start = max((s.created_at for s in run.sessions), default=0.0)
    expired = [s for s in run.sessions if s.expired_at is not None]

    def recovered() -> bool:
        short = {session.id for entry, session in run.pages_left_out() if entry.code == "session_not_active"}
        return all(
            s.id not in short and (s.close_status == "apply" or newest_start >= (s.expired_at or 0.0)) for s in expired
        )

    return _met(bool(expired), recovered)


def processing_retried(run: Run) -> Verdict:
    """Each retried session ended processed and the client read it so: the retry is Sprinto's
    doing, the client's part is to keep polling (one that closed and left never knew). A retried
    session whose processing then failed is ``processing_failed``'s: its recovery means nothing here
    (None when every retried session failed), so a client that rightly stopped is not counted
    unrecovered twice."""
    retried = [s for s in run.sessions if s.retry_count > 0 and s.state is not State.FAILED]
    if not retried and any(s.retry_count > 0 for s in run.sessions):
        return True, None

    def seen_processed() -> bool:
        last_read: dict[str, float] = {}
        answered: dict[str, set[float]] = {}
        for entry in run.of_operation("get_session"):
            if entry.session_id is not None:
                last_read[entry.session_id] = max(last_read.get(entry.session_id, -1.0), arrived(entry))
                answered.setdefault(entry.session_id, set()).add(entry.at)
        # A read that arrived once the session had finished saw it processed (the emulator answers
        # with the state as of arrival); so did the read a HAR's session finished at (``har``: at
        # the answer that showed it, which arrived before then).
        return all(
            s.state is State.PROCESSED
            and (last_read.get(s.id, -1.0) >= (s.finished_at or 0.0) or s.finished_at in answered.get(s.id, ()))
            for s in retried
        )

    return _met(bool(retried), seen_processed)


def processing_failed(run: Run) -> Verdict:
    """A session started after the failure was processed."""
    newest_processed = max((s.created_at for s in run.sessions if s.state is State.PROCESSED), default=-1.0)
    failed = [s for s in run.sessions if s.state is State.FAILED]
    return _met(bool(failed), lambda: all(newest_processed >= (s.finished_at or 0.0) for s in failed))


def discarded(run: Run) -> Verdict:
    return any(s.close_status == "discard" for s in run.sessions), None


def applied(run: Run) -> Verdict:
    return any(s.state is State.PROCESSED for s in run.sessions), None


class _Recoveries:
    """What settles a lost or refused request, each kind's last arrival indexed once: a push's page
    accepted later (``Run.page_keys``), a session read, closed or used, an operation answered. A
    scan of the run a fault held the loop 1.7 s on 10,000 throttled pages."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.page: dict[Any, int] = {}  # a page key: the last push accepted carrying it
        self.read: dict[str | None, int] = {}  # a session: its last read answered 200
        self.closed: dict[str | None, int] = {}  # a session: a close answered 202 or 409, or a read
        self.answered: dict[str, int] = {}  # an operation: its last 2xx
        self.used: dict[str | None, int] = {}  # a session: the last 2xx of a request on it
        for entry in run.entries:
            if lost(entry):
                continue
            arrival, session = entry.arrival, entry.session_id
            if entry.operation == "push_page" and entry.status == 202:
                for key in run.page_keys(entry):
                    self.page[key] = max(self.page.get(key, 0), arrival)
            read = entry.operation == "get_session" and entry.status == 200
            if read:
                self.read[session] = max(self.read.get(session, 0), arrival)
            if read or (entry.operation == "close_session" and entry.status in (202, 409)):
                self.closed[session] = max(self.closed.get(session, 0), arrival)
            if 200 <= entry.status < 300:
                self.answered[entry.operation] = max(self.answered.get(entry.operation, 0), arrival)
                if session is not None:
                    self.used[session] = max(self.used.get(session, 0), arrival)

    def after(self, fault: JournalEntry) -> bool | None:
        """Whether ``fault`` was recovered from: for a push, its page accepted later, or read
        counted in its session when it was staged before its answer was lost; for a close, its
        session closed or read; for a lost start, a later start or a use of the session it made
        (the next start's 409 names it); for anything else, the same operation answered. None: a
        push whose page is not known (its body never read)."""
        answer, session = given_up_on(fault), fault.session_id
        if fault.operation == "push_page":
            keys = self.run.page_keys(fault)
            if not keys:
                return None
            staged_and_read = fault.page is not None and self.read.get(session, 0) > answer
            return staged_and_read or any(self.page.get(key, 0) > answer for key in keys)
        if fault.operation == "close_session":
            return self.closed.get(session, 0) > answer
        if fault.operation == "start_session" and session is not None:
            return self.answered.get("start_session", 0) > answer or self.used.get(session, 0) > answer
        return self.answered.get(fault.operation, 0) > answer


def transport_fault(run: Run) -> Verdict:
    faults = [e for e in run.entries if transport_broken(e)]

    def recovered() -> bool:
        recoveries = _Recoveries(run)
        return all(recoveries.after(f) is not False for f in faults)

    return _met(bool(faults), recovered)


BEHAVIOURS: dict[str, Callable[[Run], Verdict]] = {
    "page_rejected": page_rejected,
    "start_conflict": start_conflict,
    "session_not_active": session_not_active,
    "payload_too_large": payload_too_large,
    "rate_limited": rate_limited,
    "session_expired": session_expired,
    "processing_retried": processing_retried,
    "processing_failed": processing_failed,
    "discarded": discarded,
    "applied": applied,
    "transport_fault": transport_fault,
}


# What each behaviour counts as recovered, in a sentence: the functions above, said for people (the
# table in docs/pytest.md is ``recovery_table``'s); None where recovery means nothing.
RECOVERED_WHEN: dict[str, str | None] = {
    "page_rejected": "the fixed page was accepted later; a page a scenario rejected (no fix can change it) "
    "was sent again and accepted, or its session discarded",
    "start_conflict": "the client then closed or used the active session the 409 named, or started one after all",
    "session_not_active": "a new session was started, or the inactive one closed with apply, and no page it "
    "refused was left out of an applied session",
    "payload_too_large": "a later page of the same session was accepted (the page was split)",
    "rate_limited": "the throttled call later succeeded; for a push, the same page was accepted, not the next one",
    "session_expired": "the session was applied anyway, or a new one started after it expired, and no page it "
    "refused was left out of an applied session",
    "processing_retried": "the client read the retried session `processed` (the retry is Sprinto's, the polling "
    "the client's); recovery means nothing when the retried processing failed too (`processing_failed` covers "
    "that session)",
    "processing_failed": "a session started after the failure was processed: the sync was run again and "
    "succeeded. Failing loudly (an error, nothing applied) is right too: the exam expects it",
    "discarded": None,
    "applied": None,
    "transport_fault": "the same request later succeeded: the page accepted (or read counted in its session when "
    "it was staged before its answer was lost), the close or the read done, a lost start's session used or "
    "another started",
}

# Where a met behaviour's recovery means nothing (its ``recovered`` None), said for people: why, in
# the words the pytest summary's line gives the tests it counts so.
MEANS_NOTHING_WHEN: dict[str, str] = {
    "processing_retried": "the retried processing failed too: processing_failed covers it",
}

# Behaviours whose right handling may be to stop: a failure that running the sync again cannot be
# trusted to cure (the exam's processing-failed trial expects a non-zero exit). Not recovering from
# one is no sign of a problem, so a summary must not read "recovered in 0" as one.
STOPPING_IS_RIGHT = frozenset({"processing_failed"})


def recovery_table() -> str:
    """``RECOVERED_WHEN`` as the markdown table docs/pytest.md carries (``tests/plugin`` compares)."""
    rows = ["| behaviour | recovered when |", "|---|---|"]
    for name in BEHAVIOURS:
        when = RECOVERED_WHEN[name]
        rows.append(f"| `{name}` | {when if when is not None else '(recovery means nothing here)'} |")
    return "\n".join(rows)


def coverage(run: Run) -> list[Coverage]:
    """Each documented behaviour: whether the run met it, and whether the client recovered."""
    return finished(covering(run))


def covering(run: Run) -> Steps[list[Coverage]]:
    """``coverage`` a behaviour at a time (``steps``; ``judging``)."""
    found = []
    for name, behaviour in BEHAVIOURS.items():
        yield
        found.append(Coverage(name, *behaviour(run)))
    return found


def nothing_to_meet(answers: Iterable[tuple[int, str | None]], sessions: Iterable[Session]) -> bool:
    """True when no behaviour above can have been met, read without indexing a ``Run``: every
    answer (the status and code of each of the tenant's entries: ``Journal.answers_after``) a
    success without a code, and every session still active, with no rejected page, expiry or
    retry. Each behaviour needs at least one of those (an error status or code, a lost answer's
    code, a rejected page, an expired, retried, failed, closed or applied session); a behaviour
    added to ``BEHAVIOURS`` must keep it so. Most pytest tests' requests all succeed: their report
    costs this walk, not the judge's."""
    return all(status < 400 and code is None for status, code in answers) and all(
        s.state is State.ACTIVE
        and not s.rejected_pages
        and s.expired_at is None
        and s.retry_count == 0
        and s.close_status is None
        for s in sessions
    )


def met_behaviours(run: Run) -> dict[str, bool | None]:
    """The behaviours the run met, each with whether the client recovered: ``coverage`` without
    the unmet ones and without an object each (what a pytest test's report carries, every test)."""
    met: dict[str, bool | None] = {}
    for name, behaviour in BEHAVIOURS.items():
        was_met, recovered = behaviour(run)
        if was_met:
            met[name] = recovered
    return met
