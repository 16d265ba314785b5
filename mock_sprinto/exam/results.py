"""What an exam found: one result per trial, and the exam's; the JSON of the exam's contract
(shared/API.md, Part C), with more members."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .oracle import GAVE_UP, NOT_STARTED, TIMED_OUT, Reason


@dataclass(frozen=True)
class Finding:
    """One finding of the judge's report, as the results name it (the report file has the rest)."""

    id: str
    severity: str
    count: int
    message: str
    advice: str = ""  # what to do about it (the exam's text lists it once per finding id)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "count": self.count,
            "message": self.message,
            "advice": self.advice,
        }


@dataclass(frozen=True)
class TrialResult:
    name: str
    scenario: str | None
    description: str  # the fault, in a line
    recoverable: bool
    reasons: tuple[Reason, ...]
    notes: tuple[Reason, ...] = ()
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    records_expected: int | None = None
    records_applied: int = 0
    fault_met: bool = False
    findings: tuple[Finding, ...] = ()
    requests: int = 0  # the command's requests the emulator journaled (0: it never reached the emulator)
    integration_id: str | None = None
    folder: Path | None = None
    har: Path | None = None
    report: Path | None = None
    stdout: Path | None = None
    stderr: Path | None = None
    # Why the trial does not apply to this command ('' when it does): it was not run, and neither
    # passes nor fails (page-too-large for pages too small to be refused for their size).
    not_applicable: str = ""

    @property
    def passed(self) -> bool:
        return not self.reasons and not self.not_applicable

    @property
    def verdict(self) -> Literal["pass", "fail", "not_applicable"]:
        if self.not_applicable and not self.reasons:
            return "not_applicable"
        return "pass" if self.passed else "fail"

    @property
    def reason_ids(self) -> list[str]:
        return [reason.id for reason in self.reasons]

    @property
    def failed_before_any_request(self) -> bool:
        """Whether the command failed (a non-zero exit, a timeout, no start at all) before a single
        request of it reached the emulator: a missing file, a crash at import, a wrong address."""
        command_failed = {GAVE_UP, TIMED_OUT, NOT_STARTED} & set(self.reason_ids)
        return bool(command_failed) and self.requests == 0

    @property
    def failed_without_a_request(self) -> bool:
        """Whether the trial failed and not one request of its command reached the emulator (it
        failed first, or exited 0 having synced elsewhere or nothing): what the command wrote is
        then where the cause is."""
        return self.requests == 0 and self.verdict == "fail"

    def evidence(self) -> list[tuple[str, Path]]:
        """The files written for this trial, by what they are."""
        named = (("har", self.har), ("report", self.report), ("stdout", self.stdout), ("stderr", self.stderr))
        return [(label, path) for label, path in named if path is not None]

    def public(self) -> dict[str, Any]:
        """The trial's member of ``--json``: the contract's keys first, then this exam's own."""
        return {
            "name": self.name,
            "scenario": self.scenario,
            "verdict": self.verdict,
            "reasons": [reason.public() for reason in self.reasons],
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "records": {"expected": self.records_expected, "applied": self.records_applied},
            "fault_met": self.fault_met,
            "findings": [finding.public() for finding in self.findings],
            "har": _path(self.har),
            "notes": [note.public() for note in self.notes],
            "description": self.description,
            "recoverable": self.recoverable,
            "timed_out": self.timed_out,
            "integration_id": self.integration_id,
            "report": _path(self.report),
            "stdout": _path(self.stdout),
            "stderr": _path(self.stderr),
            "not_applicable": self.not_applicable or None,
        }


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)


@dataclass(frozen=True)
class ExamResult:
    trials: tuple[TrialResult, ...]
    seconds: float = 0.0
    artifacts: Path | None = None
    expected_from: Literal["baseline", "expect"] | None = None  # where the expected dataset came from
    notes: tuple[str, ...] = field(default_factory=tuple)  # the summary's remarks (no expected dataset, ...)
    skipped: tuple[str, ...] = ()  # trials planned but not run: the baseline's command failed at once

    @property
    def passed(self) -> bool:
        """Every trial passed, but those that do not apply to the command (at least one ran)."""
        judged = [trial for trial in self.trials if trial.verdict != "not_applicable"]
        return bool(judged) and all(trial.passed for trial in judged)

    @property
    def failed(self) -> list[TrialResult]:
        return [trial for trial in self.trials if trial.verdict == "fail"]

    @property
    def not_applicable(self) -> list[TrialResult]:
        return [trial for trial in self.trials if trial.verdict == "not_applicable"]

    def trial(self, name: str) -> TrialResult:
        for trial in self.trials:
            if trial.name == name:
                return trial
        raise KeyError(f"no trial named {name!r} in this exam ({', '.join(t.name for t in self.trials)})")

    def public(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "trials": [trial.public() for trial in self.trials],
            "seconds": round(self.seconds, 3),
            "expected_from": self.expected_from,
            "notes": list(self.notes),
            "skipped": list(self.skipped),
            "artifacts": _path(self.artifacts),
        }
