"""The exam's trials: a baseline with no fault, then one trial per documented class of fault.

Each fault is made sure to happen to any sync of two pages or more: its scenario's rules name the
second page of a session (or the first close) and fire a counted number of ``times``, never with a
probability, so the same client meets the same fault on every run. Two faults are not scenarios:
the request size limit is computed from the baseline's largest push (``page-too-large``), and a
session left active by "a previous run" is a set-up step (``stale-session``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..markdown import table_row

# stale-session: how long the exam's session has been idle, on the integration's clock, when the
# command starts. A session left by a crashed earlier run is old; one a live worker is syncing was
# touched seconds ago. Made this old, a client can tell the two apart by reading the session (its
# updated_at): an idle one is safe to discard, and a recent one (another worker's) is not. Far from
# the inactivity timeout (60 minutes) still, as most crashed runs' sessions are: it expires 15
# minutes later, beyond a trial's time, so a client that only waits for that never starts in the trial.
STALE_IDLE_SECONDS = 45 * 60
INACTIVITY_SECONDS = 60 * 60  # Sprinto's inactivity timeout, which no trial changes


class Setup(str, Enum):
    """What the exam does to the integration before the command runs, beyond its scenario."""

    NONE = "none"
    STALE_SESSION = "stale_session"  # start a session with the trial's key and push nothing
    # lower the request size limit below the baseline's largest push: max_request_bytes, or
    # max_decoded_bytes when the baseline compressed its pages (runner.SizeLimit)
    SIZE_LIMIT = "size_limit"


@dataclass(frozen=True)
class Trial:
    name: str
    fault: str  # one line: what goes wrong
    expects: str  # one line: what a careful client does about it
    documented: str  # which Sprinto-documented failure (or network fact) the trial meets
    scenario: str | None = None  # a shipped scenario, installed by name
    document: Mapping[str, Any] | None = None  # or the user's own scenario, sent inline
    recoverable: bool = True
    setup: Setup = Setup.NONE
    # Rules of the scenario that carry the fault: the trial's fault was met when each fired. Empty:
    # any rule firing (or, for a scenario with settings only, any error answer) counts.
    fault_rules: tuple[str, ...] = ()
    # What a client that never meets the fault is told (fault_not_met).
    unmet_hint: str = (
        "a sync that never pushes a second page to a session, with fewer than two pages or stopping after its "
        "first, never meets the fault set on page 2"
    )
    # Seconds a careful client spends waiting on the fault (a timeout, a Retry-After): such trials
    # start first, so they overlap the quick ones.
    waits: float = 0.0
    baseline: bool = False
    user_defined: bool = False
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Setup.SIZE_LIMIT: the setting a run lowered, known once the baseline has run (None: either)
    size_setting: str | None = None

    @property
    def scenario_label(self) -> str | None:
        """What the JSON and the tables call the trial's scenario."""
        if self.scenario is not None:
            return self.scenario
        if self.document is not None:
            return str(self.document.get("name", self.name))
        if self.setup is Setup.SIZE_LIMIT:
            # Which one is lowered depends on the baseline's pages: a run names the one it lowered.
            return f"setting:{self.size_setting or 'max_request_bytes|max_decoded_bytes'}"
        if self.setup is Setup.STALE_SESSION:
            return "setup:stale-session"
        return None


BASELINE = Trial(
    name="baseline",
    fault="none: the documented happy path",
    expects="start, push every page, close with apply, exit 0 once the session is processed",
    documented="the documented sync: start session, push pages, close with status apply",
    baseline=True,
)

CATALOGUE: tuple[Trial, ...] = (
    BASELINE,
    Trial(
        name="throttled",
        scenario="throttle-page-2",
        fault="the first push of page 2 is answered 429 with Retry-After: 1",
        expects="wait the Retry-After, send the same page again",
        documented="429 Too Many Requests: the guide asks to respect Retry-After and back off exponentially",
        fault_rules=("throttle-page-2",),
        waits=1.0,
    ),
    Trial(
        name="throttled-no-retry-after",
        scenario="throttle-page-2-no-retry-after",
        fault="the first two pushes of page 2 are answered 429 with no Retry-After header",
        expects="back off on its own (exponentially), send the same page again",
        documented="429 Too Many Requests: Sprinto's OpenAPI declares no Retry-After header; cope without it",
        fault_rules=("throttle-page-2-silently",),
        waits=0.75,  # two backoffs, as server-errors
    ),
    Trial(
        name="server-errors",
        scenario="unavailable-page-2-twice",
        fault="the first two pushes of page 2 are answered 503 without Retry-After",
        expects="retry with growing backoff, past a second failure",
        documented="transient 5xx: the guide's exponential backoff (no 5xx is documented per endpoint)",
        fault_rules=("page-2-unavailable",),
        waits=0.75,
    ),
    Trial(
        name="connection-reset",
        scenario="reset-page-2",
        fault="the connection of the first push of page 2 is reset before the page is staged",
        expects="treat the reset as transient, send the same page again",
        documented="a network fault every HTTP client meets: no answer means the outcome is unknown",
        fault_rules=("reset-page-2",),
    ),
    Trial(
        name="answer-lost",
        scenario="lost-answer-page-2",
        fault="page 2 IS staged, then the connection is reset before the 202 is read",
        expects="send the page again (it is staged twice: harmless for records with a key)",
        documented="a lost response: re-sending a page is the documented recovery; records de-duplicate by key",
        fault_rules=("lose-answer-page-2",),
    ),
    Trial(
        name="stale-session",
        setup=Setup.STALE_SESSION,
        fault=(
            "an active session exists before the command starts, as a crashed previous run leaves it: started "
            f"{STALE_IDLE_SECONDS // 60} minutes earlier on the integration's clock, nothing pushed, untouched since"
        ),
        expects=(
            "on 409 session_already_active, deal with the named session: discard it (idle for long, it is no "
            "live sync) and start again, or continue it; waiting for it to expire takes "
            f"{(INACTIVITY_SECONDS - STALE_IDLE_SECONDS) // 60} minutes"
        ),
        documented="409 Conflict on start while a session is active (guide)",
        unmet_hint="the command never started a session",
    ),
    Trial(
        name="expired-mid-sync",
        scenario="expire-at-page-2",
        fault="the session expires as page 2 arrives: 409 session_not_active, state expired",
        expects="start a new session and push everything again, then apply",
        documented="sessions expire after inactivity (60 min); a push to an inactive session is 409",
        fault_rules=("expire-at-page-2",),
    ),
    Trial(
        name="page-too-large",
        setup=Setup.SIZE_LIMIT,
        fault=(
            # no parentheses: the oracle's details put the fault in some
            "the request size limit is lowered to 0.6 x the baseline's largest push, so that page gets 413: "
            "max_request_bytes on the wire, or max_decoded_bytes on the decoded body when the baseline "
            "compressed its pages"
        ),
        expects="split the page (in halves, recursively) and send the parts",
        documented="413 Payload Too Large over the request size limit (5 MB at Sprinto; the exam's limit is smaller)",
        unmet_hint="no push was refused for its size: the command sent smaller pages than in the baseline",
    ),
    Trial(
        name="processing-retried",
        scenario="processing-fails-once",
        fault="the first processing attempt fails, and Sprinto retries once on its side",
        expects="keep polling: the session ends processed with retry_count 1",
        documented="processing retries once on Sprinto's side (close endpoint)",
        fault_rules=("first-attempt-fails",),
        unmet_hint="the command never closed a session with apply",
    ),
    Trial(
        name="processing-failed",
        scenario="processing-always-fails",
        recoverable=False,
        fault="every processing attempt of every session fails: the session ends failed",
        expects="exit non-zero (running the whole sync again fails again)",
        documented="state failed with last_error after Sprinto's retry fails too",
        fault_rules=("every-apply-fails",),
        unmet_hint="the command never closed a session with apply",
    ),
    Trial(
        name="page-rejected",
        scenario="reject-page-2",
        recoverable=False,
        fault="every push of page 2 is answered 400 validation_failed",
        expects="discard the session, exit non-zero (valid data cannot be fixed; never apply a partial sync)",
        documented="400 validation error: any invalid record rejects the whole page",
        fault_rules=("reject-page-2",),
    ),
    Trial(
        name="slow-answer",
        scenario="slow-answer-page-2",
        fault="the first push of page 2 is held 300 s before it is even staged",
        expects="time out (seconds, not minutes), send the page again, finish",
        documented="a server that does not answer: every request needs a client-side timeout",
        fault_rules=("hold-page-2",),
        waits=2.0,
    ),
    Trial(
        name="close-fails",
        scenario="close-fails-once",
        fault="the first close is answered 503 and not carried out",
        expects="retry the close",
        documented="transient 5xx on close: the guide's exponential backoff",
        fault_rules=("first-close-unavailable",),
        unmet_hint="the command never closed a session",
    ),
    Trial(
        name="close-answer-lost",
        scenario="close-answer-lost",
        fault="the first close IS carried out, then its connection is reset, and a close sent again gets 409",
        expects="on 409 session_not_closable, read the session and go on polling it",
        documented="409 session_not_closable for a session no longer active (close endpoint)",
        fault_rules=("lose-close-answer",),
        unmet_hint="the command never closed a session",
    ),
)

BY_NAME: dict[str, Trial] = {trial.name: trial for trial in CATALOGUE}

# Each rule of the rules table whose basis is Sprinto's docs (rules.RULES, basis "doc"), and the
# trials a client meets it in. Some are a client's own mistake rather than a fault a server injects
# (a wrong version, key or session, a close without status): the baseline meets those, since a
# client that makes them fails the baseline (its request is refused, or the judge names it).
DOC_RULES_MET: dict[str, tuple[str, ...]] = {
    "paths and version": ("baseline",),
    "authentication": ("baseline",),
    "one active session": ("stale-session",),
    "unknown session": ("baseline",),
    "push to an inactive session": ("expired-mid-sync",),
    "close": ("baseline", "close-answer-lost"),
    "expired data": ("expired-mid-sync",),
    "request size": ("page-too-large",),
    "page validation": ("page-rejected",),
    "record fields": ("baseline",),
    "inactivity": ("expired-mid-sync",),
    "processing": ("processing-retried", "processing-failed"),
    "throttling": ("throttled", "throttled-no-retry-after"),
    "status and activity": ("baseline", "processing-retried"),
}


def doc_rules_table() -> str:
    """docs/exam.md's table of Sprinto's documented failures and the trials that meet them."""
    from ..rules import RULES  # the rules table is the source of what Sprinto documents

    lines = ["| Sprinto's rule (basis doc) | what it says | met in |", "|---|---|---|"]
    for rule in RULES:
        if rule.basis == "doc":
            trials = ", ".join(f"`{name}`" for name in DOC_RULES_MET.get(rule.topic, ()))
            lines.append(table_row(rule.topic, rule.says, trials or "no trial"))
    return "\n".join(lines)


def user_trial(document: Mapping[str, Any], source: str) -> Trial:
    """The user's own scenario as a recoverable trial named after it (``--scenario FILE``)."""
    name = str(document.get("name") or "custom")
    description = str(document.get("description") or f"the scenario in {source}")
    return Trial(
        name=name,
        document=document,
        fault=" ".join(description.split()),
        expects="recover: exit 0 with every expected record applied",
        documented=f"your own scenario ({source})",
        unmet_hint="none of the scenario's rules fired",
        user_defined=True,
    )
