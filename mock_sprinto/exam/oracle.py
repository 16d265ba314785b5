"""The exam's verdict on one trial: pure functions of what the command did and what the emulator saw.

The inputs are facts (an exit code, whether the wall-clock limit hit, the applied and expected
datasets, the judge's findings, the sessions, the journal), never a live emulator, so every rule
here is tested without running anything. Each reason has a stable id (documented in docs/exam.md)
and one detail line a person can act on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .trials import Setup, Trial

# Reasons that fail a trial (stable ids; docs/exam.md lists each).
TIMED_OUT = "timed_out"
NOT_STARTED = "not_started"
SETUP_FAILED = "setup_failed"
GAVE_UP = "gave_up"
CLAIMED_SUCCESS = "claimed_success"
NOTHING_APPLIED = "nothing_applied"
LOST_RECORDS = "lost_records"
EXTRA_RECORDS = "extra_records"
PARTIAL_APPLY = "partial_apply"
FINDINGS = "findings"
SESSION_LEFT_ACTIVE = "session_left_active"
FAULT_NOT_MET = "fault_not_met"
REASON_IDS = (
    TIMED_OUT,
    NOT_STARTED,
    SETUP_FAILED,
    GAVE_UP,
    CLAIMED_SUCCESS,
    NOTHING_APPLIED,
    LOST_RECORDS,
    EXTRA_RECORDS,
    PARTIAL_APPLY,
    FINDINGS,
    SESSION_LEFT_ACTIVE,
    FAULT_NOT_MET,
)
# Notes: worth knowing, never a failure.
STAGED_TWICE = "staged_twice"
WARNINGS = "warnings"
NOTE_IDS = (STAGED_TWICE, WARNINGS)

EXAMPLES_SHOWN = 5  # records named in a lost_records / extra_records detail


@dataclass(frozen=True)
class Reason:
    id: str
    detail: str

    def public(self) -> dict[str, str]:
        return {"id": self.id, "detail": self.detail}


@dataclass(frozen=True)
class Verdict:
    reasons: tuple[Reason, ...]
    notes: tuple[Reason, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.reasons


# ---- datasets: entity type -> multiset of canonical JSON records ------------------------------------
Dataset = dict[str, Counter[str]]


def canonical(record: Any) -> str:
    """One spelling per record, whatever the key order or spacing it was sent with."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dataset_of(records: Mapping[str, Iterable[Any]]) -> Dataset:
    return {entity_type: Counter(canonical(r) for r in items) for entity_type, items in records.items()}


def size(dataset: Mapping[str, Counter[str]]) -> int:
    return sum(sum(items.values()) for items in dataset.values())


def _difference(a: Mapping[str, Counter[str]], b: Mapping[str, Counter[str]]) -> Dataset:
    """What ``a`` holds that ``b`` does not, per entity type (multisets)."""
    left: Dataset = {}
    for entity_type, items in a.items():
        missing = items - b.get(entity_type, Counter())
        if missing:
            left[entity_type] = missing
    return left


def _example(entity_type: str, record_json: str, key_fields: Mapping[str, str | None]) -> str:
    key = key_fields.get(entity_type)
    if key:
        try:
            value = json.loads(record_json).get(key)
        except (ValueError, AttributeError):
            value = None
        if value is not None:
            return f"{key}={value}"
    return record_json if len(record_json) <= 80 else record_json[:77] + "..."


def describe_records(
    difference: Mapping[str, Counter[str]], total: Mapping[str, Counter[str]], key_fields: Mapping[str, str | None]
) -> str:
    """'3 records (User: 3 of 30), e.g. User employeeId=E11, employeeId=E12'."""
    count = size(difference)
    per_type = ", ".join(
        f"{entity_type}: {sum(items.values())} of {sum(total.get(entity_type, Counter()).values())}"
        for entity_type, items in sorted(difference.items())
    )
    examples: list[str] = []
    for entity_type, items in sorted(difference.items()):
        for record_json in sorted(items):
            if len(examples) == EXAMPLES_SHOWN:
                break
            examples.append(f"{entity_type} {_example(entity_type, record_json, key_fields)}")
    more = f" (and {count - len(examples)} more)" if count > len(examples) else ""
    return f"{count} record(s) ({per_type}), e.g. {'; '.join(examples)}{more}"


# ---- journal facts ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JournalFacts:
    start_conflicts: int = 0  # starts answered 409 session_already_active
    size_refusals: int = 0  # pushes the emulator itself refused with 413 (not a scenario's)
    error_answers: int = 0  # answers >= 400, or no answer at all (status 0: a broken connection)
    # (session id, times) for each page content staged more than once in one session
    staged_twice: tuple[tuple[str, int], ...] = ()
    requests: int = 0  # every request the emulator journaled, whatever its answer
    # ("415 unsupported_media_type", times), most first: what the emulator itself refused (no
    # scenario rule's doing), which is often why a command met no fault or applied nothing
    refused: tuple[tuple[str, int], ...] = ()

    def refusals(self) -> str:
        """The emulator's own refusals, said in a few words ('' when there were none)."""
        if not self.refused:
            return ""
        shown = ", ".join(f"{what} {_times(times)}" for what, times in self.refused[:REFUSALS_SHOWN])
        more = f" and {len(self.refused) - REFUSALS_SHOWN} more" if len(self.refused) > REFUSALS_SHOWN else ""
        return f"; the emulator refused its requests with {shown}{more}"


REFUSALS_SHOWN = 3  # no parentheses in what it says: a reason's detail already has some


def _times(times: int) -> str:
    return "once" if times == 1 else f"{times} times"


def journal_facts(entries: Sequence[Mapping[str, Any]], refused_pages: Collection[str] = ()) -> JournalFacts:
    """What the journal tells of a trial; ``refused_pages``: the requests of the pages the sessions
    list as rejected or refused (numbered as every page that reached a session, but never staged)."""
    conflicts = refusals = errors = 0
    staged: Counter[tuple[str, str]] = Counter()
    refused: Counter[str] = Counter()
    for entry in entries:
        operation, status, code = entry.get("operation"), entry.get("status"), entry.get("code")
        if isinstance(status, int) and (status == 0 or status >= 400):
            errors += 1
            if status >= 400 and entry.get("rule") is None:
                refused[f"{status} {code}" if code else str(status)] += 1
        if operation == "start_session" and status == 409 and code == "session_already_active":
            conflicts += 1
        if operation != "push_page":
            continue
        if status == 413 and code == "payload_too_large" and entry.get("rule") is None:
            refusals += 1
        # ``page`` is set on the entry of every push that reached its session: staged, whatever the
        # client was then told (a reset after staging included), unless the session lists it
        # refused (a page a rule rejected sent again unchanged was "staged twice"). The same digest
        # staged twice is a page staged twice.
        session_id, digest = entry.get("session_id"), entry.get("digest")
        if entry.get("page") is not None and session_id and digest and entry.get("request_id") not in refused_pages:
            staged[(str(session_id), str(digest))] += 1
    twice = Counter(session_id for (session_id, _), times in staged.items() if times > 1)
    return JournalFacts(
        conflicts,
        refusals,
        errors,
        tuple(sorted(twice.items())),
        requests=len(entries),
        refused=tuple(refused.most_common()),
    )


def fault_met(trial: Trial, rules_fired: Mapping[str, int] | None, facts: JournalFacts) -> tuple[bool, str]:
    """Whether the trial's fault happened, and if not, what did not happen."""
    if trial.baseline:
        return True, ""  # no fault to meet
    if trial.setup is Setup.STALE_SESSION:
        return facts.start_conflicts > 0, "no start was answered 409 session_already_active"
    if trial.setup is Setup.SIZE_LIMIT:
        return facts.size_refusals > 0, "no push was answered 413 payload_too_large"
    fired = dict(rules_fired or {})
    if trial.fault_rules:
        unfired = [name for name in trial.fault_rules if fired.get(name, 0) == 0]
        return not unfired, f"scenario rule(s) {', '.join(map(repr, unfired))} never fired"
    if fired:
        return any(count > 0 for count in fired.values()), "none of the scenario's rules fired"
    # A scenario with settings only (a rate limit, small limits): its fault is an error answer.
    return facts.error_answers > 0, "no request was answered with an error"


# ---- the verdict ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    trial: Trial
    exit_code: int | None
    timed_out: bool
    timeout_seconds: float
    applied: Dataset
    expected: Dataset | None  # None: nothing to compare with (the baseline applied nothing)
    findings: Sequence[Mapping[str, Any]] = ()  # the judge's report findings
    left_active: Sequence[str] = ()  # sessions still active when the command ended
    applied_sessions: Sequence[Mapping[str, Any]] = ()  # sessions that ended processed
    fault_met: bool = True
    fault_unmet_detail: str = ""
    journal: JournalFacts = field(default_factory=JournalFacts)
    key_fields: Mapping[str, str | None] = field(default_factory=dict)
    stale_session_id: str | None = None
    start_error: str | None = None  # the command could not be started at all


def judge(facts: Facts) -> Verdict:
    """The trial's verdict: each reason it failed, and the notes that do not fail it.

    When the trial's fault never happened, the reasons that presume it are not given: an
    unrecoverable trial's exit 0 and applied session (``claimed_success``, ``partial_apply``) are
    what a sync that met no fault should do. What is true whatever the fault (a timeout, a command
    that never started, a non-zero exit or lost records where a recovery was expected, the judge's
    errors, a session left active) is still said, beside ``fault_not_met``."""
    unrecoverable = not facts.trial.recoverable
    reasons = [
        *(_exit(facts) if facts.fault_met or not unrecoverable else _exit_whatever_the_fault(facts)),
        *(_records(facts) if not unrecoverable else _partial_applies(facts) if facts.fault_met else []),
        *_findings(facts),
        *_left_active(facts),
        *_unmet(facts),
    ]
    return Verdict(tuple(reasons), (*_staged_twice(facts), *_warnings(facts)))


def _exit(facts: Facts) -> list[Reason]:
    """How the command ended, against what the trial's fault allows."""
    trial = facts.trial
    if facts.start_error is not None:
        return [Reason(NOT_STARTED, f"the command could not be started: {facts.start_error}")]
    if facts.timed_out:
        return [
            Reason(
                TIMED_OUT,
                f"no exit within {facts.timeout_seconds:g} s (the trial's wall-clock limit): its process group "
                "was killed; a request with no timeout hangs on a server that never answers",
            )
        ]
    if trial.recoverable and facts.exit_code != 0:
        if trial.baseline:
            why = "with no fault injected"
        elif facts.fault_met:
            why = f"after a recoverable fault ({trial.fault})"
        else:  # nothing went wrong that a sync had to recover from
            why = "although the trial's fault never happened"
        return [Reason(GAVE_UP, f"exit code {facts.exit_code} {why}; expected: {trial.expects}")]
    if not trial.recoverable and facts.exit_code == 0:
        return [
            Reason(
                CLAIMED_SUCCESS,
                f"exit code 0 although the sync could not succeed ({trial.fault}); expected: {trial.expects}",
            )
        ]
    return []


def _exit_whatever_the_fault(facts: Facts) -> list[Reason]:
    """An unrecoverable trial whose fault never happened: only how the command ended that is wrong
    whatever happened (a timeout, no start); exit 0 or not, it had nothing to give up on."""
    return [reason for reason in _exit(facts) if reason.id in (TIMED_OUT, NOT_STARTED)]


def _partial_applies(facts: Facts) -> list[Reason]:
    return [
        Reason(
            PARTIAL_APPLY,
            f"session {session.get('id')} was applied ({session.get('accepted_records_total', '?')} records) "
            "although the trial's fault cannot be recovered: a partial sync replaced the dataset",
        )
        for session in facts.applied_sessions
    ]


def _findings(facts: Facts) -> list[Reason]:
    return _judges(facts, "error", FINDINGS, "error findings")


def _warnings(facts: Facts) -> list[Reason]:
    """The judge's warnings: legal but risky (an apply whose outcome is never read, a tight poll),
    so never a failure, but shown: a client exiting 0 at once after its close passed in silence."""
    return _judges(facts, "warning", WARNINGS, "warnings")


def _judges(facts: Facts, severity: str, reason_id: str, what: str) -> list[Reason]:
    """The judge's findings of one severity, named with their counts (report.json has the rest)."""
    found = [f for f in facts.findings if f.get("severity") == severity]
    if not found:
        return []
    listed = ", ".join(f"{f.get('id')} ({f.get('count', 1)}x)" for f in found)
    return [Reason(reason_id, f"the judge's {what}: {listed} (report.json has evidence and advice)")]


def _left_active(facts: Facts) -> list[Reason]:
    reasons = []
    for session_id in facts.left_active:
        whose = " (the session the exam left active before the run)" if session_id == facts.stale_session_id else ""
        reasons.append(
            Reason(
                SESSION_LEFT_ACTIVE,
                f"session {session_id}{whose} was still active when the command ended: close it with "
                "apply or discard, or the next run's start gets 409 session_already_active",
            )
        )
    return reasons


def _unmet(facts: Facts) -> list[Reason]:
    if facts.fault_met:
        return []
    return [
        Reason(
            FAULT_NOT_MET,
            f"the trial's fault never happened: {facts.fault_unmet_detail} ({facts.trial.unmet_hint}"
            f"{facts.journal.refusals()}); the trial proved nothing",
        )
    ]


def _staged_twice(facts: Facts) -> list[Reason]:
    return [
        Reason(
            STAGED_TWICE,
            # Two causes stage a page twice: a re-send after a lost answer, and a run that resumes
            # a session an earlier one staged the page in (crashed after its 202): not only the first.
            f"session {session_id}: {pages} page(s) staged twice (the same page sent again after it had "
            "been staged: a re-send after a lost answer, or a resumed sync sending a page again); "
            "harmless for records with a key, which de-duplicate",
        )
        for session_id, pages in facts.journal.staged_twice
    ]


def _records(facts: Facts) -> list[Reason]:
    applied, expected = facts.applied, facts.expected
    if expected is None:
        if facts.trial.baseline and not size(applied):
            return [
                Reason(
                    NOTHING_APPLIED,
                    "the baseline applied no record, so no trial has an expected dataset to compare with "
                    f"(a sync that applies nothing, or pass --expect FILE{facts.journal.refusals()})",
                )
            ]
        return []
    reasons = []
    lost = _difference(expected, applied)
    if lost:
        reasons.append(
            Reason(LOST_RECORDS, "expected but not applied: " + describe_records(lost, expected, facts.key_fields))
        )
    extra = _difference(applied, expected)
    if extra:
        reasons.append(
            Reason(EXTRA_RECORDS, "applied but not expected: " + describe_records(extra, applied, facts.key_fields))
        )
    return reasons
