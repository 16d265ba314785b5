"""What the judge answers: findings, behaviour coverage, and the report that holds both."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ..rules import Basis

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
T = TypeVar("T")
MAX_EVIDENCE = 20  # items listed per finding; ``count`` is how often it was seen


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

    def note(self, item: Callable[[], dict[str, Any]]) -> None:
        """One more place seen; ``item()`` makes its evidence, called only while fewer than
        MAX_EVIDENCE are listed: past them a place is only counted. Made for each place, the items
        (a formatted time each) were most of a check's step when a run repeats a mistake thousands
        of times (~28 ms of a slow machine for 3,667 pages sent twice)."""
        self.seen = self.count + 1
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(item())

    def noted(self, places: Sequence[T], item: Callable[[T], dict[str, Any]]) -> None:
        """``note`` each of ``places`` (``item(place)`` makes its evidence), in one call: a check
        that finds the same thing on every page of a 20,000-page session made as many closures
        (~15-25 ms of one step), where only the first ``MAX_EVIDENCE`` are ever listed."""
        seen = self.count
        for place in places[: max(0, MAX_EVIDENCE - len(self.evidence))]:
            self.evidence.append(item(place))
        self.seen = seen + len(places)

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


EVIDENCE_SHOWN = 5  # evidence items a text report lists per finding (its JSON has up to MAX_EVIDENCE)


def report_lines(report: Mapping[str, Any], requests: int | None, more: str) -> list[str]:
    """One integration's report (``Report.public()``, as the control API answers it) as text: each
    finding with its first evidence and its advice, then the behaviours met. ``more`` says where
    the rest of the evidence is (``mock-sprinto judge`` and ``mock-sprinto report`` both print it)."""
    counts = report.get("summary") or {}
    sent = "" if requests is None else f"{requests} request(s); "
    lines = [
        f"integration {report.get('integration_id')}: {sent}{counts.get('errors', 0)} error(s), "
        f"{counts.get('warnings', 0)} warning(s), {counts.get('infos', 0)} info(s)"
    ]
    for finding in report.get("findings") or ():
        count = finding.get("count", 1)
        lines.append(f"  {finding.get('severity')} {finding.get('id')} ({count}x): {finding.get('message')}")
        evidence = finding.get("evidence") or []
        lines += [f"    evidence: {json.dumps(item, sort_keys=True)}" for item in evidence[:EVIDENCE_SHOWN]]
        if len(evidence) > EVIDENCE_SHOWN:
            lines.append(f"    ... {count - EVIDENCE_SHOWN} more ({more})")
        lines.append(f"    advice: {finding.get('advice')}")
    coverage = report.get("coverage") or ()
    met = [item.get("behaviour") for item in coverage if item.get("met")]
    lines.append(f"  met: {', '.join(map(str, met)) or 'nothing documented'}")
    unrecovered = [item.get("behaviour") for item in coverage if item.get("met") and item.get("recovered") is False]
    if unrecovered:
        lines.append(f"  not recovered from: {', '.join(map(str, unrecovered))}")
    return lines
