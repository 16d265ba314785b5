"""The judge: verdicts on a client's behaviour, and the Sprinto behaviours its run met.

A pure function of what the emulator saw (the journal and the tenant's store): nothing here answers
a request or changes state. ``GET /_mock/integrations/{id}/report``, the pytest plugin, ``serve``'s
summary and the exam all read the same ``Report``. The package is one module per idea: the answer
(``model``), the catalogue of findings (``kinds``), what the judge reads (``run``), one function per
finding (``checks``) and per behaviour (``coverage``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..journal import JournalEntry
from ..steps import Steps, finished
from ..store import Judged
from .checks import CHECKS, closest_field
from .coverage import BEHAVIOURS, coverage, covering
from .kinds import BY_ID, KINDS, Kind, findings_table
from .model import SEVERITIES, Coverage, Finding, Report, Severity, summary_text
from .run import Run

__all__ = [
    "BEHAVIOURS",
    "BY_ID",
    "CHECKS",
    "KINDS",
    "SEVERITIES",
    "Coverage",
    "Finding",
    "Kind",
    "Report",
    "Run",
    "Severity",
    "closest_field",
    "coverage",
    "findings_table",
    "judge",
    "judging",
    "summary_text",
]


def judge(
    tenant: Judged,
    journal_entries: Iterable[JournalEntry],
    known_fields: Mapping[str, Iterable[str]] | None = None,
    key_fields: Mapping[str, str] | None = None,
) -> Report:
    """The report on one integration's client: what it did wrong, and what it met.

    ``journal_entries`` may hold other integrations' requests (they are left out); ``known_fields``
    are each entity type's known fields (``EntitySchema.known_fields``), for ``unknown_field``;
    ``key_fields`` each type's key field (``SchemaRegistry.key_fields``), to read a staged page's
    records by."""
    return finished(judging(tenant, journal_entries, known_fields, key_fields))


def judging(
    tenant: Judged,
    journal_entries: Iterable[JournalEntry],
    known_fields: Mapping[str, Iterable[str]] | None = None,
    key_fields: Mapping[str, str] | None = None,
) -> Steps[Report]:
    """``judge`` a check at a time (``steps``): each check is a pass over the run, and a busy
    integration's whole report was one step of ~50-150 ms. ``tenant`` is then ``TenantAsItStood``,
    taken with the journal's rows, so every check reads the same instant."""
    yield  # the run's indexes apart from the last entries made: ~15 ms together on a slow machine
    run = Run(tenant, journal_entries, known_fields or {}, key_fields or {})
    yield from run.reading_fields()
    findings = []
    for check in CHECKS.values():
        yield
        finding = check(run)
        if finding.count:
            findings.append(finding)
    _hinted(findings, run)
    return Report(tenant.id, findings, (yield from covering(run)))


def _hinted(findings: Iterable[Finding], run: Run) -> None:
    """Each evidence item naming a session's page gets the ``page_hint`` the client sent with it: a
    page's ordinal counts every push the session received, refused ones too, which a client's own
    numbering need not, and the hint is the client's name for the page."""
    for finding in findings:
        for item in finding.evidence:
            session_id, page = item.get("session_id"), item.get("page")
            if type(session_id) is str and type(page) is int and "page_hint" not in item:
                hint = run.page_hint(session_id, page)
                if hint is not None:
                    item["page_hint"] = hint
