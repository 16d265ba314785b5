"""The judge: verdicts on a client's behaviour, and the Sprinto behaviours its run met.

A pure function of what the emulator saw (the journal and the tenant's store): nothing here answers
a request or changes state. ``GET /_mock/integrations/{id}/report``, the pytest plugin and
``serve``'s summary all read the same ``Report``.

The journal says what the client sent and what it was answered (status, code, ``Retry-After``,
emulator time, the content digest of a page); the store says what became of each session and page.
A finding never fires on what Sprinto's docs recommend: a retry once ``Retry-After`` elapsed, a
rejected page fixed and sent again, a page sent again after an answer that never reached the
client, an expiry a scenario forced.

Automatic transport retries: aiohttp and requests re-send an idempotent GET once, by themselves,
after a connection reset or an empty reply. A GET to the same path that arrives within
``AUTO_RETRY_SECONDS`` of emulator time after a GET answered with an injected transport fault
(journal code ``transport_*``) is taken for the library's retry, not the client's doing, and
counts towards no finding.
"""

from __future__ import annotations

import bisect
import difflib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from .clock import format_time
from .journal import JournalEntry
from .lifecycle import State
from .rules import Basis
from .store import Page, Session, Tenant
from .validation import unknown_fields

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

MAX_EVIDENCE = 20  # items listed per finding; ``count`` is how often it was seen
AUTO_RETRY_SECONDS = 1.0
RETRY_SLACK_SECONDS = 0.005  # a retry this close to Retry-After waited it out (timer jitter)
POLL_READS = 5  # status_polled_too_fast: this many reads of one session...
POLL_SPAN_SECONDS = (POLL_READS - 1) * 0.95  # ...within less than this (once a second, 5 % timer slack)
REJECTED_CODES = frozenset({"validation_failed", "too_many_items", "empty_page", "malformed_body"})  # 400s


@dataclass
class Finding:
    """One kind of client misbehaviour, with every place it was seen (the first MAX_EVIDENCE)."""

    id: str  # stable and documented: tests and CI filters name it
    severity: Severity
    message: str
    advice: str
    basis: Basis  # "doc": Sprinto's best practice says so; "mock": the emulator's judgement
    evidence: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0

    @property
    def count(self) -> int:
        return max(self.seen, len(self.evidence))

    def add(self, item: dict[str, Any]) -> None:
        self.seen = self.count + 1
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(item)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "advice": self.advice,
            "basis": self.basis,
            "count": self.count,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Coverage:
    """Whether the client met a documented Sprinto behaviour, and whether it recovered from it
    (None where recovery means nothing, e.g. ``applied``, or the behaviour was not met)."""

    behaviour: str
    met: bool
    recovered: bool | None

    def public(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "met": self.met, "recovered": self.recovered}


@dataclass
class Report:
    integration_id: str
    findings: list[Finding]
    coverage: list[Coverage]

    def summary(self) -> dict[str, int]:
        counts = {f"{severity}s": 0 for severity in SEVERITIES}
        for finding in self.findings:
            counts[f"{finding.severity}s"] += 1
        return counts

    def public(self) -> dict[str, Any]:
        return {
            "integration_id": self.integration_id,
            "summary": self.summary(),
            "findings": [finding.public() for finding in self.findings],
            "coverage": [item.public() for item in self.coverage],
        }


def summary_text(report: Report, requests: int) -> list[str]:
    """A few lines on one integration's client, as ``serve`` prints them when it stops."""
    counts = report.summary()
    met = [item.behaviour for item in report.coverage if item.met]
    unrecovered = [item.behaviour for item in report.coverage if item.met and item.recovered is False]
    head = (
        f"  {report.integration_id}: {requests} request{'s' if requests != 1 else ''}; "
        f"{counts['errors']} error(s), {counts['warnings']} warning(s), {counts['infos']} info(s)"
    )
    lines = [head]
    for finding in report.findings:
        lines.append(f"    {finding.severity} {finding.id} ({finding.count}x): {finding.message}")
    lines.append(f"    met: {', '.join(met) or 'nothing documented'}")
    if unrecovered:
        lines.append(f"    not recovered from: {', '.join(unrecovered)}")
    return lines


# ---- the catalogue: one row per finding, the README's table comes from it -------------------------
@dataclass(frozen=True)
class Kind:
    id: str
    severity: Severity
    basis: Basis
    fires_when: str
    message: str
    advice: str

    def new(self) -> Finding:
        return Finding(self.id, self.severity, self.message, self.advice, self.basis)


KINDS: tuple[Kind, ...] = (
    Kind(
        "retry_too_soon",
        "error",
        "doc",
        "a request arrives before the `Retry-After` of a 429 the client was given has elapsed (emulator time)",
        "requests were sent before the Retry-After of a 429 had elapsed",
        "Sprinto's guide: 'back off exponentially, respect Retry-After'. Wait at least Retry-After seconds "
        "after a 429 before the next request.",
    ),
    Kind(
        "resent_rejected_page_unchanged",
        "error",
        "doc",
        "a page byte-for-byte equal (after decoding) to one rejected with 400 is sent again",
        "a page rejected with 400 was sent again unchanged",
        "A 400 means the page itself is wrong ('Validation error; batch rejected'): the same bytes get the same "
        "answer. Read validation_errors, fix the records, and send the fixed page.",
    ),
    Kind(
        "applied_with_rejected_pages",
        "error",
        "doc",
        "a session is closed with apply while one of its rejected or refused pages was never accepted afterwards",
        "a session was applied without pages it had rejected",
        "Only staged (accepted) pages apply: 'Valid batches are staged until the session is closed as apply'. "
        "Fix and re-send every rejected page (same page_hint) before closing with apply, or close with discard.",
    ),
    Kind(
        "push_to_inactive_session",
        "error",
        "doc",
        "a push is answered 409 `session_not_active` after the client closed the session, "
        "or again after a first 409 for it",
        "pages were pushed to a session that was no longer active",
        "Push only to an active session ('409 Session not active'). After a 409, stop pushing to that session: "
        "close an expired one with apply, or start a new session and push again.",
    ),
    Kind(
        "oversized_page",
        "error",
        "doc",
        "a page is refused for its size: 413 `payload_too_large` or 400 `too_many_items`",
        "pages were refused as too large",
        "Sprinto: 'Sends a page of entities (e.g., 100 items)' and 'Max request size: e.g., 5 MB (compressed "
        "allowed)'. Send at most 100 records a page, and gzip large bodies.",
    ),
    Kind(
        "duplicate_page",
        "warning",
        "mock",
        "the same page content is accepted twice in one session (the first acceptance had reached the client)",
        "the same page was staged twice in one session",
        "Each page is staged once it is answered 202; sending it again stages its records twice. Re-send a page "
        "only when its answer never arrived (a timeout, a reset, a 5xx).",
    ),
    Kind(
        "session_left_to_expire",
        "warning",
        "doc",
        "a session with accepted pages expires for inactivity and is never closed",
        "a session with staged pages was left to expire",
        "Sessions expire after 60 minutes of inactivity; 'expired data is retained temporarily and can still "
        "be applied'. Close every session you start: apply (expired sessions too) or discard.",
    ),
    Kind(
        "start_conflict_ignored",
        "warning",
        "doc",
        "two or more 409 `session_already_active` in a row, with no close or use of the `active_session_id` between",
        "a session start was retried on 409 without dealing with the active session",
        "One active session per integration: a second start 'returns 409 Conflict' naming active_session_id. "
        "Close that session (apply or discard) or continue it, then start again.",
    ),
    Kind(
        "large_uncompressed_body",
        "warning",
        "doc",
        "a push body over `judge_large_body_bytes` (1 MiB) is sent without `Content-Encoding`",
        "large page bodies were sent uncompressed",
        "'Max request size: e.g., 5 MB (compressed allowed)': send Content-Encoding: gzip; JSON pages shrink "
        "five- to tenfold.",
    ),
    Kind(
        "unknown_field",
        "warning",
        "mock",
        "an accepted record carries a field outside its type's known fields that is close to a known one",
        "records carry fields that look like misspelt known fields",
        "Sprinto accepts fields beyond the known ones and ignores what it does not know, so a typo silently "
        "drops the value. Rename the field (run with --unknown-fields reject to make it an error).",
    ),
    Kind(
        "status_polled_too_fast",
        "warning",
        "mock",
        f"one session is read {POLL_READS} or more times, more often than once a second",
        "a session's status was polled more than once a second",
        "Processing takes seconds: poll a session's status at most once a second, with backoff.",
    ),
    Kind(
        "close_without_pages",
        "warning",
        "mock",
        "a session with no accepted page is closed with apply",
        "a session was applied with no page staged",
        "An apply without staged pages changes nothing: push pages first, or close an empty session with discard.",
    ),
    Kind(
        "missing_page_hint",
        "info",
        "mock",
        "accepted pages carry no `page_hint`",
        "pages were sent without page_hint",
        "Send page_hint (an integer or string) with each page: it is echoed back, and it tells which page a "
        "rejection was about, and which re-sent page fixed it.",
    ),
)
BY_ID = {kind.id: kind for kind in KINDS}


def findings_table() -> str:
    """The README's findings table (tests/test_readme.py keeps it in step)."""
    lines = ["| finding | severity | basis | fires when |", "|---|---|---|---|"]
    lines += [f"| `{k.id}` | {k.severity} | {k.basis} | {k.fires_when} |" for k in KINDS]
    return "\n".join(lines)


# ---- what the judge reads ---------------------------------------------------------------------------
class Run:
    """One tenant's journal and store, indexed once for every check."""

    def __init__(
        self, tenant: Tenant, entries: Iterable[JournalEntry], known_fields: Mapping[str, Iterable[str]]
    ) -> None:
        self.tenant = tenant
        self.known_fields = known_fields
        self.entries = sorted(
            (e for e in entries if e.integration_id == tenant.id and e.arrival > tenant.since),
            key=lambda e: e.answer,
        )
        self.by_request = {e.request_id: e for e in self.entries}
        self.arrivals = sorted(self.entries, key=lambda e: e.arrival)
        self.automatic = _automatic_retries(self.arrivals)
        self.client = [e for e in self.arrivals if e.request_id not in self.automatic]
        self.sessions: list[Session] = list(tenant.sessions.values())

    def pushes(self) -> list[JournalEntry]:
        return [e for e in self.client if e.operation == "push_page"]

    def answered(self, request_id: str, status: int) -> bool:
        """Whether the journal shows this request answered ``status`` (as the client read it)."""
        entry = self.by_request.get(request_id)
        return entry is not None and entry.status == status


def _automatic_retries(arrivals: list[JournalEntry]) -> set[str]:
    """GETs a client library re-sent by itself after an injected transport fault (module docstring)."""
    pending: dict[str, list[JournalEntry]] = defaultdict(list)
    automatic: set[str] = set()
    for entry in arrivals:
        if entry.method != "GET":
            continue
        at = entry.arrived_at if entry.arrived_at is not None else entry.at
        faults = pending[entry.path] = [f for f in pending[entry.path] if at - f.at <= AUTO_RETRY_SECONDS]
        for fault in faults:
            if fault.answer < entry.arrival and at >= fault.at:
                automatic.add(entry.request_id)
                faults.remove(fault)  # one fault excuses one retry
                break
        if entry.code is not None and entry.code.startswith("transport_"):
            faults.append(entry)
    return automatic


def _when(at: float | None) -> str | None:
    return None if at is None else format_time(at)


def _evidence(entry: JournalEntry, **more: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"request_id": entry.request_id, "at": _when(entry.arrived_at or entry.at)}
    if entry.session_id is not None:
        item["session_id"] = entry.session_id
    if entry.page is not None:
        item["page"] = entry.page
    item.update(more)
    return item


# ---- the checks ------------------------------------------------------------------------------------
def retry_too_soon(run: Run) -> Finding:
    finding = BY_ID["retry_too_soon"].new()
    throttled = [e for e in run.entries if e.status == 429 and e.retry_after is not None]  # in answer order
    if not throttled:
        return finding
    answers = [e.answer for e in throttled]
    latest: list[JournalEntry] = []  # the 429 with the latest deadline among the first n
    for entry in throttled:
        best = latest[-1] if latest else None
        latest.append(entry if best is None or _deadline(entry) >= _deadline(best) else best)
    for entry in run.client:
        known = bisect.bisect_left(answers, entry.arrival)  # 429s answered before this one arrived
        if known == 0:
            continue
        cause = latest[known - 1]
        arrived = entry.arrived_at if entry.arrived_at is not None else entry.at
        if arrived < _deadline(cause) - RETRY_SLACK_SECONDS:
            finding.add(
                _evidence(
                    entry,
                    operation=entry.operation,
                    after_429=cause.request_id,
                    retry_after_seconds=cause.retry_after,
                    waited_seconds=round(max(0.0, arrived - cause.at), 3),
                )
            )
    return finding


def _deadline(entry: JournalEntry) -> float:
    return entry.at + float(entry.retry_after or 0)


def resent_rejected_page_unchanged(run: Run) -> Finding:
    finding = BY_ID["resent_rejected_page_unchanged"].new()
    rejected: dict[str, JournalEntry] = {}
    for entry in run.pushes():
        if entry.digest is None:
            continue
        first = rejected.get(entry.digest)
        if first is not None and first.answer < entry.arrival:
            finding.add(_evidence(entry, rejected_request_id=first.request_id, rejected_page=first.page))
        if entry.status == 400 and first is None:
            rejected[entry.digest] = entry
    return finding


def _unrecovered(session: Session) -> list[Page]:
    """Rejected or refused pages of a session with no accepted page after them that replaces them:
    one with the same page_hint, or, for a page without a hint, any later accepted page."""
    last = 0
    last_by_hint: dict[Any, int] = {}
    for page in session.accepted_pages:
        last = max(last, page.ordinal)
        if page.page_hint is not None:
            key = (type(page.page_hint), page.page_hint)
            last_by_hint[key] = max(last_by_hint.get(key, 0), page.ordinal)
    left = []
    for page in session.rejected_pages:
        hint = page.page_hint
        after = last if hint is None else last_by_hint.get((type(hint), hint), 0)
        if after <= page.ordinal:
            left.append(page)
    return left


def applied_with_rejected_pages(run: Run) -> Finding:
    finding = BY_ID["applied_with_rejected_pages"].new()
    for session in run.sessions:
        if session.close_status != "apply":
            continue
        for page in _unrecovered(session):
            finding.add(
                {
                    "session_id": session.id,
                    "page": page.ordinal,
                    "page_hint": page.page_hint,
                    "request_id": page.request_id,
                    "code": page.code,
                    "at": _when(session.closed_at),
                }
            )
    return finding


def push_to_inactive_session(run: Run) -> Finding:
    finding = BY_ID["push_to_inactive_session"].new()
    told: dict[str, JournalEntry] = {}
    sessions = run.tenant.sessions
    closed_by_client: dict[str, int] = {}  # the first close the client was told succeeded (answer order)
    for entry in run.entries:
        if entry.operation == "close_session" and entry.status == 202 and entry.session_id is not None:
            closed_by_client.setdefault(entry.session_id, entry.answer)
    for entry in run.pushes():
        if entry.status != 409 or entry.code != "session_not_active" or entry.session_id is None:
            continue
        session = sessions.get(entry.session_id)
        closed = closed_by_client.get(entry.session_id, entry.arrival) < entry.arrival
        earlier = told.get(entry.session_id)
        if closed or (earlier is not None and earlier.answer < entry.arrival):
            why = "after the client closed it" if closed else f"again after 409 {earlier.request_id if earlier else ''}"
            finding.add(_evidence(entry, state=session.state.value if session else None, why=why.strip()))
        told.setdefault(entry.session_id, entry)
    return finding


def oversized_page(run: Run) -> Finding:
    finding = BY_ID["oversized_page"].new()
    for entry in run.pushes():
        if entry.rule is None and (
            (entry.status == 413 and entry.code == "payload_too_large")
            or (entry.status == 400 and entry.code == "too_many_items")
        ):
            finding.add(_evidence(entry, code=entry.code, body_bytes=entry.body_bytes))
    return finding


def duplicate_page(run: Run) -> Finding:
    finding = BY_ID["duplicate_page"].new()
    for session in run.sessions:
        staged: dict[str, Page] = {}
        for page in session.accepted_pages:
            if page.digest is None:
                continue
            first = staged.get(page.digest)
            if first is not None:
                finding.add(
                    {
                        "session_id": session.id,
                        "page": page.ordinal,
                        "request_id": page.request_id,
                        "same_as_page": first.ordinal,
                        "at": _when(page.received_at),
                    }
                )
            elif run.answered(page.request_id, 202):  # the client knew it was staged
                staged[page.digest] = page
    return finding


def session_left_to_expire(run: Run) -> Finding:
    finding = BY_ID["session_left_to_expire"].new()
    for session in run.sessions:
        if (
            session.expired_at is not None
            and not session.expired_by_scenario
            and session.closed_at is None
            and session.accepted_pages
        ):
            finding.add(
                {
                    "session_id": session.id,
                    "accepted_pages": len(session.accepted_pages),
                    "at": _when(session.expired_at),
                }
            )
    return finding


def start_conflict_ignored(run: Run) -> Finding:
    finding = BY_ID["start_conflict_ignored"].new()
    streak: list[JournalEntry] = []

    def flush() -> None:
        if len(streak) >= 2:
            finding.add(
                {
                    "request_ids": [e.request_id for e in streak],
                    "active_session_id": streak[0].names_session,
                    "conflicts": len(streak),
                    "at": _when(streak[0].arrived_at),
                }
            )
        streak.clear()

    for entry in run.client:
        conflict = (
            entry.operation == "start_session"
            and entry.code == "session_already_active"
            and entry.names_session is not None
            and entry.rule is None
        )
        if conflict:
            if streak and streak[0].names_session != entry.names_session:
                flush()
            streak.append(entry)
        elif streak and (
            entry.operation in ("close_session", "start_session") or entry.session_id == streak[0].names_session
        ):
            flush()
    flush()
    return finding


def large_uncompressed_body(run: Run) -> Finding:
    finding = BY_ID["large_uncompressed_body"].new()
    limit = run.tenant.settings.judge_large_body_bytes
    for entry in run.pushes():
        size = entry.body_bytes if entry.body_bytes is not None else entry.bytes_in
        if size is not None and size > limit and entry.encoding in (None, "identity"):
            finding.add(_evidence(entry, body_bytes=size, limit_bytes=limit))
    return finding


def unknown_field(run: Run) -> Finding:
    finding = BY_ID["unknown_field"].new()
    registry = {name: frozenset(fields) for name, fields in run.known_fields.items()}
    reported: set[tuple[str, str]] = set()
    for session in run.sessions:
        for page in session.accepted_pages:
            found = page.unknown_fields  # found when the page was applied; while staged, read here
            if found is None and page.payload is not None:
                found = unknown_fields(orjson.loads(page.payload).get("entities"), registry)
            for entity_type, names in (found or {}).items():
                known = registry.get(entity_type, ())
                for name in names:
                    suggestion = closest_field(name, known)
                    if suggestion is None or (entity_type, name) in reported:
                        continue
                    reported.add((entity_type, name))
                    finding.add(
                        {
                            "entity_type": entity_type,
                            "field": name,
                            "did_you_mean": suggestion,
                            "message": f"`{name}`: did you mean `{suggestion}`?",
                            "session_id": session.id,
                            "page": page.ordinal,
                            "request_id": page.request_id,
                            "at": _when(page.received_at),
                        }
                    )
    return finding


def closest_field(name: str, known: Iterable[str]) -> str | None:
    """The known field a name most likely misspells: the same but for case, or difflib's closest."""
    choices = list(known)
    for choice in choices:
        if choice.lower() == name.lower():
            return choice
    lowered = {choice.lower(): choice for choice in choices}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[match[0]] if match else None


def status_polled_too_fast(run: Run) -> Finding:
    finding = BY_ID["status_polled_too_fast"].new()
    reads: dict[str, list[JournalEntry]] = defaultdict(list)
    for entry in run.client:
        if entry.operation == "get_session" and entry.session_id is not None:
            reads[entry.session_id].append(entry)
    for session_id, seen in reads.items():
        times = [e.arrived_at if e.arrived_at is not None else e.at for e in seen]
        for start in range(len(seen) - POLL_READS + 1):
            span = times[start + POLL_READS - 1] - times[start]
            if span < POLL_SPAN_SECONDS:
                window = seen[start : start + POLL_READS]
                finding.add(
                    {
                        "session_id": session_id,
                        "reads": len(seen),
                        "request_ids": [e.request_id for e in window],
                        "window_seconds": round(span, 3),
                        "at": _when(times[start]),
                    }
                )
                break
    return finding


def close_without_pages(run: Run) -> Finding:
    finding = BY_ID["close_without_pages"].new()
    closes = {e.session_id: e for e in run.client if e.operation == "close_session" and e.status == 202}
    for session in run.sessions:
        if session.close_status == "apply" and not session.accepted_pages:
            close = closes.get(session.id)
            item: dict[str, Any] = {"session_id": session.id, "at": _when(session.closed_at)}
            if close is not None:
                item["request_id"] = close.request_id
            finding.add(item)
    return finding


def missing_page_hint(run: Run) -> Finding:
    finding = BY_ID["missing_page_hint"].new()
    for session in run.sessions:
        for page in session.accepted_pages:
            if page.page_hint is None:
                finding.add(
                    {
                        "session_id": session.id,
                        "page": page.ordinal,
                        "request_id": page.request_id,
                        "at": _when(page.received_at),
                    }
                )
    return finding


CHECKS = (
    retry_too_soon,
    resent_rejected_page_unchanged,
    applied_with_rejected_pages,
    push_to_inactive_session,
    oversized_page,
    duplicate_page,
    session_left_to_expire,
    start_conflict_ignored,
    large_uncompressed_body,
    unknown_field,
    status_polled_too_fast,
    close_without_pages,
    missing_page_hint,
)


def judge(
    tenant: Tenant, journal_entries: Iterable[JournalEntry], known_fields: Mapping[str, Iterable[str]] | None = None
) -> Report:
    """The report on one integration's client: what it did wrong, and what it met.

    ``journal_entries`` may hold other integrations' requests (they are left out); ``known_fields``
    are each entity type's known fields (``EntitySchema.known_fields``), for ``unknown_field``."""
    run = Run(tenant, journal_entries, known_fields or {})
    findings = [finding for finding in (check(run) for check in CHECKS) if finding.count]
    return Report(tenant.id, findings, coverage(run))


# ---- behaviour coverage ---------------------------------------------------------------------------
BEHAVIOURS = (
    "page_rejected",
    "start_conflict",
    "session_not_active",
    "payload_too_large",
    "rate_limited",
    "session_expired",
    "processing_retried",
    "processing_failed",
    "discarded",
    "applied",
    "transport_fault",
)


def _last_arrival(entries: list[JournalEntry], key: Any) -> dict[Any, int]:
    """The latest arrival of the entries ``key`` gives a key (not None), by key: "did one come after?"
    is then one look-up, not a scan."""
    last: dict[Any, int] = {}
    for entry in entries:
        k = key(entry)
        if k is not None and entry.arrival > last.get(k, 0):
            last[k] = entry.arrival
    return last


def _met(met: bool, recovered: bool) -> tuple[bool, bool | None]:
    return met, (recovered if met else None)


def coverage(run: Run) -> list[Coverage]:
    """Each documented behaviour: whether the run met it, and whether the client recovered."""
    entries = run.entries
    sessions = run.sessions
    seen: dict[str, tuple[bool, bool | None]] = {}

    def later(entry: JournalEntry, ok: Any) -> bool:
        return any(e.arrival > entry.answer and ok(e) for e in entries)

    # page_rejected: every page rejected with 400 has its fixed page accepted after it
    rejected = [p for s in sessions for p in s.rejected_pages if p.code in REJECTED_CODES]
    rejected_left = {p.request_id for s in sessions for p in _unrecovered(s)}
    seen["page_rejected"] = _met(bool(rejected), not any(p.request_id in rejected_left for p in rejected))
    # start_conflict: the client then closed or used the active session, or started one after all
    conflicts = [e for e in entries if e.code == "session_already_active"]
    seen["start_conflict"] = _met(
        bool(conflicts),
        later(
            conflicts[-1],
            lambda e: (
                e.operation == "close_session"
                or (e.operation == "start_session" and e.status == 201)
                or (e.session_id is not None and e.session_id == conflicts[-1].names_session)
            ),
        )
        if conflicts
        else False,
    )
    # session_not_active: a new session was started, or the inactive one closed with apply
    inactive = [e for e in entries if e.code == "session_not_active"]
    seen["session_not_active"] = _met(
        bool(inactive),
        later(
            inactive[-1],
            lambda e: (
                (e.operation == "start_session" and e.status == 201)
                or (e.operation == "close_session" and e.status == 202)
            ),
        )
        if inactive
        else False,
    )
    # payload_too_large: a later page of the same session was accepted (the page was split)
    accepted_in = _last_arrival(
        entries, lambda e: e.session_id if e.operation == "push_page" and e.status == 202 else None
    )
    too_large = [e for e in entries if e.operation == "push_page" and e.status == 413]
    seen["payload_too_large"] = _met(
        bool(too_large), all(accepted_in.get(t.session_id, 0) > t.answer for t in too_large)
    )
    # rate_limited: the throttled call (the same operation on the same session) later succeeded
    succeeded = _last_arrival(entries, lambda e: (e.operation, e.session_id) if 200 <= e.status < 300 else None)
    throttled = [e for e in entries if e.status == 429]
    seen["rate_limited"] = _met(
        bool(throttled), all(succeeded.get((t.operation, t.session_id), 0) > t.answer for t in throttled)
    )
    # session_expired: applied after all, or a new session started after it expired
    newest_start = max((s.created_at for s in sessions), default=0.0)
    expired = [s for s in sessions if s.expired_at is not None]
    seen["session_expired"] = _met(
        bool(expired),
        all(s.close_status == "apply" or newest_start >= (s.expired_at or 0.0) for s in expired),
    )
    retried = [s for s in sessions if s.retry_count > 0]
    seen["processing_retried"] = _met(bool(retried), all(s.state is State.PROCESSED for s in retried))
    # processing_failed: a session started after the failure was processed
    newest_processed = max((s.created_at for s in sessions if s.state is State.PROCESSED), default=-1.0)
    failed = [s for s in sessions if s.state is State.FAILED]
    seen["processing_failed"] = _met(bool(failed), all(newest_processed >= (s.finished_at or 0.0) for s in failed))
    seen["discarded"] = (any(s.close_status == "discard" for s in sessions), None)
    seen["applied"] = (any(s.state is State.PROCESSED for s in sessions), None)
    # transport_fault: the same page later accepted (a push), or the same operation later answered
    staged = _last_arrival(entries, lambda e: e.digest if e.operation == "push_page" and e.status == 202 else None)
    answered = _last_arrival(entries, lambda e: e.operation if 200 <= e.status < 300 else None)
    faults = [e for e in entries if e.code is not None and e.code.startswith("transport_")]
    seen["transport_fault"] = _met(
        bool(faults),
        all(
            (
                staged.get(f.digest, 0)
                if f.operation == "push_page" and f.digest is not None
                else answered.get(f.operation, 0)
            )
            > f.answer
            for f in faults
        ),
    )
    return [Coverage(name, *seen[name]) for name in BEHAVIOURS]
