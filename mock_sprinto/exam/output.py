"""How an exam is shown: a progress line per finished trial, the final table, and the files a CI
job keeps (``--json``, ``--junit-xml``, ``--markdown``)."""

from __future__ import annotations

import json
import os
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from ..terminal import terminal_width
from .process import read_tail
from .results import ExamResult, TrialResult
from .trials import Trial

JUNIT_TAIL_BYTES = 8 * 1024  # of stdout and of stderr, in each testcase
# Of a command that failed before any request, its stderr's first and last lines: the cause is at
# the top in a Node or Java error (`Error: Cannot find module ...`, then the stack) and at the
# bottom in a Python traceback; the middle (a stack) is left out, and the excerpt stays bounded.
STDERR_HEAD_LINES = 10
STDERR_TAIL_LINES = 5
STDERR_LINE_CHARS = 300
_STDERR_READ_BYTES = 4 * 1024  # of the start and of the end of stderr.txt
_NAME_WIDTH = 26


# How a verdict is shown in the terminal and the Markdown table: a trial that does not apply to the
# command is neither a pass nor a failure, and says so in as few letters.
_SHOWN = {"pass": "pass", "fail": "fail", "not_applicable": "n/a"}


def _shown(result: TrialResult) -> str:
    return _SHOWN[result.verdict]


def _reasons_short(result: TrialResult) -> str:
    if result.reasons:
        return ", ".join(dict.fromkeys(result.reason_ids))  # each id once, in order
    if result.notes:
        return "(" + ", ".join(dict.fromkeys(note.id for note in result.notes)) + ")"
    return ""


def _fault_met(result: TrialResult, no: str) -> str:
    if result.verdict == "not_applicable":
        return "-"  # not run: no fault to meet
    return "yes" if result.fault_met else no


def _records(result: TrialResult) -> str:
    if result.verdict == "not_applicable":
        return "-"  # not run: "0/30" would read as records lost
    expected = "-" if result.records_expected is None else str(result.records_expected)
    return f"{result.records_applied}/{expected}"


def _exit(result: TrialResult) -> str:
    if result.timed_out:
        return "killed"
    return "-" if result.exit_code is None else str(result.exit_code)


def progress_line(result: TrialResult) -> str:
    """One finished trial, as it finishes."""
    line = (
        f"  {_shown(result).upper():4}  {result.name:<{_NAME_WIDTH}} {result.seconds:6.2f} s  {_reasons_short(result)}"
    )
    return line.rstrip()


def headline(exam: ExamResult) -> str:
    passed = sum(trial.passed for trial in exam.trials)
    verdict = "PASSED" if exam.passed else "FAILED"
    # A trial that does not apply is not counted among those that could pass: it is named apart.
    judged = len(exam.trials) - len(exam.not_applicable)
    aside = [f"{len(exam.not_applicable)} not applicable"] if exam.not_applicable else []
    aside += [f"{len(exam.skipped)} not run"] if exam.skipped else []
    extra = f" ({', '.join(aside)})" if aside else ""
    return f"mock-sprinto exam {verdict}: {passed} of {judged} trials passed{extra} in {exam.seconds:.1f} s"


def table(exam: ExamResult, width: int | None = None) -> str:
    """The final table, each failed trial's reasons and evidence, and the summary; text wrapped at
    ``width`` (default: the terminal's)."""
    width = width or terminal_width()
    rows = [("trial", "verdict", "exit", "seconds", "records", "fault met", "reasons")]
    for trial in exam.trials:
        rows.append(
            (
                trial.name,
                _shown(trial),
                _exit(trial),
                f"{trial.seconds:.2f}",
                _records(trial),
                _fault_met(trial, "NO"),
                _reasons_short(trial),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    lines = [line.rstrip() for line in lines]
    lines.insert(1, "-" * max(len(line) for line in lines))
    for trial in exam.trials:
        if trial.passed and not trial.notes:
            continue
        lines.append("")
        lines.append(f"{trial.name} ({_shown(trial)}): {trial.description}")
        if trial.not_applicable:
            lines.extend(_wrapped(f"not applicable: {trial.not_applicable}", "  - ", width))
        for reason in trial.reasons:
            lines.extend(_wrapped(f"{reason.id}: {reason.detail}", "  - ", width))
        for note in trial.notes:
            lines.extend(_wrapped(f"note {note.id}: {note.detail}", "  - ", width))
        if trial.failed_without_a_request:
            lines.extend(output_tail(trial))
        if trial.verdict == "fail":
            for label, path in trial.evidence():
                lines.append(f"    {label}: {path}")
    lines.extend(_advice(exam, width))
    lines.append("")
    for remark in exam.notes:
        lines.extend(_wrapped(f"note: {remark}", "", width))
    lines.append(headline(exam))
    return "\n".join(lines)


def _advice(exam: ExamResult, width: int) -> list[str]:
    """What the judge advises on each error or warning it found, once per finding: the reasons name
    the findings, and report.json held the advice alone (a newcomer saw what failed, not what to do)."""
    advice: dict[str, str] = {}
    for trial in exam.trials:
        for finding in trial.findings:
            if finding.severity in ("error", "warning") and finding.advice:
                advice.setdefault(finding.id, finding.advice)
    if not advice:
        return []
    lines = ["", "the judge's advice:"]
    for finding_id, text in advice.items():
        lines.extend(_wrapped(f"{finding_id}: {text}", "  - ", width))
    return lines


def output_tail(trial: TrialResult) -> list[str]:
    """The command's stderr (its stdout when it wrote nothing there), its first and last lines: when
    none of its requests reached the emulator, the cause (a missing file, a module not found, a
    traceback's last line, a sync that found nothing to do) is there, not in the reasons."""
    if trial.stderr is None:
        return []
    said = what_it_said(trial)
    if said is None:
        return ["    the command sent no request to the emulator, and wrote nothing to stderr or stdout"]
    stream, (head, left_out, tail) = said
    if left_out is None:
        return [f"    the command sent no request to the emulator; its {stream}:", *(f"    | {line}" for line in head)]
    return [
        f"    the command sent no request to the emulator; the first and last lines of its {stream}:",
        *(f"    | {line}" for line in head),
        f"    | [... {left_out} ...]",
        *(f"    | {line}" for line in tail),
    ]


def what_it_said(trial: TrialResult) -> tuple[str, tuple[list[str], str | None, list[str]]] | None:
    """The stream the command wrote something on, stderr first (what it said, it may say on
    stdout), and its excerpt (``stderr_excerpt``); None when it wrote nothing on either."""
    for stream, path in (("stderr", trial.stderr), ("stdout", trial.stdout)):
        if path is not None:
            head, left_out, tail = stderr_excerpt(path)
            if head or tail:
                return stream, (head, left_out, tail)
    return None


def stderr_excerpt(path: Path) -> tuple[list[str], str | None, list[str]]:
    """The first lines of a captured stderr, what was left out between (None: nothing, the head is
    all of it), and its last lines; at most ``_STDERR_READ_BYTES`` read from each end, each line cut
    at ``STDERR_LINE_CHARS``."""
    try:
        with path.open("rb") as source:
            size = source.seek(0, os.SEEK_END)
            source.seek(0)
            start = source.read(_STDERR_READ_BYTES)
            source.seek(max(size - _STDERR_READ_BYTES, len(start)))
            end = source.read()
    except OSError:
        return [], None, []
    whole = len(start) + len(end) == size

    def lines_of(raw: bytes) -> list[str]:
        return [_cut(line.rstrip()) for line in raw.decode("utf-8", "replace").splitlines()]

    if whole:
        lines = lines_of(start + end)
        while lines and not lines[-1]:
            lines.pop()
        if len(lines) <= STDERR_HEAD_LINES + STDERR_TAIL_LINES:
            return lines, None, []
        left = len(lines) - STDERR_HEAD_LINES - STDERR_TAIL_LINES
        return lines[:STDERR_HEAD_LINES], f"{left} line(s) left out", lines[-STDERR_TAIL_LINES:]
    # Too long to read whole: a line cut by either read is dropped, not shown in part.
    head = lines_of(start[: start.rfind(b"\n") + 1] or start)[:STDERR_HEAD_LINES]
    tail_lines = lines_of(end[end.find(b"\n") + 1 :] or end)
    while tail_lines and not tail_lines[-1]:
        tail_lines.pop()
    return head, f"lines left out: stderr.txt has all {size} bytes", tail_lines[-STDERR_TAIL_LINES:]


def _cut(line: str) -> str:
    return line if len(line) <= STDERR_LINE_CHARS else line[:STDERR_LINE_CHARS] + " [...]"


def _wrapped(text: str, lead: str, width: int) -> list[str]:
    # Never break a word: not at a hyphen ("Retry-After"), nor a long one (a path, a record's JSON).
    return textwrap.wrap(
        text,
        width,
        initial_indent=lead,
        subsequent_indent=" " * (len(lead) + 2),
        break_on_hyphens=False,
        break_long_words=False,
    ) or [lead]


# ---- files ---------------------------------------------------------------------------------------------
def to_json(exam: ExamResult) -> str:
    return json.dumps(exam.public(), indent=2)


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text XML 1.0 can carry: a client's output may hold any byte."""
    return _XML_UNSAFE.sub("\ufffd", text)


def to_junit_xml(exam: ExamResult) -> str:
    """One testcase per trial; a failed trial's <failure> lists its reasons and evidence."""
    failures, tests = len(exam.failed), len(exam.trials) + len(exam.skipped)
    skipped = len(exam.skipped) + len(exam.not_applicable)  # neither passed nor failed
    suite = ET.Element(
        "testsuite",
        {
            "name": "mock-sprinto exam",
            "tests": str(tests),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "time": f"{exam.seconds:.3f}",
        },
    )
    for trial in exam.trials:
        case = ET.SubElement(
            suite, "testcase", {"classname": "mock_sprinto.exam", "name": trial.name, "time": f"{trial.seconds:.3f}"}
        )
        if trial.verdict == "not_applicable":
            message = f"not applicable: {trial.not_applicable}"
            ET.SubElement(case, "skipped", {"message": _xml_text(message)})
        elif not trial.passed:
            failure = ET.SubElement(
                case, "failure", {"type": "exam", "message": _xml_text(", ".join(trial.reason_ids))}
            )
            details = [f"{trial.name}: {trial.description}"]
            details += [f"{reason.id}: {reason.detail}" for reason in trial.reasons]
            details += [f"{label}: {path}" for label, path in trial.evidence()]
            failure.text = _xml_text("\n".join(details))
        scenario = trial.scenario or "none"
        out = [f"scenario: {scenario}", f"exit code: {_exit(trial)}", f"records: {_records(trial)}"]
        out += [f"note {note.id}: {note.detail}" for note in trial.notes]
        stdout = read_tail(trial.stdout, JUNIT_TAIL_BYTES)
        if stdout:
            out += ["--- stdout (tail) ---", stdout]
        ET.SubElement(case, "system-out").text = _xml_text("\n".join(out))
        stderr = read_tail(trial.stderr, JUNIT_TAIL_BYTES)
        if stderr:
            ET.SubElement(case, "system-err").text = _xml_text(stderr)
    for name in exam.skipped:
        case = ET.SubElement(suite, "testcase", {"classname": "mock_sprinto.exam", "name": name, "time": "0.000"})
        message = "not run: the baseline's command failed before it sent a single request"
        ET.SubElement(case, "skipped", {"message": message})
    suites = ET.Element(
        "testsuites",
        {
            "name": "mock-sprinto exam",
            "tests": str(tests),
            "failures": str(failures),
            "time": f"{exam.seconds:.3f}",
        },
    )
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _md(text: str) -> str:
    """A table cell: no line breaks, no column separators, no markup from a client's text."""
    cleaned = " ".join(str(text).split()).replace("|", "\\|")
    return re.sub(r"([<>*_`\[\]])", r"\\\1", cleaned)


def to_markdown(exam: ExamResult) -> str:
    """A table for a CI job summary (GitHub's $GITHUB_STEP_SUMMARY takes it as is)."""
    lines = [f"### {headline(exam)}", ""]
    lines.append("| trial | verdict | exit | seconds | records | fault met | reasons |")
    lines.append("|---|---|---|---:|---:|---|---|")
    for trial in exam.trials:
        mark = "✅ pass" if trial.passed else "➖ n/a" if trial.verdict == "not_applicable" else "❌ **fail**"
        reasons = "<br>".join(f"`{reason.id}`: {_md(reason.detail)}" for reason in trial.reasons)
        if trial.not_applicable:
            reasons = f"not applicable: {_md(trial.not_applicable)}"
        lines.append(
            f"| `{trial.name}` | {mark} | {_exit(trial)} | {trial.seconds:.2f} | {_records(trial)} | "
            f"{_fault_met(trial, 'no')} | {reasons} |"
        )
    if exam.notes:
        lines.append("")
        lines.extend(f"- {_md(note)}" for note in exam.notes)
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def catalogue_text(trials: Sequence[Trial], width: int | None = None) -> str:
    """``--list``: each trial, its fault, what a careful client does, and what it stands for."""
    width = width or terminal_width()
    lines = []
    for trial in trials:
        kind = "recoverable" if trial.recoverable else "NOT recoverable: the command must exit non-zero"
        scenario = trial.scenario_label or "no fault"
        lines.append(f"{trial.name}  [{scenario}; {kind}]")
        lines.extend(_wrapped(f"fault: {trial.fault}", "    ", width))
        lines.extend(_wrapped(f"expected: {trial.expects}", "    ", width))
        lines.extend(_wrapped(f"Sprinto: {trial.documented}", "    ", width))
    return "\n".join(lines)
