"""The oracle as pure functions: each reason id fires on the facts it names, and only then."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mock_sprinto.exam import oracle
from mock_sprinto.exam.oracle import Facts, JournalFacts, dataset_of, fault_met, journal_facts
from mock_sprinto.exam.trials import BASELINE, BY_NAME, Setup, user_trial

from .clients.careful import users

EXPECTED = dataset_of({"User": users(30)})
KEYS = {"User": "employeeId"}


def facts(trial: str = "throttled", **changes: Any) -> Facts:
    base = Facts(
        trial=BY_NAME[trial],
        exit_code=0,
        timed_out=False,
        timeout_seconds=60,
        applied=EXPECTED,
        expected=EXPECTED,
        key_fields=KEYS,
    )
    return replace(base, **changes)


def ids(f: Facts) -> list[str]:
    return [reason.id for reason in oracle.judge(f).reasons]


def test_a_recovered_trial_passes() -> None:
    assert oracle.judge(facts()).passed


def test_gave_up_is_a_non_zero_exit_after_a_recoverable_fault() -> None:
    verdict = oracle.judge(facts(exit_code=1))
    assert [r.id for r in verdict.reasons] == ["gave_up"]
    assert "exit code 1" in verdict.reasons[0].detail and "429" in verdict.reasons[0].detail


def test_the_baseline_gives_up_with_no_fault_injected() -> None:
    (reason,) = oracle.judge(facts("baseline", exit_code=3)).reasons
    assert reason.id == "gave_up" and "no fault injected" in reason.detail


def test_claimed_success_is_exit_0_after_an_unrecoverable_fault() -> None:
    assert ids(facts("processing-failed", applied={})) == ["claimed_success"]
    assert oracle.judge(facts("processing-failed", exit_code=1, applied={})).passed


def test_an_unrecoverable_trial_does_not_compare_records() -> None:
    assert oracle.judge(facts("page-rejected", exit_code=1, applied={})).passed


def test_partial_apply_is_a_session_applied_despite_an_unrecoverable_fault() -> None:
    applied = dataset_of({"User": users(20)})
    session = {"id": "ses_1", "accepted_records_total": 20}
    verdict = oracle.judge(facts("page-rejected", exit_code=1, applied=applied, applied_sessions=[session]))
    (reason,) = verdict.reasons
    assert reason.id == "partial_apply" and "ses_1" in reason.detail and "20 records" in reason.detail


def test_lost_records_names_how_many_which_types_and_examples_by_key() -> None:
    applied = dataset_of({"User": users(30)[:27]})
    (reason,) = oracle.judge(facts(applied=applied)).reasons
    assert reason.id == "lost_records"
    assert "3 record(s) (User: 3 of 30)" in reason.detail
    assert "employeeId=E28" in reason.detail and "employeeId=E30" in reason.detail


def test_a_changed_record_is_lost_and_extra() -> None:
    changed = users(30)
    changed[4] = {**changed[4], "lastName": "Changed"}
    assert ids(facts(applied=dataset_of({"User": changed}))) == ["lost_records", "extra_records"]


def test_extra_records_include_a_type_nobody_expected() -> None:
    applied = {**EXPECTED, **dataset_of({"Device": [{"serial": "X1"}]})}
    (reason,) = oracle.judge(facts(applied=applied)).reasons
    assert reason.id == "extra_records" and "Device: 1 of 1" in reason.detail and '"serial":"X1"' in reason.detail


def test_records_are_compared_as_multisets_of_canonical_json() -> None:
    reordered = [dict(reversed(list(record.items()))) for record in users(30)]
    assert oracle.judge(facts(applied=dataset_of({"User": reordered}))).passed
    twice = dataset_of({"User": [*users(30), users(30)[0]]})
    assert ids(facts(applied=twice)) == ["extra_records"]


def test_nothing_applied_fails_the_baseline_only_when_there_is_no_expectation() -> None:
    assert ids(facts("baseline", applied={}, expected=None)) == ["nothing_applied"]
    assert ids(facts("baseline", applied={}, expected=EXPECTED)) == ["lost_records"]
    assert oracle.judge(facts("throttled", applied={}, expected=None)).passed  # nothing to compare with


def test_timed_out_replaces_the_exit_code_verdict() -> None:
    verdict = oracle.judge(facts(exit_code=None, timed_out=True, timeout_seconds=5))
    assert [r.id for r in verdict.reasons] == ["timed_out"]
    assert "5 s" in verdict.reasons[0].detail


def test_findings_are_the_judges_error_findings() -> None:
    findings = [
        {"id": "retry_too_soon", "severity": "error", "count": 2},
        {"id": "duplicate_page", "severity": "warning", "count": 1},
    ]
    (reason,) = oracle.judge(facts(findings=findings)).reasons
    assert reason.id == "findings" and "retry_too_soon (2x)" in reason.detail and "duplicate_page" not in reason.detail


def test_session_left_active_names_the_session_and_the_stale_one() -> None:
    verdict = oracle.judge(facts("stale-session", left_active=["ses_old"], stale_session_id="ses_old"))
    (reason,) = verdict.reasons
    assert reason.id == "session_left_active" and "ses_old" in reason.detail and "before the run" in reason.detail


def test_fault_not_met_fails_and_says_why() -> None:
    (reason,) = oracle.judge(facts(fault_met=False, fault_unmet_detail="rule 'x' never fired")).reasons
    assert reason.id == "fault_not_met" and "rule 'x' never fired" in reason.detail and "two pages" in reason.detail


def test_the_judges_warnings_are_a_note_never_a_failure() -> None:
    # A command that closed with apply and exited at once passed the baseline in silence: the judge's
    # outcome_not_read was in report.json only.
    findings = [
        {"id": "outcome_not_read", "severity": "warning", "count": 1},
        {"id": "missing_page_hint", "severity": "info", "count": 3},
    ]
    verdict = oracle.judge(facts("baseline", findings=findings))
    assert verdict.passed
    (note,) = verdict.notes
    assert note.id == "warnings" and "outcome_not_read (1x)" in note.detail and "missing_page_hint" not in note.detail


def test_staged_twice_is_a_note() -> None:
    verdict = oracle.judge(facts("answer-lost", journal=JournalFacts(staged_twice=(("ses_1", 1),))))
    assert verdict.passed and [note.id for note in verdict.notes] == ["staged_twice"]


@pytest.mark.parametrize("trial", [t for t in BY_NAME.values() if not t.baseline], ids=lambda t: t.name)
def test_a_detail_never_nests_parentheses(trial: Any) -> None:
    """Each detail puts the trial's fault in parentheses: the fault's text must have none."""
    exit_code = 1 if trial.recoverable else 0
    verdict = oracle.judge(facts(trial.name, exit_code=exit_code, fault_met=False, fault_unmet_detail="x"))
    for reason in verdict.reasons:
        depth = 0
        for char in reason.detail:
            depth += {"(": 1, ")": -1}.get(char, 0)
            assert depth <= 1, reason.detail


def test_not_started() -> None:
    assert ids(facts(exit_code=None, start_error="'nope': No such file")) == ["not_started"]


def test_every_reason_id_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "exam.md").read_text(encoding="utf-8")
    for reason_id in (*oracle.REASON_IDS, *oracle.NOTE_IDS):
        assert f"`{reason_id}`" in doc, reason_id


# ---- journal facts and fault_met ---------------------------------------------------------------------
def entry(operation: str, status: int, **more: Any) -> dict[str, Any]:
    return {"operation": operation, "status": status, "code": None, "rule": None, **more}


def test_journal_facts() -> None:
    journal = [
        entry("start_session", 409, code="session_already_active"),
        entry("push_page", 202, session_id="s", digest="a", page=1, bytes_in=300),
        entry("push_page", 0, session_id="s", digest="b", page=2, bytes_in=310, code="transport_reset"),
        entry("push_page", 202, session_id="s", digest="b", page=3, bytes_in=310),
        entry("push_page", 413, session_id="s", digest="c", bytes_in=900, code="payload_too_large"),
        entry("push_page", 413, session_id="s", digest="c", bytes_in=900, code="payload_too_large", rule="r"),
    ]
    found = journal_facts(journal)
    assert (found.start_conflicts, found.size_refusals, found.error_answers) == (1, 1, 4)
    assert found.staged_twice == (("s", 1),)
    # the emulator's own refusals, most first: not a rule's, not a broken connection (no answer)
    assert found.refused == (("409 session_already_active", 1), ("413 payload_too_large", 1))


def test_a_page_its_session_refused_is_not_staged_however_often_it_is_sent() -> None:
    # A page a rule rejected (400, numbered on its session as every page that reached it) sent
    # again unchanged and taken: the exam noted it "staged twice".
    journal = [
        entry(
            "push_page", 400, session_id="s", digest="a", page=2, code="validation_failed", rule="once", request_id="r1"
        ),
        entry("push_page", 202, session_id="s", digest="a", page=3, request_id="r2"),
    ]
    assert journal_facts(journal, {"r1"}).staged_twice == ()
    assert journal_facts(journal).staged_twice == (("s", 1),)  # what the sessions' list tells apart


def test_a_baseline_that_applied_nothing_says_what_the_emulator_refused() -> None:
    """A Ruby client's Net::HTTP sent every body as a form: the exam said "nothing applied" and
    "the fault never happened" without the 415 that explained both."""
    form = "415 unsupported_media_type"
    journal = journal_facts(
        [
            entry("start_session", 201),
            *[entry("push_page", 415, code="unsupported_media_type")] * 3,
            entry("close_session", 415, code="unsupported_media_type"),
            entry("push_page", 429, code="rate_limited", rule="throttle-page-2"),  # the trial's own: not said
        ]
    )
    (reason,) = oracle.judge(facts("baseline", applied={}, expected=None, journal=journal)).reasons
    assert reason.id == "nothing_applied" and f"the emulator refused its requests with {form} 4 times" in reason.detail
    unmet = oracle.judge(facts(fault_met=False, fault_unmet_detail="rule never fired", journal=journal)).reasons
    assert "stopping after its first" in unmet[-1].detail and f"{form} 4 times" in unmet[-1].detail
    assert "rate_limited" not in unmet[-1].detail
    assert "refused" not in oracle.judge(facts("baseline", applied={}, expected=None)).reasons[0].detail


def test_fault_met_by_rules_setup_or_error_answers() -> None:
    assert fault_met(BASELINE, None, JournalFacts()) == (True, "")
    assert fault_met(BY_NAME["throttled"], {"throttle-page-2": 1}, JournalFacts())[0]
    met, why = fault_met(BY_NAME["throttled"], {"throttle-page-2": 0}, JournalFacts())
    assert not met and "'throttle-page-2' never fired" in why
    stale = BY_NAME["stale-session"]
    assert stale.setup is Setup.STALE_SESSION
    assert not fault_met(stale, None, JournalFacts())[0]
    assert fault_met(stale, None, JournalFacts(start_conflicts=1))[0]
    assert fault_met(BY_NAME["page-too-large"], None, JournalFacts(size_refusals=2))[0]
    settings_only = user_trial({"name": "limits", "settings": {"max_page_items": 5}}, "limits.yaml")
    assert not fault_met(settings_only, {}, JournalFacts())[0]
    assert fault_met(settings_only, {}, JournalFacts(error_answers=1))[0]
    any_rule = user_trial({"name": "mine", "rules": []}, "mine.yaml")
    assert fault_met(any_rule, {"a": 0, "b": 1}, JournalFacts())[0]


@pytest.mark.parametrize("trial", [t for t in BY_NAME.values() if not t.baseline])
def test_each_trial_says_what_it_expects_and_what_sprinto_documents(trial: Any) -> None:
    assert trial.fault and trial.expects and trial.documented and trial.unmet_hint
    assert trial.scenario or trial.setup is not Setup.NONE


# ---- page-too-large's limit ------------------------------------------------------------------------
def _session(*pages: tuple[str, int, int]) -> dict[str, Any]:
    return {
        "pages": [
            {"accepted": True, "encoding": encoding, "wire_bytes": wire, "decoded_bytes": decoded}
            for encoding, wire, decoded in pages
        ]
    }


def test_the_size_limit_is_on_the_decoded_size_of_the_compressed_pages_alone() -> None:
    from mock_sprinto.exam.runner import SIZE_LIMIT_FLOOR, size_limit

    plain = size_limit([_session(("identity", 3000, 3000), ("identity", 2000, 2000))])
    assert (plain.setting, plain.value, plain.largest) == ("max_request_bytes", 1800, 3000)
    # A plain body is never held to max_decoded_bytes: a 4000-byte plain page beside gzip ones said
    # "the command's largest page was 4000 bytes decoded, within the limit of 2400".
    mixed = size_limit([_session(("identity", 4000, 4000), ("gzip", 400, 3000))])
    assert (mixed.setting, mixed.value, mixed.largest) == ("max_decoded_bytes", 1800, 3000)
    nothing = size_limit([_session()])
    assert (nothing.value, nothing.largest) == (SIZE_LIMIT_FLOOR, 0)
    assert nothing.unmet_hint(0) == "the baseline staged no page, so the exam had no page size to set its limit from"
    assert "its floor" in nothing.fault and "largest push of 0 bytes" not in nothing.fault  # it said so
    assert "0.6 x the baseline's largest push of 3000 bytes" in plain.fault
    small = size_limit([_session(("gzip", 200, 500))])
    assert "within the exam's smallest limit (512 bytes)" in small.not_applicable  # not run: it cannot apply
    assert "start or a close" not in small.not_applicable  # the decoded floor is no start's size
    assert plain.not_applicable == nothing.not_applicable == ""  # a page over the limit; no page measured
    assert "smaller pages than in the baseline" in plain.unmet_hint(1500)
