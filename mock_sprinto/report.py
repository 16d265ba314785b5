"""The judge: verdicts on a client's behaviour, and the Sprinto behaviours its run met.

A pure function of what the emulator saw (the journal and the tenant's store): nothing here answers
a request or changes state. ``GET /_mock/integrations/{id}/report``, the pytest plugin and
``serve``'s summary all read the same ``Report``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Basis = Literal["doc", "mock"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass
class Finding:
    """One kind of client misbehaviour, with every place it was seen."""

    id: str  # stable and documented: tests and CI filters name it
    severity: Severity
    message: str
    advice: str
    basis: Basis  # "doc": Sprinto's best practice says so; "mock": the emulator's judgement
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.evidence)

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
    (None where recovery means nothing, e.g. ``applied``)."""

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
