"""Readable verdicts: why a session is not what a test expected, and what the emulator saw of
an integration, in text a failing test's report can show as it is (plain values in, text out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ..errors import counted
from ..faults.engine import prefer_asked
from ..http import API_PREFIX

PAGES_SHOWN = 20
ERRORS_SHOWN = 10
JOURNAL_SHOWN = 20

S = TypeVar("S", bound=Mapping[str, Any])  # a session: a SessionView, or any mapping of its members


def _format_error(error: Mapping[str, Any]) -> str:
    entity, index, field = error.get("entity_type"), error.get("index"), error.get("field")
    where = f"{entity}[{index}]" if entity is not None and index is not None else (entity or "page")
    if field:
        where += f".{field}"
    tail = ", ".join(str(p) for p in (error.get("code"), error.get("pointer")) if p)
    return f"{where}: {error.get('issue', '?')}" + (f"  ({tail})" if tail else "")


def format_rejected_pages(sessions: Sequence[Mapping[str, Any]]) -> tuple[int, str]:
    """(number of rejected pages, a listing of them with their errors)."""
    lines: list[str] = []
    rejected = 0
    for session in sessions:
        for page in session.get("pages", []):
            if page.get("accepted"):
                continue
            rejected += 1
            if rejected > PAGES_SHOWN:
                continue
            hint = "" if page.get("page_hint") is None else f", page_hint {page['page_hint']!r}"
            records = f", {counted(page['record_count'], 'record')}" if page.get("record_count") else ""
            rule = f" ({_rejected_by(page['rule'])})" if page.get("rule") else ""
            lines.append(
                f"  session {session['id']} (#{session.get('ordinal', '?')}), page {page['ordinal']}"
                f"{hint}{records}: {page.get('code')}: {page.get('detail')}{rule}"
            )
            errors = page.get("errors") or []
            lines.extend(f"      {_format_error(error)}" for error in errors[:ERRORS_SHOWN])
            more = len(errors) - ERRORS_SHOWN + (1 if page.get("errors_truncated") else 0)
            if more > 0:
                lines.append(
                    f"      … and {'more than ' if page.get('errors_truncated') else ''}{max(more, 1)} more errors"
                )
    if rejected > PAGES_SHOWN:
        lines.append(f"  … and {rejected - PAGES_SHOWN} more rejected pages")
    return rejected, "\n".join(lines)


def _rejected_by(rule: str) -> str:
    """Who rejected a page no validation did: the scenario's rules, or the request's Prefer header."""
    if (asked := prefer_asked(rule)) is not None:
        return f"rejected as the request's Prefer header asked: {asked}"
    return f"rejected by the scenario: {rule}"


def _state_hint(session: Mapping[str, Any]) -> str:
    state = session.get("state")
    if state == "active":
        return (
            "it is still active: the client never closed it "
            f'(POST …/sessions/{session["id"]}/close with {{"status": "apply"}})'
        )
    if state == "processing":
        return (
            "it is still processing: processing takes `processing_seconds` of emulator time "
            "(2 s by default); move the clock first, e.g. mock_sprinto.clock.advance(seconds=2)"
        )
    if state == "expired":
        if session.get("expired_by") == "scenario":
            return (
                "the scenario expired it (a rule with lifecycle expire_session); "
                "an expired session can still be closed with apply"
            )
        return (
            f"it expired at {session.get('expires_at')} after {session.get('inactivity_timeout_seconds')} s "
            "without a request; an expired session can still be closed with apply"
        )
    if state == "cancelled":
        return "it was closed with discard, so nothing was applied"
    if state == "failed":
        return f"processing failed (retry_count {session.get('retry_count')}); last_error: {session.get('last_error')}"
    return f"its state is {state!r}"


def _pages_line(session: Mapping[str, Any]) -> str:
    counts = session.get("accepted_records_by_entity") or {}
    by_entity = ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"
    pages = session.get("accepted_batches", 0)
    records = session.get("accepted_records_total", 0)
    return (
        f"{counted(pages, 'page')} accepted ({counted(records, 'record')}: {by_entity}), "
        f"{session.get('rejected_batches', 0)} rejected"
    )


def pick_session(sessions: Sequence[S], session_id: str | None) -> S:
    """The session a verdict is about: ``session_id``, or the latest one."""
    __tracebackhide__ = True
    if not sessions:
        raise AssertionError("no session was started on this integration")
    if session_id is None:
        return max(sessions, key=lambda s: s.get("ordinal", 0))
    for session in sessions:
        if session["id"] == session_id:
            return session
    known = ", ".join(s["id"] for s in sessions)
    raise AssertionError(f"no session {session_id!r} on this integration (sessions: {known})")


def counts_differ(session: Mapping[str, Any], records: int | None, by_entity: Mapping[str, int] | None) -> bool:
    """Whether the session's accepted counts are not the ones expected."""
    return (records is not None and session.get("accepted_records_total") != records) or (
        by_entity is not None and dict(session.get("accepted_records_by_entity") or {}) != dict(by_entity)
    )


# A page staged a second time: (its ordinal, the ordinal of the earlier page it repeats, its counts by
# entity type). ``HandleBase`` reads them from the session's pages' digests.
StagedTwice = tuple[int, int, Mapping[str, int]]


def _staged_twice_note(twice: Sequence[StagedTwice], types: Sequence[str]) -> str:
    """What a count that differs owes to pages staged twice: the counts are of the pages staged."""
    repeated = sum(sum(counts.values()) for _, _, counts in twice)
    pairs = ", ".join(f"page {page} repeats page {earlier}" for page, earlier, _ in twice[:PAGES_SHOWN])
    more = f" and {len(twice) - PAGES_SHOWN} more" if len(twice) > PAGES_SHOWN else ""
    reads = " and ".join(f"mock_sprinto.records({name!r})" for name in types[:3]) or "mock_sprinto.records(type)"
    return (
        f"  the session staged {counted(len(twice), 'page')} twice ({pairs}{more}: the same bytes, "
        f"{counted(repeated, 'record')}), as a client does that sends a page again after its answer was lost. "
        "Its accepted counts are of every page staged, so they count those records twice; "
        f"what it applied (a keyed record once) is {reads}"
    )


def processed_failure(
    session: Mapping[str, Any],
    records: int | None,
    by_entity: Mapping[str, int] | None,
    staged_twice: Sequence[StagedTwice] = (),
) -> str | None:
    """Why ``session`` is not 'processed with these counts', or None when it is. ``staged_twice``:
    its pages that repeat an earlier one, said when a count differs."""
    problems: list[str] = []
    if session.get("state") != "processed":
        problems.append(f"session {session['id']} is {session.get('state')!r}, not 'processed': {_state_hint(session)}")
    repeated = sum(sum(counts.values()) for _, _, counts in staged_twice)
    total = session.get("accepted_records_total")
    if records is not None and total != records:
        once = f" ({total - repeated} without the pages staged twice)" if repeated and isinstance(total, int) else ""
        problems.append(f"session {session['id']} has {total} accepted records{once}, expected {records}")
    if by_entity is not None and dict(session.get("accepted_records_by_entity") or {}) != dict(by_entity):
        problems.append(
            f"session {session['id']} accepted {dict(session.get('accepted_records_by_entity') or {})} "
            f"by entity type, expected {dict(by_entity)}"
        )
    if not problems:
        return None
    if staged_twice and counts_differ(session, records, by_entity):
        types = sorted({name for _, _, counts in staged_twice for name in counts})
        problems.append(_staged_twice_note(staged_twice, types))
    problems.append(f"  {_pages_line(session)}")
    rejected, listing = format_rejected_pages([session])
    if rejected:
        problems.append(f"  rejected pages:\n{listing}")
    return "\n".join(problems)


def no_rejected_failure(sessions: Sequence[Mapping[str, Any]]) -> str | None:
    """Every rejected page of ``sessions`` and its errors, or None when there is none."""
    rejected, listing = format_rejected_pages(sessions)
    if not rejected:
        return None
    received = sum(len(s.get("pages", [])) for s in sessions)
    return f"{rejected} of {received} pages were rejected:\n{listing}"


def describe_integration(
    integration_id: str,
    base_url: str,
    sessions: Sequence[Mapping[str, Any]],
    journal: Sequence[Mapping[str, Any]],
    refused: Sequence[Mapping[str, Any]] = (),
    refused_total: int = 0,
) -> str:
    """What the emulator saw of one integration: added to a failing test's report. ``refused``: when
    no request reached it, the newest requests to its path answered 401 (``refused_total`` in all),
    which its journal never holds."""
    from ..statecli import request_line  # as `mock-sprinto report` lists a request

    lines = [f"integration {integration_id} at {base_url}"]
    if not sessions:
        lines.append("no sessions")
    for session in sorted(sessions, key=lambda s: s.get("ordinal", 0)):
        lines.append(
            f"session #{session.get('ordinal')} {session['id']} {session.get('state')}: {_pages_line(session)}"
        )
    rejected, listing = format_rejected_pages(sessions)
    if rejected:
        lines.append(f"rejected pages:\n{listing}")
    if journal:
        shown = journal[-JOURNAL_SHOWN:]
        lines.append(
            f"last {len(shown)} of {len(journal)} requests (paths after {base_url}/v1/integrations/{integration_id}):"
        )
        lines.extend(request_line(entry, integration_id) for entry in shown)
    if refused:
        shown = refused[-JOURNAL_SHOWN:]
        lines.append(
            f"no request reached it, and {counted(refused_total, 'request')} to its path "
            f"{'was' if refused_total == 1 else 'were'} answered 401 (a wrong or missing api-key; journaled "
            f"to no integration){f', the last {len(shown)}' if refused_total > len(shown) else ''}:"
        )
        lines.extend(request_line(entry, integration_id) for entry in shown)
    return "\n".join(lines)


EVIDENCE_SHOWN = 5
_WHERE = ("request_id", "session_id", "page", "page_hint", "at")


def _format_evidence(item: Mapping[str, Any]) -> str:
    where = " ".join(f"{key} {item[key]}" for key in _WHERE if item.get(key) is not None)
    rest = ", ".join(f"{key}={value}" for key, value in item.items() if key not in _WHERE)
    return where + (f": {rest}" if rest and where else rest)


def behaviour_failure(report: Mapping[str, Any], allow: Sequence[str] = ()) -> str | None:
    """Why a client is not well behaved (its error and warning findings not in ``allow``), or None."""
    failing = [f for f in report["findings"] if f["severity"] in ("error", "warning") and f["id"] not in allow]
    if not failing:
        return None
    errors = sum(1 for f in failing if f["severity"] == "error")
    counts = ", ".join(
        f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (len(failing) - errors, "warning")) if n
    )
    lines = [f"the client of {report['integration_id']} is not well behaved ({counts}):"]
    for finding in failing:
        lines.append(f"  {finding['severity']} {finding['id']} ({finding['count']}x): {finding['message']}")
        for item in finding["evidence"][:EVIDENCE_SHOWN]:
            lines.append(f"      {_format_evidence(item)}")
        if finding["count"] > EVIDENCE_SHOWN:
            lines.append(f"      ... and {finding['count'] - EVIDENCE_SHOWN} more")
        lines.append(f"    advice: {finding['advice']}")
    lines.append("  (allow=(...) tolerates a finding by its id)")
    return "\n".join(lines)


REFUSED_SHOWN = 3


def nothing_judged_failure(
    integration_id: str, base_url: str, refused: Sequence[Mapping[str, Any]], refused_total: int
) -> str:
    """Why a client whose report is empty is not called well behaved: no Sprinto API request reached
    its integration (``mock-sprinto report`` exits 1 for it, in the same words), and the likely
    causes. ``refused``: the newest requests sent to this integration's path and answered 401 (a
    wrong or missing api-key), which are journaled to no integration; ``refused_total`` in all."""
    from ..statecli import NOTHING_TO_JUDGE

    lines = [f"integration {integration_id}: {NOTHING_TO_JUDGE}"]
    if refused:
        prefix = f"{API_PREFIX}/v1/integrations/{integration_id}"
        were = "was" if refused_total == 1 else "were"
        lines.append(
            f"  {counted(refused_total, 'request')} to its path {were} answered 401: the client's api-key is wrong "
            "or missing (send mock_sprinto.api_key as the `api-key` header: mock_sprinto.headers). A request "
            "answered 401 is journaled to no integration, so this one's journal and report leave it out:"
        )
        for entry in refused[-REFUSED_SHOWN:]:
            path = str(entry["path"])
            path = (path[len(prefix) :] or "/") if path.startswith(prefix) else path
            code = f" {entry['code']}" if entry.get("code") else ""
            lines.append(f"    {entry['at']} {entry['method']} {path} -> {entry['status']}{code}")
        if refused_total > len(refused[-REFUSED_SHOWN:]):
            lines.append(f"    ... and {refused_total - len(refused[-REFUSED_SHOWN:])} more")
    else:
        lines.extend(
            (
                "  not even a 401 (a wrong or missing api-key) was answered on its path since it was made;",
                "  the likely causes:",
                f"  - the client's base URL is not this server's: it must be mock_sprinto.base_url ({base_url});",
                f"  - it calls another integration id than mock_sprinto.integration_id ({integration_id}): the "
                "server makes an integration for any id it is sent (auto_create_integrations), and that one "
                "got the requests;",
                "  - it sent no request at all.",
            )
        )
    lines.append("  (allow_no_request=True passes a test whose client is meant to send none)")
    return "\n".join(lines)
