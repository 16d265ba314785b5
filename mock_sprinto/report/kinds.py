"""The catalogue of findings: one row per kind, with its severity and basis; the README's findings
table is generated from it (``findings_table``), so the docs cannot drift from the judge."""

from __future__ import annotations

from dataclasses import dataclass

from ..markdown import table_row
from ..rules import Basis
from .model import Finding, Severity

POLL_READS = 5  # status_polled_too_fast: this many reads of one session...
# retry_without_backoff: a retry sent this soon after a failure was sent at once. Not more: full
# jitter (AWS's, wait = uniform(0, 0.1 s * 2**n)) draws two waits under 0.1 s half the time, and
# under 0.01 s 1 time in 200; a loop retrying at once waits a few milliseconds at most.
NO_BACKOFF_SECONDS = 0.01
# start_conflict_ignored: a start sent again this long after the 409 before it waited for the other
# sync to end (a second, 5 % timer slack: the once a second status_polled_too_fast allows). Another
# worker's sync takes seconds to minutes; a start sooner than that only asks the same question again.
PATIENT_START_WAIT_SECONDS = 0.95
# A request on another connection that arrived this soon after an answer was already on its way
# when that answer was sent (a client pushing pages concurrently): the emulator reads a request only
# once the loop turns to it, so one sent a millisecond before an answer can be journaled after it.
# A client reading the answer first and then opening a connection takes longer; its retry of the
# answered request itself is never on its way before that answer.
IN_FLIGHT_SECONDS = 0.02


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


BACKOFF_ADVICE = "Sprinto's guide: 'back off exponentially, respect Retry-After'."

KINDS: tuple[Kind, ...] = (
    Kind(
        "no_request_accepted",
        "error",
        "mock",
        "none of the client's requests is accepted (answered 2xx), and some are refused for what the client sent: "
        "a 4xx other than 408, 409, 429 and 499 (a 415 for a body without JSON's Content-Type, a 400, a 404, a "
        "413...), not a scenario's or a `Prefer` header's. A 401 is journaled to no integration (its key was not "
        "the integration's), nor is a request to no operation's path: neither is judged",
        "no request was accepted: the client's requests were refused for what they sent",
        "Nothing was synced: the requests were refused for their form or content, and the same request gets the "
        "same refusal however often it is sent. Read the refusal's detail and fix the request: bodies as JSON "
        "with 'Content-Type: application/json' (Java's HttpURLConnection and curl -d send a form's type unless "
        'told otherwise), a close body of {"status": "apply"} or {"status": "discard"}, the session id '
        "the start answered. Fail the sync loudly on such a 4xx, as on any answer a retry cannot change.",
    ),
    Kind(
        "retry_too_soon",
        "error",
        "doc",
        "a request arrives before the `Retry-After` of an answer the client was given (a 429, or a 503 that "
        "carries one) has elapsed (emulator time); not a request on another connection within "
        f"{IN_FLIGHT_SECONDS:g} s of that answer, plus how long the emulator's loop had run without waiting "
        "for input when it let the request in (a concurrent client's, on its way), unless it is the failed "
        "request sent again; on a frozen clock, not one at the instant of that answer (time never moved: the "
        "wait is unknown)",
        "requests were sent before the Retry-After of a 429 had elapsed",
        f"{BACKOFF_ADVICE} Wait at least Retry-After seconds after a 429 (or a 503 that carries it) before the "
        "next request.",
    ),
    Kind(
        "gave_up",
        "error",
        "doc",
        "a start, push or close fails with a fault a retry recovers from (429, 500/502/503/504, a broken "
        "connection, an answer lost) and is never sent again with success: as the client knows it, a page never "
        "accepted (the same bytes but for its page_hint, or the same page_hint in its session where its hints name "
        "its pages), a session "
        "never started or closed (a read that shows it still active is no follow-up; even where the emulator carried "
        "out the request whose answer was lost). A request the client hung up on (499) is an answer lost. Counted "
        "once a page; not a failure tried again for a second or more and then its session discarded, nor a lost "
        "push whose page the client then read counted in its session",
        "the client gave up after a fault that a retry recovers from",
        f"{BACKOFF_ADVICE} Retry 429s, 5xx answers and broken connections with backoff (re-send the same page: "
        "an answer that never arrived is no answer), and fail the sync loudly only after several tries.",
    ),
    Kind(
        "retry_without_backoff",
        "error",
        "doc",
        f"a request failing with a 5xx, a 429 without Retry-After or a broken connection is retried twice or more "
        f"in a row, each time at once (within {NO_BACKOFF_SECONDS:g} s of the failure: a jittered backoff's "
        "short draws and a short fixed delay are not judged; nor on a frozen clock)",
        "failed requests were retried with no backoff",
        f"{BACKOFF_ADVICE} Wait longer after each failure (e.g. 0.5 s, 1 s, 2 s, with jitter) instead of "
        "hammering a struggling server.",
    ),
    Kind(
        "close_without_status",
        "error",
        "doc",
        'a close is refused with 400 `invalid_close_status` (no `status`, or `{"action": ...}`) and the session is '
        "never closed afterwards",
        "a close was sent without a valid status and the session was never closed",
        'Close takes `{"status": "apply"}` or `{"status": "discard"}`: `status` is Required (session-management). '
        "Read the 400's detail, fix the body and close again.",
    ),
    Kind(
        "start_conflict_unhandled",
        "error",
        "doc",
        "a start is answered 409 `session_already_active` and the client then neither closes nor continues the "
        "named session, nor starts one with success",
        "a 409 on session start was not handled",
        "One active session per integration: a second start 'returns 409 Conflict' naming active_session_id. "
        "Read that session: left by a crashed run (idle for long: its updated_at), close it (discard, or apply "
        "if it is yours and whole) or continue it, then start again; in use by another worker's sync, wait "
        "(1 s, 2 s, 4 s...) until it is closed.",
    ),
    Kind(
        "resent_rejected_page_unchanged",
        "error",
        "doc",
        "a page byte-for-byte equal (after decoding) to one rejected with 400 is sent again, or one whose records "
        "(their keys) are refused for the same errors again, under any page_hint or serialization (not a page "
        "refused too_many_items sent again in another session: a sync started over, splitting it again)",
        "a page rejected with 400 was sent again unchanged",
        "A 400 means the page itself is wrong ('Validation error; batch rejected'): the same bytes get the same "
        "answer. Read validation_errors, fix the records, and send the fixed page.",
    ),
    Kind(
        "applied_with_rejected_pages",
        "error",
        "doc",
        "a session is closed with apply while one of its rejected or refused pages was never accepted afterwards "
        "(a page refused for its size counts as accepted once a later page of the session is: its pieces; any "
        "page once a later page of its bytes is; a page rejected 400, once its session was processed, when its "
        "records were applied by that session, all but the invalid ones, whatever its page_hint; before that, when "
        "the pages accepted right after it hold them; else when a later page of its page_hint, or without a hint "
        "any later page, was accepted); a page a scenario rule or a "
        "Prefer header rejected as invalid counts the same way, and a push refused 409 session_not_active when "
        "that session is then applied and no session started after it is, unless a page of the session was "
        "accepted after it",
        "a session was applied without pages it had rejected",
        "Only staged (accepted) pages apply: 'Valid batches are staged until the session is closed as apply'. "
        "Fix and re-send every rejected page (same page_hint) before closing with apply, or close with discard.",
    ),
    Kind(
        "push_to_inactive_session",
        "error",
        "doc",
        "a push is answered 409 `session_not_active` after the client closed the session, "
        f"or again after a first 409 for it (not a push on another connection within {IN_FLIGHT_SECONDS:g} s of "
        "that 409, plus how long the emulator's loop had run without waiting for input when it let the push in: "
        "a concurrent client's page on its way)",
        "pages were pushed to a session that was no longer active",
        "Push only to an active session ('409 Session not active'). After a 409, stop pushing to that session: "
        "close an expired one with apply, or start a new session and push again.",
    ),
    Kind(
        "oversized_page",
        "error",
        "doc",
        "a page is refused with 413 `payload_too_large` under Sprinto's own 5 MB limit (a lower limit set by a "
        "scenario or a setting is not Sprinto's, and is not judged)",
        "pages were refused as too large",
        "Sprinto: 'Max request size: e.g., 5 MB (compressed allowed)'. Keep pages under 5 MB: gzip large bodies, "
        "and split a page in two when it is refused with 413.",
    ),
    Kind(
        "too_many_records",
        "warning",
        "mock",
        "a page is refused with 400 `too_many_items` under the default 100-record limit (a scenario's or a "
        "setting's lower limit is not judged)",
        "pages held more than the 100 records Sprinto recommends",
        "Sprinto: 'Sends a page of entities (e.g., 100 items)'. Whether 100 is a hard limit is not documented; "
        "send at most 100 records a page.",
    ),
    Kind(
        "duplicate_page",
        "warning",
        "mock",
        "the same page content is accepted twice in one session (the first acceptance had reached the client; "
        "not a copy a request staged after the client hung up on it, 499)",
        "the same page was staged twice in one session",
        "Each page is staged once it is answered 202; sending it again stages its records twice. Re-send a page "
        "only when its answer never arrived (a timeout, a reset, a 5xx).",
    ),
    Kind(
        "session_left_to_expire",
        "warning",
        "doc",
        "a session with accepted pages expires for inactivity and is never closed (nor was a close tried), "
        "unless the client learnt it was no longer active (a 409 session_not_active, or a read of it answered 200 "
        "once it had expired) and started another after",
        "a session with staged pages was left to expire",
        "Sessions expire after 60 minutes of inactivity; 'expired data is retained temporarily and can still "
        "be applied'. Close every session you start: apply (expired sessions too) or discard.",
    ),
    Kind(
        "session_left_active",
        "warning",
        "doc",
        "a session the client started is still active when the report is made, and no close of it was tried "
        "(a close refused for its form, such as 415 for a body without JSON's Content-Type, closed nothing)",
        "a session was left active",
        "One active session per integration: the next sync's start gets 409 until this one is closed or expires "
        "(60 minutes). Close every session you start, with discard when the sync fails.",
    ),
    Kind(
        "start_conflict_ignored",
        "warning",
        "doc",
        "two or more 409 `session_already_active` in a row, with no close or use of the `active_session_id` between, "
        f"at least one start sent again within {PATIENT_START_WAIT_SECONDS:g} s of the 409 before it (emulator time; "
        "not judged on a frozen clock)",
        "a session start was retried on 409 without dealing with the active session",
        "One active session per integration: a second start 'returns 409 Conflict' naming active_session_id. "
        "Read that session: left by a crashed run (idle for long: its updated_at), close it (apply or discard) "
        "or continue it, then start again; in use by another worker's sync, wait (1 s, 2 s, 4 s...) until it "
        "is closed.",
    ),
    Kind(
        "outcome_not_read",
        "warning",
        "mock",
        "a session closed with apply (the close answered 202 or, that answer lost, a close sent again answered 409) "
        "whose outcome is never read: no read of the session (`GET`, answered 200) nor "
        "of the activity log (`GET .../activity`, answered 200) arrived once it had finished (`processed` or "
        "`failed`); a read while it was still processing shows no outcome. A session still processing when the "
        "report is made is not judged once a read of it or of the activity log followed its close",
        "the outcome of an apply was never read",
        "Processing happens after close and can fail ('processing retries once on Sprinto side', then `failed` "
        "with last_error). Poll the session (once a second, or backing off from a short first wait) until "
        "processed or failed, or read the activity log until it shows session_processed or session_failed for "
        "it, and fail the sync when it failed.",
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
        "an accepted record carries a field outside its type's known fields that is a typo of a known one: the "
        "same but for case, or close to it and at most two letters away, inserted, missing, changed or swapped (a "
        "report judges up to 500 names it has not judged before; the next report, the rest; a page keeps the first "
        "100 extra names of each type, sorted, of up to 64 characters)",
        "records carry fields that look like misspelt known fields",
        "Sprinto accepts fields beyond the known ones and ignores what it does not know, so a typo silently "
        "drops the value. Rename the field (run with --unknown-fields reject to make it an error).",
    ),
    Kind(
        "status_polled_too_fast",
        "warning",
        "mock",
        f"one session is polled {POLL_READS} or more times in a row (no push or close to it between), more often "
        "than once a second, without backing off (each wait at least as long as the last, the last twice the "
        "first; or, jittered, the later waits half as long again as the first ones on average). A read answered "
        "429, 5xx or not at all is one poll with the reads that retried it: the wait it imposed is no poll's (a "
        "poll waits from its answered read to the next poll's first), though its tries are judged alike among "
        "themselves",
        "a session's status was polled more than once a second without backing off",
        "Processing takes seconds: poll a session's status at most once a second, or back off from a short "
        "first wait (e.g. 0.2 s, then 1.5 times longer each time).",
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
    lines += [table_row(f"`{k.id}`", k.severity, k.basis, k.fires_when) for k in KINDS]
    return "\n".join(lines)
