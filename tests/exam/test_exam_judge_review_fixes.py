"""What a review of the exam's judging found (/tmp/review-judge): stale-session's session looked
like another worker's live sync, an unmet fault came with accusations that presumed it, a
one-record-a-page client failed page-too-large for a fault it could not meet, and staged_twice
named one cause of two."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mock_sprinto.cli import main as cli_main
from mock_sprinto.exam import oracle
from mock_sprinto.exam.oracle import JournalFacts
from mock_sprinto.testing import MockSprintoServer
from mock_sprinto.testing.exam import run_exam

from .conftest import CAREFUL_PY, DATASET
from .test_oracle import facts


def _time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _call(env: Mapping[str, str], method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    url = f"{env['SPRINTO_BASE_URL']}/v1/integrations/{env['SPRINTO_INTEGRATION_ID']}{path}"
    data = None if body is None else json.dumps(body).encode()
    headers = {"api-key": env["SPRINTO_API_KEY"], "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---- 1: the stale session looks stale -------------------------------------------------------------------
def test_the_stale_session_was_idle_for_long_when_the_command_starts(artifacts: Path) -> None:
    seen: dict[str, Any] = {}

    def look(env: Mapping[str, str]) -> None:
        status, conflict = _call(env, "POST", "/sessions", {})
        seen["start"] = (status, conflict.get("code"))
        _, session = _call(env, "GET", f"/sessions/{conflict['active_session_id']}")
        seen["session"], seen["now"] = session, time.time()
        _call(env, "POST", f"/sessions/{session['id']}/close", {"status": "discard"})

    run_exam(look, trials=["stale-session"], expect=DATASET, artifacts=artifacts)
    session = seen["session"]
    assert seen["start"] == (409, "session_already_active") and session["state"] == "active"
    # On this machine's clock, as a client reads it: untouched for 45 minutes (it was 0 s: a live sync).
    idle = seen["now"] - _time(session["updated_at"])
    assert 45 * 60 - 60 < idle < 45 * 60 + 60
    assert _time(session["created_at"]) == _time(session["updated_at"])


def test_a_client_discarding_only_a_session_idle_for_long_passes_stale_session(artifacts: Path) -> None:
    # Before, the session was seconds old: this client took it for a live sync and waited 30 s.
    result = run_exam(
        [*CAREFUL_PY, "--on-conflict", "idle"], trials=["stale-session"], expect=DATASET, artifacts=artifacts
    )
    trial = result.trial("stale-session")
    assert trial.passed and trial.fault_met, trial.reasons
    assert trial.seconds < 10
    stdout = (trial.stdout or Path()).read_text()
    assert "has been idle 27" in stdout and "discarding it" in stdout


def test_clients_discarding_whatever_session_a_409_names_still_pass(artifacts: Path) -> None:
    result = run_exam(CAREFUL_PY, trials=["stale-session"], expect=DATASET, artifacts=artifacts)
    assert result.passed, result.trial("stale-session").reasons


def test_a_client_that_only_waits_for_the_stale_session_gets_no_start_in_the_trial(artifacts: Path) -> None:
    # The documented decision: it expires 15 minutes later, beyond any trial's time.
    result = run_exam(
        [*CAREFUL_PY, "--on-conflict", "wait"],
        trials=["stale-session"],
        expect=DATASET,
        artifacts=artifacts,
        trial_timeout=4,
    )
    trial = result.trial("stale-session")
    assert trial.fault_met and {"timed_out", "lost_records", "session_left_active"} <= set(trial.reason_ids)


def test_two_workers_discarding_only_idle_sessions_never_discard_each_others(tmp_path: Path) -> None:
    """The race the review ran: two workers at once; the second waits for the first's live sync."""
    with MockSprintoServer() as server:
        handle = server.new_integration("race")
        handle.use_settings({"processing_seconds": 0.2})
        env = {
            **os.environ,
            "SPRINTO_BASE_URL": handle.base_url,
            "SPRINTO_API_KEY": handle.api_key,
            "SPRINTO_INTEGRATION_ID": handle.integration_id,
        }
        workers = [
            subprocess.Popen(
                [*CAREFUL_PY, "--on-conflict", "idle"],
                env=env,
                stdout=(tmp_path / f"w{i}.txt").open("w"),
                stderr=subprocess.STDOUT,
            )
            for i in range(2)
        ]
        codes = [worker.wait(timeout=60) for worker in workers]
        closed = sorted(str(session.get("close_status")) for session in handle.sessions())
    logs = "".join((tmp_path / f"w{i}.txt").read_text() for i in range(2))
    assert codes == [0, 0], logs
    assert closed == ["apply", "apply"], logs  # each its own sync: no discard of the other's live one


# ---- 2: an unmet fault presumes nothing --------------------------------------------------------------------
def test_an_unmet_unrecoverable_fault_is_only_fault_not_met() -> None:
    applied = [{"id": "ses_1", "accepted_records_total": 30}]
    for trial in ("page-rejected", "processing-failed"):
        judged = facts(trial, exit_code=0, fault_met=False, applied_sessions=applied, fault_unmet_detail="x")
        assert [reason.id for reason in oracle.judge(judged).reasons] == ["fault_not_met"], trial
        # what is true whatever the fault is still said
        left = oracle.judge(replace(judged, left_active=["ses_2"]))
        assert [reason.id for reason in left.reasons] == ["session_left_active", "fault_not_met"]
    met = facts("page-rejected", exit_code=0, applied_sessions=applied)
    assert [reason.id for reason in oracle.judge(met).reasons] == ["claimed_success", "partial_apply"]


def test_gave_up_after_an_unmet_fault_does_not_say_the_fault_happened() -> None:
    (gave_up, unmet) = oracle.judge(facts("throttled", exit_code=1, fault_met=False)).reasons
    assert (gave_up.id, unmet.id) == ("gave_up", "fault_not_met")
    assert "after a recoverable fault" not in gave_up.detail and "never happened" in gave_up.detail


def test_a_one_page_sync_fails_page_rejected_for_its_unmet_fault_alone(artifacts: Path) -> None:
    result = run_exam(
        [*CAREFUL_PY, "--page-size", "100"], trials=["page-rejected"], expect=DATASET, artifacts=artifacts
    )
    trial = result.trial("page-rejected")
    assert trial.reason_ids == ["fault_not_met"] and trial.records_applied == 30


# ---- 3: pages too small to be refused: page-too-large does not apply -------------------------------------
def test_page_too_large_does_not_apply_to_a_record_a_page(artifacts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command = [*CAREFUL_PY, "--page-size", "1"]
    json_file, junit_file, md_file = artifacts.parent / "e.json", artifacts.parent / "e.xml", artifacts.parent / "e.md"
    code = cli_main(
        [
            "exam",
            "--trials",
            "page-too-large",
            "--artifacts",
            str(artifacts),
            "--json",
            str(json_file),
            "--junit-xml",
            str(junit_file),
            "--markdown",
            str(md_file),
            "--",
            *command,
        ]
    )
    shown = capsys.readouterr().out
    assert code == 0, shown  # neither a pass nor a failure: the exam passes
    assert "  N/A   page-too-large" in shown
    row = next(line for line in shown.splitlines() if line.startswith("page-too-large "))
    assert row.split()[1:6] == ["n/a", "-", "0.00", "-", "-"]
    assert "pages this small cannot be refused for their size" in shown
    assert "mock-sprinto exam PASSED: 1 of 1 trials passed (1 not applicable)" in shown
    (member,) = [t for t in json.loads(json_file.read_text())["trials"] if t["name"] == "page-too-large"]
    assert member["verdict"] == "not_applicable" and member["reasons"] == []
    assert "cannot be refused for their size" in member["not_applicable"]
    suite = ET.fromstring(junit_file.read_text()).find("testsuite")
    assert suite is not None and suite.get("skipped") == "1" and suite.get("failures") == "0"
    (case,) = [c for c in suite.iter("testcase") if c.get("name") == "page-too-large"]
    skipped = case.find("skipped")
    assert skipped is not None and "not applicable" in (skipped.get("message") or "")
    assert "n/a" in md_file.read_text()
    assert not (artifacts / "page-too-large").exists()  # not run: no evidence


def test_pages_over_the_floor_still_meet_page_too_large(artifacts: Path) -> None:
    result = run_exam([*CAREFUL_PY, "--page-size", "2"], trials=["page-too-large"], artifacts=artifacts)
    trial = result.trial("page-too-large")
    assert trial.verdict == "pass" and trial.fault_met, trial.reasons


# ---- 4: staged_twice names both of its causes ---------------------------------------------------------------
def test_staged_twice_is_true_of_a_resumed_sync_too() -> None:
    (note,) = oracle.judge(facts(journal=JournalFacts(staged_twice=(("ses_1", 1),)))).notes
    assert note.id == "staged_twice"
    assert "after its answer was lost" not in note.detail  # a crashed run's page was answered
    assert "lost answer" in note.detail and "resumed" in note.detail


def test_a_resumed_sync_staging_a_page_twice_is_noted_as_such(artifacts: Path, tmp_path: Path) -> None:
    """The review's crash and resume: the first run dies after its page 1 was accepted (answered
    202); the second continues its session, sending page 1 again."""
    checkpoint = tmp_path / "session.txt"
    script = tmp_path / "resume.py"
    script.write_text(RESUME.replace("CHECKPOINT", repr(str(checkpoint))))
    result = run_exam([sys.executable, str(script)], trials=["baseline"], artifacts=artifacts)
    baseline = result.trial("baseline")
    assert baseline.passed, baseline.reasons
    (note,) = [note for note in baseline.notes if note.id == "staged_twice"]
    assert "resumed sync" in note.detail


RESUME = f"""
import subprocess, sys
sys.path.insert(0, {str(Path(CAREFUL_PY[1]).parent)!r})
import careful
if "--crash" in sys.argv:
    client = careful.Client()
    session = client.start()
    open(CHECKPOINT, "w").write(session)
    client.push(session, careful.users(30)[:10], 1)
    raise SystemExit(3)
subprocess.run([sys.executable, __file__, "--crash"])
client, session = careful.Client(), open(CHECKPOINT).read()
for hint in (1, 2, 3):
    client.push(session, careful.users(30)[(hint - 1) * 10 : hint * 10], hint)
client.close(session, "apply")
sys.exit(0 if client.outcome(session) else 1)
"""
