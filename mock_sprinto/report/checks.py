"""The checks: one function per finding kind, each a pure function of the ``Run``.

A finding never fires on what Sprinto's docs recommend: a retry once ``Retry-After`` elapsed, a
rejected page fixed and sent again, a page sent again after an answer that never reached the
client, an expiry a scenario forced, a limit a scenario imposed.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from ..codes import CATALOGUE, TOO_MANY_ITEMS
from ..faults.engine import prefer_asked
from ..journal import JournalEntry
from ..lifecycle import State
from ..store import Dataset, Page, PageRows, Session, page_fields, rejected_record_keys
from .kinds import BY_ID, NO_BACKOFF_SECONDS, POLL_READS
from .model import Finding
from .run import (
    SIZE_CODES,
    SPRINTO_MAX_REQUEST_BYTES,
    SPRINTO_PAGE_ITEMS,
    Run,
    arrived,
    evidence,
    failed_recoverably,
    given_up_on,
    in_flight,
    last_arrival,
    lost,
    when,
)
from .sessions import (
    close_without_pages,
    close_without_status,
    outcome_not_read,
    session_left_active,
    session_left_to_expire,
    start_conflict_ignored,
    start_conflict_unhandled,
)

RETRY_SLACK_SECONDS = 0.005  # a retry this close to Retry-After waited it out (timer jitter)
POLL_SPAN_SECONDS = (POLL_READS - 1) * 0.95  # status_polled_too_fast: once a second, 5 % timer slack
POLL_MIN_WAIT_SECONDS = 0.05  # a first wait shorter than this is no wait: doubling it is no backoff
POLL_SLOWEST_TOO_FAST = POLL_SPAN_SECONDS / (POLL_READS - 1)  # a wait this long is once a second


# ---- requests -----------------------------------------------------------------------------------
# 4xx answers that are no refusal of what the client sent: a timeout sending it (408), the state of
# the integration or a session (409), throttling (429), the client hanging up (499).
NOT_THE_CLIENTS_4XX = frozenset({408, 409, 429, 499})
MEANINGS = {code.code: code.meaning for code in CATALOGUE}
DETAIL_CHARS = 300  # of a refusal's detail, as an evidence item quotes it


def no_request_accepted(run: Run) -> Finding:
    """A client none of whose requests was accepted, and some of them refused for what they sent
    (``refused_for_what_it_sent``): a Java client whose HttpURLConnection sent its start as a form
    got 415, exited 1, and had a clean report (nothing else is judged of a run without a session).
    Not a run whose every failure was a scenario's, a ``Prefer`` header's, a 5xx or a 409: those
    are the other checks' (``gave_up``, ``start_conflict_unhandled``). One item: the refusals by
    status and code, with counts, and the first one's detail."""
    finding = BY_ID["no_request_accepted"].new()
    if any(200 <= e.status < 300 for e in run.entries):
        return finding
    refused = [e for e in run.arrivals if refused_for_what_it_sent(e)]
    if not refused:
        return finding
    counts: dict[str, int] = {}
    for entry in refused:
        key = f"{entry.status} {entry.code}" if entry.code else str(entry.status)
        counts[key] = counts.get(key, 0) + 1
    first = refused[0]
    more: dict[str, Any] = {"operation": first.operation, "status": first.status, "code": first.code}
    detail = _detail(first)
    if detail is not None:
        more["detail"] = detail
    finding.note(lambda: evidence(first, **more, refusals=counts, requests=len(run.entries)))
    return finding


def refused_for_what_it_sent(entry: JournalEntry) -> bool:
    """A 4xx the request's own form or content earned (``NOT_THE_CLIENTS_4XX`` aside), not a rule's."""
    return 400 <= entry.status < 500 and entry.status not in NOT_THE_CLIENTS_4XX and entry.rule is None


def _detail(entry: JournalEntry) -> str | None:
    """A refusal's detail: the answer's own where the journal kept its body (``journal_bodies_bytes``;
    a HAR's answer), else what its code means (the catalogue of codes); None for a code not known."""
    if entry.response_body:
        try:
            answer = orjson.loads(entry.response_body)
        except orjson.JSONDecodeError:  # cut short, or not JSON
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("detail"), str):
            return str(answer["detail"])[:DETAIL_CHARS]
    return MEANINGS.get(entry.code or "")


# ---- retries ------------------------------------------------------------------------------------
def retry_too_soon(run: Run) -> Finding:
    finding = BY_ID["retry_too_soon"].new()
    told = [e for e in run.entries if e.retry_after is not None and not lost(e)]  # in answer order
    if not told:
        return finding
    answers = [e.answer for e in told]
    latest: list[JournalEntry] = []  # the answer with the latest deadline among the first n
    for entry in told:
        best = latest[-1] if latest else None
        latest.append(entry if best is None or _deadline(entry) >= _deadline(best) else best)
    sessions = run.tenant.sessions
    frozen = run.tenant.settings.frozen_clock
    for entry in run.client:
        known = bisect.bisect_left(answers, entry.arrival)  # Retry-Afters answered before this one arrived
        # Those answered just before it on another connection: a concurrent client had it on its way
        # (not a retry of the throttled request itself, which waits for its answer).
        while known and in_flight(told[known - 1], entry) and _attempt(run, told[known - 1]) != _attempt(run, entry):
            known -= 1
        if known == 0 or _discards(entry, sessions):
            continue
        cause = latest[known - 1]
        if frozen and arrived(entry) <= cause.at:  # emulator time never moved: the wait is unknown
            continue
        if arrived(entry) < _deadline(cause) - RETRY_SLACK_SECONDS:
            finding.note(
                lambda: evidence(
                    entry,
                    operation=entry.operation,
                    after_429=cause.request_id,
                    after_status=cause.status,
                    retry_after_seconds=cause.retry_after,
                    waited_seconds=round(max(0.0, arrived(entry) - cause.at), 3),
                )
            )
    return finding


def _discards(entry: JournalEntry, sessions: Mapping[str, Session]) -> bool:
    """A close that discarded its session: a client giving up cleans up at once, as it should."""
    session = sessions.get(entry.session_id or "") if entry.operation == "close_session" else None
    return session is not None and session.close_status == "discard"


def _deadline(entry: JournalEntry) -> float:
    return entry.at + float(entry.retry_after or 0)


def _definitive(entry: JournalEntry) -> bool:
    """An answer that settles a request: the client read it, and no retry would change it."""
    return not failed_recoverably(entry)


def _follow_up_keys(run: Run, entry: JournalEntry, sessions: Mapping[str, Session]) -> tuple[Any, ...]:
    """What a settled request follows up (``gave_up``): a start any start; a close a close of its
    session, and a read of the session once it was closed (a read that shows it still active tells
    the client its close failed: it follows nothing up); a push a push of the same page
    (``Run.page_keys``); and any read of a session follows up a push to it whose answer was lost
    after its page was staged (the read shows the page counted, so sending it again would stage it
    twice)."""
    operation = entry.operation
    if operation == "start_session":
        return ("start",)
    if operation == "close_session":
        return (("close", entry.session_id),)
    if operation == "get_session":
        session = sessions.get(entry.session_id or "")
        closed = session is not None and session.closed_at is not None and session.closed_at <= arrived(entry)
        return (("read", entry.session_id), ("close", entry.session_id)) if closed else (("read", entry.session_id),)
    if operation == "push_page":
        return run.page_keys(entry)
    return ()


def _failure_keys(run: Run, entry: JournalEntry) -> tuple[Any, ...]:
    """The follow-up keys any one of which settles a failure (``_follow_up_keys``'s). A push whose
    page is not known (a 429 from the rate limit comes before its body is read; a HAR without
    bodies or hints) is settled by any settled push or start (``ANY_PUSH``)."""
    if entry.operation == "start_session":
        return ("start",)
    if entry.operation == "close_session":
        return (("close", entry.session_id),)
    keys = run.page_keys(entry)
    if not keys:
        return (ANY_PUSH,)
    if lost(entry) and entry.page is not None:  # staged, then its answer lost: a read tells the client
        keys += (("read", entry.session_id),)
    return keys


ANY_PUSH = ("bytes", None)
# gave_up: a failure retried for this long (its first answer to its last try) and then its session
# discarded failed loudly, as the advice says; two tries within it did not back off
GIVING_UP_AFTER_SECONDS = 1.0


def gave_up(run: Run) -> Finding:
    """A failed start, push or close the client never sent again to a settling answer, counted once
    an attempt (``_attempt``: its tries of one page are one, whatever their bytes). Not one the
    client failed loudly on after retrying with backoff, as the advice says: tried again over
    ``GIVING_UP_AFTER_SECONDS`` or more, then its session discarded. Each kind of follow-up's last
    settled arrival is indexed once: one look-up a failure, not a scan of every later request (a
    busy integration's report is read by the dashboard every second)."""
    finding = BY_ID["gave_up"].new()
    followed_up = ("start_session", "push_page", "close_session")
    failures = [e for e in run.client if e.operation in followed_up and failed_recoverably(e)]
    if not failures:  # most runs: no index of follow-ups (~20 ms of a full journal's report on a slow machine)
        return finding
    sessions = run.tenant.sessions
    last: dict[Any, int] = {}
    last_push_or_start = 0
    for settled in run.arrivals:  # a read the HTTP library sent again by itself answered the client too
        if not _definitive(settled):
            continue
        for key in _follow_up_keys(run, settled, sessions):
            last[key] = max(last.get(key, 0), settled.arrival)
        if settled.operation in ("push_page", "start_session"):
            last_push_or_start = max(last_push_or_start, settled.arrival)
    discarded = last_arrival(
        run.client, lambda e: e.session_id if e.operation == "close_session" and _discards(e, sessions) else None
    )
    attempts: dict[Any, list[JournalEntry]] = defaultdict(list)  # an attempt's failures, in order
    for failure in failures:
        attempts[_attempt(run, failure)].append(failure)
    for tries in attempts.values():
        entry = tries[-1]
        keys = {key for each in tries for key in _failure_keys(run, each)}
        followed = max(last_push_or_start if key == ANY_PUSH else last.get(key, 0) for key in keys)
        if followed > given_up_on(entry):  # a settled follow-up arrived after its last failure's answer
            continue
        backed_off = arrived(entry) - tries[0].at >= GIVING_UP_AFTER_SECONDS or run.tenant.settings.frozen_clock
        if len(tries) > 1 and backed_off and discarded.get(entry.session_id, 0) > given_up_on(entry):
            continue  # retried, then failed loudly: the session discarded, nothing half applied
        finding.note(lambda: evidence(entry, operation=entry.operation, status=entry.status, code=entry.code))
    return finding


def _attempt(run: Run, entry: JournalEntry) -> tuple[str, str | None, Any]:
    """What makes two requests the same attempt: the operation, its session and (a push) its page,
    by its ``page_hint`` where the session's hints name its pages (a page built again for each retry
    is still that page), else by its bytes; a push whose page is not known is an attempt of its own."""
    if entry.operation != "push_page":
        return entry.operation, entry.session_id, None
    keys = run.page_keys(entry)  # its hint when it has one, else its bytes
    return entry.operation, entry.session_id, keys[-1] if keys else entry.request_id


def retry_without_backoff(run: Run) -> Finding:
    finding = BY_ID["retry_without_backoff"].new()
    if run.tenant.settings.frozen_clock:  # emulator time stands still: waits cannot be measured
        return finding
    failed: dict[tuple[str, str | None, Any], JournalEntry] = {}
    quick: dict[tuple[str, str | None, Any], list[float]] = defaultdict(list)  # waits in a row
    reported: set[tuple[str, str | None, Any]] = set()
    for entry in run.client:
        key = _attempt(run, entry)
        previous = failed.pop(key, None)
        if previous is not None and previous.answer < entry.arrival:
            wait = arrived(entry) - previous.at
            if wait < NO_BACKOFF_SECONDS and previous.retry_after is None:  # a Retry-After is retry_too_soon's
                quick[key].append(round(max(wait, 0.0), 3))
            else:
                quick[key].clear()
            if len(quick[key]) >= 2 and key not in reported:
                reported.add(key)
                finding.note(lambda: evidence(entry, operation=entry.operation, waits_seconds=list(quick[key])))
        if entry.status >= 500 or lost(entry) or (entry.status == 429 and entry.retry_after is None):
            failed[key] = entry  # a 429 that says how long to wait is retry_too_soon's
        else:
            quick.pop(key, None)
    return finding


# ---- pages --------------------------------------------------------------------------------------
def resent_rejected_page_unchanged(run: Run) -> Finding:
    """A page rejected 400 sent again unchanged: the same bytes, or the same records (their keys)
    refused for the same errors, whatever its page_hint or its serialization (a client re-tagging
    or re-serializing each try sent the same content 7 times unjudged)."""
    finding = BY_ID["resent_rejected_page_unchanged"].new()
    contents = _rejected_contents(run)
    rejected: dict[Any, JournalEntry] = {}
    for entry in run.pushes():
        keys = [key for key in (entry.digest, contents.get(entry.request_id)) if key is not None]
        first = next((found for key in keys if (found := rejected.get(key)) is not None), None)
        if first is not None and first.code == TOO_MANY_ITEMS.code and first.session_id != entry.session_id:
            # A sync started again (after an expiry, say) that splits an over-long page once refused,
            # as it did the first time: the page was never sent again unchanged where it was
            # refused, and the limit is the emulator's (too_many_records warns of it).
            first = None
        if first is not None and first.answer < entry.arrival:
            finding.note(lambda: evidence(entry, rejected_request_id=first.request_id, rejected_page=first.page))
        if entry.status == 400 and first is None and not lost(entry):
            rejected.update(dict.fromkeys(keys, entry))
    return finding


def _rejected_contents(run: Run) -> dict[str, Any]:
    """What a page rejected 400 held, as far as its refusal tells: its records' keys and its errors
    (where each is, and what), by the request that sent it; none for a page whose keys were not read."""
    contents: dict[str, Any] = {}
    for session in run.sessions:
        for page in session.rejected_pages:
            if page.record_keys and not page.errors_truncated:  # errors cut short: a fix beyond them is unseen
                errors = tuple((e.get("pointer"), e.get("code"), e.get("issue")) for e in page.errors)
                contents[page.request_id] = ("content", page.record_keys, errors)
    return contents


def unrecovered_pages(
    session: Session, datasets: Mapping[str, Dataset] | None = None, key_fields: Mapping[str, str] | None = None
) -> list[Page]:
    """Rejected or refused pages of a session (but an empty one: it held nothing to apply) with no
    accepted page after them that replaces them. A page refused for its size (split into pieces
    with hints of their own) is replaced by any later accepted page, and any page by a later
    accepted page of its bytes (its digest leaves its hint out). Once the session was processed,
    a page rejected 400 whose record keys were read (``Page.record_keys``) was replaced when its
    records but the invalid ones were applied in the end, whatever page_hint they came under.
    Otherwise a later accepted page with the same page_hint replaced it, or, without a hint, any
    later accepted page, or the pages accepted right after it holding its records (read from their
    staged bodies by ``key_fields``, before the session is processed)."""
    if not session.rejected_pages:  # most sessions: their accepted pages need no reading
        return []
    last = 0
    last_by_hint: dict[Any, int] = {}
    last_by_digest: dict[str, int] = {}
    for ordinal, hint, digest in page_fields(session.accepted_pages, "ordinal", "page_hint", "digest"):
        last = max(last, ordinal)
        if hint is not None:
            key = (type(hint), hint)
            last_by_hint[key] = max(last_by_hint.get(key, 0), ordinal)
        if digest is not None:
            last_by_digest[digest] = max(last_by_digest.get(digest, 0), ordinal)
    left = []
    staged: dict[int, frozenset[tuple[str, str]]] = {}  # the records of each accepted page read, by ordinal
    for page in session.rejected_pages:
        hint = page.page_hint
        if page.code == "empty_page":  # no record in it to send again: nothing was left out
            continue
        if page.code in SIZE_CODES:
            replaced = last > page.ordinal
        elif page.digest is not None and last_by_digest.get(page.digest, 0) > page.ordinal:
            # the same bytes accepted later (a rule's rejection sent again, under any hint)
            replaced = True
        elif (applied := _records_applied(page, session, datasets)) is not None:
            # Asked before the hint: a page sent again under its hint with only the record it
            # fixed passed for the whole page, its valid records lost (a schema author's review).
            replaced = applied
        elif hint is not None and last_by_hint.get((type(hint), hint), 0) > page.ordinal:
            replaced = True
        else:
            replaced = (hint is None and last > page.ordinal) or (
                session.close_status == "apply" and _records_staged_after(page, session, key_fields or {}, staged)
            )
        if not replaced:
            left.append(page)
    return left


def unrecovered_of(run: Run, session: Session) -> list[Page]:
    """``unrecovered_pages`` of one of the run's sessions, made once a report: the finding and the
    coverage both ask, and each may read up to ``STAGED_PAGES_READ_A_REPORT`` staged bodies."""
    found = run.unrecovered.get(session.id)
    if found is None:
        found = run.unrecovered[session.id] = unrecovered_pages(session, run.tenant.datasets, run.key_fields)
    return found


STAGED_PAGES_READ = 20  # the accepted pages after a rejected one whose bodies are read for its records
# and the bodies read for a session in one report at most (~12 ms of one step of the loop): a session
# of 200 rejected pages spread among 10,000 staged ones read 4,000 bodies, ~240 ms, at every report
# the dashboard asked for while it was processing
STAGED_PAGES_READ_A_REPORT = 200


def _records_staged_after(
    page: Page, session: Session, key_fields: Mapping[str, str], staged: dict[int, frozenset[tuple[str, str]]]
) -> bool:
    """Whether the pages its session accepted right after a rejected page (``STAGED_PAGES_READ`` at
    most) hold its records, all but the invalid ones, read from their staged bodies: before the
    session is processed what it applied tells nothing, and a page sent again under a hint naming
    the attempt and serialized anew, or split under hints of its own, was "left out" until then.
    Asked only of a session closed with apply (where a page is left out), each body read once a
    report (``staged``): ~60 µs a 100-record page."""
    if not page.record_keys or not key_fields or isinstance(session.accepted_pages, PageRows):
        return False  # a finished session's pages keep no body; its datasets told, or cannot
    wanted = set(page.record_keys)
    found: set[tuple[str, str]] = set()
    pages = session.accepted_pages
    start = bisect.bisect_right(pages, page.ordinal, key=lambda staged: staged.ordinal)
    for accepted in pages[start : start + STAGED_PAGES_READ]:
        if accepted.payload is None:
            continue
        if (keys := staged.get(accepted.ordinal)) is None:
            if len(staged) >= STAGED_PAGES_READ_A_REPORT:
                return False  # read enough this report: judged by its hint alone
            keys = staged[accepted.ordinal] = frozenset(rejected_record_keys(accepted.payload, key_fields.get) or ())
        found |= wanted & keys
        if len(found) >= _records_needed(page):
            return True
    return False


def _records_applied(page: Page, session: Session, datasets: Mapping[str, Dataset] | None) -> bool | None:
    """Whether a record of a rejected page was applied by its session; None when it cannot be told:
    its keys were not read, its session was not processed, or a later session's apply has since
    replaced what this one applied (a record the next sync left out is no sign of a skipped page)."""
    if not page.record_keys or datasets is None or session.state is not State.PROCESSED:
        return None
    applied = {
        entity_type: dataset
        for entity_type, _ in page.record_keys
        if (dataset := datasets.get(entity_type)) is not None and dataset.applied_by_session == session.id
    }
    if not applied:
        return None
    held = sum(1 for entity_type, key in page.record_keys if entity_type in applied and applied[entity_type].holds(key))
    return held >= _records_needed(page)


def _records_needed(page: Page) -> int:
    """How many of a rejected page's records (``Page.record_keys``) a page that replaces it holds:
    every one but the invalid ones (which a client may drop, unable to fix them: a page "fixed" by
    sending one of its 100 records on lost the other 98, a pytest user's review), at least one;
    one when its errors were cut short (how many records were invalid is not known)."""
    if page.errors_truncated or not page.record_keys:
        return 1
    invalid = {(e.get("entity_type"), e.get("index")) for e in page.errors}
    return max(1, len(page.record_keys) - len(invalid))


def applied_with_rejected_pages(run: Run) -> Finding:
    finding = BY_ID["applied_with_rejected_pages"].new()
    for session in run.sessions:
        if session.close_status != "apply":
            continue
        for page in unrecovered_of(run, session):
            finding.note(
                lambda: {
                    "session_id": session.id,
                    "page": page.ordinal,
                    "page_hint": page.page_hint,
                    "request_id": page.request_id,
                    "code": page.code,
                    **({} if page.rule is None else {"why": rule_rejected_why(page.rule)}),
                    "at": when(session.closed_at),
                }
            )
    # what the journal alone tells: a rule's 400 its session does not list, a 409
    for entry, applied in run.pages_left_out():
        why = _INACTIVE_WHY if entry.code == "session_not_active" else rule_rejected_why(entry.rule or "")
        finding.note(
            lambda: {
                "session_id": applied.id,
                "request_id": entry.request_id,
                "code": entry.code,
                "why": why,
                "at": when(applied.closed_at),
            }
        )
    return finding


def rule_rejected_why(rule: str) -> str:
    """Why a page a rule (or the request's Prefer header) rejected was left out of its applied session."""
    asked = prefer_asked(rule)
    who = f"the scenario rule {rule!r}" if asked is None else f"the request's Prefer header ({asked})"
    return f"{who} rejected this page as if it were invalid, and the session was applied without it"


_INACTIVE_WHY = (
    "this push was refused because the session was no longer active, and that session was applied without "
    "the page (start a new session and push every page again)"
)


def push_to_inactive_session(run: Run) -> Finding:
    finding = BY_ID["push_to_inactive_session"].new()
    told: dict[str, JournalEntry] = {}
    sessions = run.tenant.sessions
    closed_by_client: dict[str, int] = {}  # the first close the client was told succeeded (answer order)
    for entry in run.entries:
        if entry.operation == "close_session" and entry.status == 202 and entry.session_id and not lost(entry):
            closed_by_client.setdefault(entry.session_id, entry.answer)
    for entry in run.pushes():
        if entry.status != 409 or entry.code != "session_not_active" or entry.session_id is None:
            continue
        session = sessions.get(entry.session_id)
        closed = closed_by_client.get(entry.session_id, entry.arrival) < entry.arrival
        earlier = told.get(entry.session_id)
        if earlier is not None and in_flight(earlier, entry):
            earlier = None  # a concurrent client's page on its way when the first 409 was sent
        if closed or (earlier is not None and earlier.answer < entry.arrival):
            why = "after the client closed it" if closed else f"again after 409 {earlier.request_id if earlier else ''}"
            finding.note(lambda: evidence(entry, state=session.state.value if session else None, why=why.strip()))
        told.setdefault(entry.session_id, entry)
    return finding


def _size_refusals(run: Run, status: int, code: str) -> list[JournalEntry]:
    return [e for e in run.pushes() if e.rule is None and e.status == status and e.code == code]


def oversized_page(run: Run) -> Finding:
    finding = BY_ID["oversized_page"].new()
    limit = run.tenant.settings.max_request_bytes
    if limit < SPRINTO_MAX_REQUEST_BYTES:  # a limit Sprinto did not set
        return finding
    for entry in _size_refusals(run, 413, "payload_too_large"):
        if entry.body_bytes and entry.body_bytes <= limit:  # 0 or None: not known (a HAR may say 0)
            continue  # within the size on the wire: refused once decoded (max_decoded_bytes, the emulator's bound)
        finding.note(lambda: evidence(entry, code=entry.code, body_bytes=entry.body_bytes))
    return finding


def too_many_records(run: Run) -> Finding:
    finding = BY_ID["too_many_records"].new()
    limit = run.tenant.settings.max_page_items
    if limit is not None and SPRINTO_PAGE_ITEMS is not None and limit < SPRINTO_PAGE_ITEMS:  # not Sprinto's limit
        return finding
    for entry in _size_refusals(run, 400, "too_many_items"):
        finding.note(lambda: evidence(entry, code=entry.code))
    return finding


def duplicate_page(run: Run) -> Finding:
    finding = BY_ID["duplicate_page"].new()
    for session in run.sessions:
        digests = [digest for digest, _ in page_fields(session.accepted_pages, "digest", "ordinal")]
        if len(set(digests)) == len(digests):  # no page sent twice: nothing to look up (most sessions)
            continue
        staged: dict[str, int] = {}  # digest: the first page staged with it, as the client knew
        fields = page_fields(session.accepted_pages, "digest", "ordinal", "request_id", "received_at")
        for digest, ordinal, request_id, received_at in fields:
            if digest is None or run.hung_up(request_id):  # staged after its client had gone
                continue
            first = staged.get(digest)
            if first is not None:
                finding.note(
                    lambda: {
                        "session_id": session.id,
                        "page": ordinal,
                        "request_id": request_id,
                        "same_as_page": first,
                        "at": when(received_at),
                    }
                )
            elif run.received(request_id, 202):  # the client knew it was staged
                staged[digest] = ordinal
    return finding


# ---- bodies and records -------------------------------------------------------------------------
def large_uncompressed_body(run: Run) -> Finding:
    finding = BY_ID["large_uncompressed_body"].new()
    limit = run.tenant.settings.judge_large_body_bytes
    for entry in run.pushes():
        size = entry.body_bytes if entry.body_bytes is not None else entry.bytes_in
        if size is not None and size > limit and entry.encoding in (None, "identity"):
            finding.note(lambda: evidence(entry, body_bytes=size, limit_bytes=limit))
    return finding


# New unknown names one report looks for a misspelling in (a difflib match against the type's known
# fields each, ~20-50 µs; a name judged before is remembered, ``_SUGGESTIONS``): a page of 2,000
# made-up names held a report's one step for seconds, at every report the dashboard asked for.
# The names past these are judged by the next report.
UNKNOWN_NAMES_JUDGED = 500


def unknown_field(run: Run) -> Finding:
    """Reads what ``Run.reading_fields`` kept on each page (a page never read finds nothing). Each
    distinct name is judged once a report, and its suggestion kept between reports
    (``_SUGGESTIONS``): a client sending 20 custom attributes on each of 1,000 pages had 20,000
    difflib matches made at every report (0.7-1.8 s of one step)."""
    finding = BY_ID["unknown_field"].new()
    judged: set[tuple[str, str]] = set()
    lists_seen: set[tuple[str, tuple[str, ...]]] = set()  # most pages repeat the last page's names
    new_names = 0
    for session in run.sessions:
        fields = page_fields(session.accepted_pages, "unknown_fields", "ordinal", "request_id", "received_at")
        for found, ordinal, request_id, received_at in [values for values in fields if values[0]]:
            for entity_type, names in found.items():
                listed = (entity_type, tuple(names))
                if listed in lists_seen:
                    continue
                lists_seen.add(listed)
                fields_known = run.known_field_sets.get(entity_type, frozenset())
                known = _KNOWN.setdefault(fields_known, fields_known)
                lengths = [len(field) for field in known] or [0]
                shortest, longest = min(lengths), max(lengths)
                for name in names:
                    # difflib's 0.8 needs the shorter name at least 2/3 of the longer: a name of a
                    # length no known field comes near is no misspelling, and is never kept
                    if (entity_type, name) in judged or not (
                        3 * len(name) >= 2 * shortest and 2 * len(name) <= 3 * longest
                    ):
                        continue
                    key = (name, known)
                    if key in _SUGGESTIONS:
                        suggestion = _SUGGESTIONS[key]
                    elif new_names < UNKNOWN_NAMES_JUDGED:
                        new_names += 1
                        suggestion = _remember(key, closest_field(name, sorted(known)))
                    else:
                        continue  # the next report judges it
                    judged.add((entity_type, name))
                    if suggestion is None:
                        continue
                    finding.note(
                        lambda: {
                            "entity_type": entity_type,
                            "field": name,
                            "did_you_mean": suggestion,
                            "message": f"`{name}`: did you mean `{suggestion}`?",
                            "session_id": session.id,
                            "page": ordinal,
                            "request_id": request_id,
                            "at": when(received_at),
                        }
                    )
    return finding


# What the judge found a name misspells (or None), by name and the type's known fields, the oldest
# forgotten past SUGGESTIONS_KEPT: the dashboard asks for the same report every second. Only names
# of a length a known field comes near are kept (a few dozen characters), and each set of known
# fields once (_KNOWN), so the memory is bounded whatever the clients send.
SUGGESTIONS_KEPT = 4096
_SUGGESTIONS: dict[tuple[str, frozenset[str]], str | None] = {}
_KNOWN: dict[frozenset[str], frozenset[str]] = {}


def _remember(key: tuple[str, frozenset[str]], suggestion: str | None) -> str | None:
    if len(_SUGGESTIONS) >= SUGGESTIONS_KEPT:
        del _SUGGESTIONS[next(iter(_SUGGESTIONS))]
    _SUGGESTIONS[key] = suggestion
    return suggestion


def closest_field(name: str, known: Iterable[str]) -> str | None:
    """The known field a name most likely misspells: the same but for case, or difflib's closest
    within ``MAX_TYPO_EDITS`` edits of it. Difflib alone took a field of its own for a typo when it
    shares a long stem (``employmentStatus``: "did you mean employmentStartDate?", an HR attribute
    Sprinto accepts, a warning that failed the client's report)."""
    choices = list(known)
    for choice in choices:
        if choice.lower() == name.lower():
            return choice
    lowered = {choice.lower(): choice for choice in choices}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[match[0]] if match and _edits(name.lower(), match[0]) <= MAX_TYPO_EDITS else None


MAX_TYPO_EDITS = 2  # a typo: a letter or two missing, extra, wrong, or two swapped (workEmial, employeId)


def _edits(a: str, b: str) -> int:
    """The letters to insert, delete or change, or neighbours to swap, to make ``a`` into ``b``
    (optimal string alignment distance); past ``MAX_TYPO_EDITS``, any larger number."""
    if abs(len(a) - len(b)) > MAX_TYPO_EDITS:
        return MAX_TYPO_EDITS + 1
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        previous, row = row, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and before is not None:
                row[j] = min(row[j], before[j - 2] + 1)
        before = previous
        if min(row) > MAX_TYPO_EDITS:
            return MAX_TYPO_EDITS + 1
    return row[-1]


def status_polled_too_fast(run: Run) -> Finding:
    """Polls of a session in a row, too many too soon. A push or a close to the session between two
    reads ends the row: a client that reads its session before each page (is it still active?) is
    checking, not polling, and was warned.

    A poll is a read and the reads that retried it: a read answered with a failure a retry recovers
    from (429, a 5xx, a lost answer) is tried again, and the wait between them is the failure's (the
    ``Retry-After`` a 429 imposed, the retry's backoff), not the poll's. A poll's wait runs from its
    answered try to the next poll's first read: a client polling 0.2 s, 0.3, 0.45... after waiting
    out the second its throttled first read was told to wait backs off, as the advice says. The tries
    of one poll are judged alike among themselves: reads failing in a row, each sent again 0.05 s
    later, are still reads too many too soon. Every read counts, one an HTTP library sent again by
    itself too (a try of its poll)."""
    finding = BY_ID["status_polled_too_fast"].new()
    if run.tenant.settings.frozen_clock:  # emulator time stands still (or a HAR's is to the second): no wait is known
        return finding
    reads: dict[str, list[JournalEntry]] = defaultdict(list)
    rows: list[tuple[str, list[JournalEntry]]] = []
    for entry in run.arrivals:
        if entry.session_id is None:
            continue
        if entry.operation == "get_session":
            reads[entry.session_id].append(entry)
        elif entry.operation in ("push_page", "close_session") and reads.get(entry.session_id):
            rows.append((entry.session_id, reads.pop(entry.session_id)))
    rows += reads.items()
    for session_id, seen in rows:
        polls = _polls(seen)
        # the polls, each from its first read to its answered one; and each poll's tries, one a read
        for steps in (polls, *([[read] for read in tries] for tries in polls if len(tries) >= POLL_READS)):
            found = _too_fast(steps)
            if found is not None:
                window, span = found
                finding.note(
                    lambda: {
                        "session_id": session_id,
                        "reads": len(seen),
                        "request_ids": [e.request_id for e in window],
                        "window_seconds": round(span, 3),
                        "at": when(arrived(window[0])),
                    }
                )
                break
    return finding


def _polls(reads: Sequence[JournalEntry]) -> list[list[JournalEntry]]:
    """A row of reads as polls: a read answered with a failure a retry recovers from is one poll
    with the reads after it, up to the first that was not (``status_polled_too_fast``)."""
    polls: list[list[JournalEntry]] = []
    tries: list[JournalEntry] = []
    for read in reads:
        tries.append(read)
        if not failed_recoverably(read):
            polls.append(tries)
            tries = []
    if tries:  # failed, and not tried again (yet)
        polls.append(tries)
    return polls


def _too_fast(polls: Sequence[Sequence[JournalEntry]]) -> tuple[list[JournalEntry], float] | None:
    """The first ``POLL_READS`` polls in a row whose waits (a poll's last read to the next one's
    first) add up to less than ``POLL_SPAN_SECONDS`` without backing off: their reads, and the sum."""
    waits = [arrived(later[0]) - arrived(earlier[-1]) for earlier, later in itertools.pairwise(polls)]
    for start in range(len(polls) - POLL_READS + 1):
        span = sum(waits[start : start + POLL_READS - 1])
        if span < POLL_SPAN_SECONDS and not _backs_off(waits[start : start + POLL_READS - 1]):
            return [read for poll in polls[start : start + POLL_READS] for read in poll], span
    return None


def _backs_off(waits: Sequence[float]) -> bool:
    """Waits between polls that grow, each at least as long as the one before (give or take a
    timer's slack), and the last either twice the first or a second already: a poll that starts soon
    and backs off, as a client waiting on a 2 s processing does (0.2 s, 0.3, 0.45...), its waits
    capped at once a second or not; not a fixed short loop."""
    growing = all(later >= earlier * 0.9 for earlier, later in itertools.pairwise(waits))
    backed_off = waits[-1] >= 2 * max(waits[0], POLL_MIN_WAIT_SECONDS) or waits[-1] >= POLL_SLOWEST_TOO_FAST
    if growing and backed_off:
        return True
    # A jittered backoff (each wait drawn between 0 and a cap that doubles: "full jitter") grows on
    # the whole, not wait by wait: its later waits are longer on average than its first ones.
    half = len(waits) // 2
    early, late = sum(waits[:half]) / half, sum(waits[-half:]) / half
    return late >= JITTER_GROWTH * max(early, POLL_MIN_WAIT_SECONDS)


JITTER_GROWTH = 1.5  # a fixed loop's halves are equal; a doubling cap's average 2x


def missing_page_hint(run: Run) -> Finding:
    finding = BY_ID["missing_page_hint"].new()
    for session in run.sessions:
        fields = page_fields(session.accepted_pages, "page_hint", "ordinal", "request_id", "received_at")
        finding.noted(  # counted, not listed, past the first: a run of 100,000 pages makes no 100,000 items
            [values for values in fields if values[0] is None],
            lambda values: {
                "session_id": session.id,
                "page": values[1],
                "request_id": values[2],
                "at": when(values[3]),
            },
        )
    return finding


# In the catalogue's order (kinds.KINDS), so a report lists findings as the README's table does.
CHECKS: dict[str, Callable[[Run], Finding]] = {
    "no_request_accepted": no_request_accepted,
    "retry_too_soon": retry_too_soon,
    "gave_up": gave_up,
    "retry_without_backoff": retry_without_backoff,
    "close_without_status": close_without_status,
    "start_conflict_unhandled": start_conflict_unhandled,
    "resent_rejected_page_unchanged": resent_rejected_page_unchanged,
    "applied_with_rejected_pages": applied_with_rejected_pages,
    "push_to_inactive_session": push_to_inactive_session,
    "oversized_page": oversized_page,
    "too_many_records": too_many_records,
    "duplicate_page": duplicate_page,
    "session_left_to_expire": session_left_to_expire,
    "session_left_active": session_left_active,
    "start_conflict_ignored": start_conflict_ignored,
    "outcome_not_read": outcome_not_read,
    "large_uncompressed_body": large_uncompressed_body,
    "unknown_field": unknown_field,
    "status_polled_too_fast": status_polled_too_fast,
    "close_without_pages": close_without_pages,
    "missing_page_hint": missing_page_hint,
}
