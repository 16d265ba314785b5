"""Running the exam: one emulator, one fresh integration per trial, the baseline first, then the
fault trials in parallel (tenants are isolated: each has its own scenario, settings and clock).

A trial: make the integration and give it the trial's fault; run the user's sync with the
integration's address, key and id in its environment; note what was still active when it ended;
settle what is in flight on the integration's clock (past the processing time, never near the
inactivity timeout); read the applied records, the judge's report and the journal; write the
evidence; ask the oracle.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..settings import Config, Settings
from ..testing import MockSprinto, MockSprintoError, MockSprintoServer
from . import oracle, process
from .oracle import Dataset, Facts, JournalFacts, Reason
from .output import what_it_said
from .results import ExamResult, Finding, TrialResult
from .trials import BASELINE, CATALOGUE, STALE_IDLE_SECONDS, Setup, Trial

DEFAULT_JOBS = 2
DEFAULT_TRIAL_TIMEOUT = 60.0
DEFAULT_ARTIFACTS = Path("mock-sprinto-exam")
# Emulator seconds a trial's session takes to process, unless the trial's scenario says otherwise:
# small, so a client polling for the outcome waits a fraction of a second, not Sprinto's 2 s.
PROCESSING_SECONDS = 0.2
# page-too-large: the limit is this share of the baseline's largest push, never below the floor
# (a limit smaller than a start or a close, or than one record, would prove nothing).
SIZE_LIMIT_SHARE = 0.6
SIZE_LIMIT_FLOOR = 512
STALE_IDLE_SHARE = 0.75  # of a shorter inactivity timeout than Sprinto's, if a trial's settings set one
OUTPUT_TAIL_BYTES = 64 * 1024
# The request and response bodies the exam's journal keeps, each cut at this many bytes, so that a
# trial's traffic.har holds its pages and `mock-sprinto judge` judges the page findings from it (with
# no bodies it listed them "not judged", and passed a failing trial's evidence). A page of 100
# records of ~1.3 KB each is kept whole; a longer body is cut, and the judge says it cannot read
# that page. Memory: the journal keeps journal_size (10,000) entries, so at most 10,000 x 2 x 128
# KiB; the request bodies are nearly all of it (the vendor API's answers are a few hundred bytes):
# ~1.25 GiB only for a flood of 10,000 pushes of 128 KiB or more, no more than those pages hold
# while staged. A careful client's whole exam keeps under a megabyte.
JOURNAL_BODIES_BYTES = 128 * 1024

HAR_FILE, REPORT_FILE, STDOUT_FILE, STDERR_FILE = "traffic.har", "report.json", "stdout.txt", "stderr.txt"
EVIDENCE_FILES = (HAR_FILE, REPORT_FILE, STDOUT_FILE, STDERR_FILE)
# In the artifacts folder: the trial folders the last exam wrote there, a name a line, so the next
# exam removes them (a user's own scenario's folder included) and nothing else.
MANIFEST_FILE = ".mock-sprinto-exam"
_VENDOR_TIMEOUT = 10.0


@dataclass(frozen=True)
class EnvNames:
    """The environment variables that tell the command where to sync (``--env-base-url`` etc.)."""

    base_url: str = "SPRINTO_BASE_URL"
    api_key: str = "SPRINTO_API_KEY"
    integration_id: str = "SPRINTO_INTEGRATION_ID"
    trial: str = "MOCK_SPRINTO_TRIAL"  # for information: the command may log it


@dataclass(frozen=True)
class ExamOptions:
    trials: Sequence[str] | None = None  # trials by name (an extra trial's too); None: every one
    expect: Mapping[str, Sequence[Any]] | None = None  # the expected dataset; None: the baseline's
    # The user's own scenarios (``--scenario``), each a trial named by its scenario's name: always
    # run, and ``trials`` may name them (``--trials my-fault`` runs the baseline and it alone).
    extra_trials: Sequence[Trial] = ()
    jobs: int = DEFAULT_JOBS
    trial_timeout: float = DEFAULT_TRIAL_TIMEOUT
    artifacts: Path = DEFAULT_ARTIFACTS
    env_names: EnvNames = field(default_factory=EnvNames)
    processing_seconds: float = PROCESSING_SECONDS
    tail_bytes: int = OUTPUT_TAIL_BYTES


# ---- which trials run ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    trials: tuple[Trial, ...]  # in running order: the baseline first when it runs
    notes: tuple[str, ...] = ()


def plan(options: ExamOptions) -> Plan:
    """The trials to run. Raises ``ValueError`` for a name no trial has, or a clash of names."""
    notes: list[str] = []
    names = {trial.name for trial in CATALOGUE}
    for extra in options.extra_trials:
        if extra.name in names:
            raise ValueError(f"the scenario named {extra.name!r} clashes with a trial of that name: rename it")
        names.add(extra.name)
    if options.trials is None:
        chosen = list(CATALOGUE)  # every trial's scenario ships (tests/exam/test_docs.py)
    else:
        unknown = [name for name in options.trials if name not in names]
        if unknown:
            known = ", ".join(trial.name for trial in (*CATALOGUE, *options.extra_trials))
            raise ValueError(f"no trial named {', '.join(map(repr, unknown))} (trials: {known})")
        wanted = set(options.trials)
        chosen = [trial for trial in CATALOGUE if trial.name in wanted]
        # The baseline runs first unless --expect gives the expected dataset; page-too-large
        # needs it anyway, to measure the largest page.
        needs_baseline = options.expect is None or any(trial.setup is Setup.SIZE_LIMIT for trial in chosen)
        if needs_baseline and BASELINE not in chosen:
            chosen.insert(0, BASELINE)
    chosen.extend(options.extra_trials)
    if not chosen:
        raise ValueError("no trial to run")
    return Plan(tuple(chosen), tuple(notes))


@dataclass(frozen=True)
class SizeLimit:
    """page-too-large's limit: on the wire (``max_request_bytes``, Sprinto's own) or, for a command
    that compresses its pages, decoded (``max_decoded_bytes``): a gzip page of 30 records is ~300
    bytes, under any limit that a start or a close would pass, and halving it barely shrinks it."""

    setting: str = "max_request_bytes"
    value: int = SIZE_LIMIT_FLOOR
    largest: int = 0  # the baseline's largest page, measured the same way

    @property
    def measured(self) -> str:
        return "decoded" if self.setting == "max_decoded_bytes" else "on the wire"

    @property
    def fault(self) -> str:
        """page-too-large's fault as a run set it: the setting lowered, and to what."""
        # no parentheses: the oracle's details put the fault in some
        if self.largest == 0:
            return (
                f"{self.setting} is lowered to its floor, {self.value} bytes {self.measured}: the baseline staged "
                "no page to measure; a page over it gets 413"
            )
        return (
            f"{self.setting} is lowered to {self.value} bytes {self.measured}: 0.6 x the baseline's largest push "
            f"of {self.largest} bytes, never below {SIZE_LIMIT_FLOOR}; that page gets 413"
        )

    def applied_to(self, trial: Trial) -> Trial:
        """The trial as this limit runs it: its label and fault name the setting lowered (a command
        that compresses its pages meets max_decoded_bytes, not max_request_bytes)."""
        return replace(trial, size_setting=self.setting, fault=self.fault)

    @property
    def not_applicable(self) -> str:
        """Why the trial cannot apply to the command ('' when it can): the baseline's every page is
        within the smallest limit the exam may set, so no page of the command can be refused for
        its size. Pages that small are careful, not a fault: the vendor calls 100 records a page
        "recommended", not a minimum, and a client sending a record a page meets no 413 at Sprinto."""
        if not 0 < self.largest <= self.value:
            return ""  # a page over the limit (or no page measured: the trial runs at the floor)
        floor = ", which a start or a close must pass" if self.setting == "max_request_bytes" else ""
        return (
            f"the baseline's largest page was {self.largest} bytes {self.measured}, within the exam's smallest "
            f"limit ({self.value} bytes{floor}): pages this small cannot be refused for their size, so the trial "
            "was not run"
        )

    def unmet_hint(self, largest: int) -> str:
        """Why no page was refused, from this trial's largest page (measured as the limit is)."""
        if self.largest == 0:
            return "the baseline staged no page, so the exam had no page size to set its limit from"
        # (a baseline whose pages were all within the limit makes the trial not applicable: not run)
        return (
            f"the command's largest page was {largest} bytes {self.measured}, within the limit of {self.value}, "
            f"where the baseline's was {self.largest}: it sent smaller pages than in the baseline"
        )


def size_limit(sessions: Sequence[Mapping[str, Any]]) -> SizeLimit:
    """The limit page-too-large sets, from the baseline's sessions (their pages accepted)."""
    setting, largest = _largest_page(sessions)
    return SizeLimit(setting, max(SIZE_LIMIT_FLOOR, int(largest * SIZE_LIMIT_SHARE)), largest)


def _largest_page(sessions: Sequence[Mapping[str, Any]], setting: str | None = None) -> tuple[str, int]:
    """The setting that governs these pages' size, and their largest size as it measures them: on
    the wire, or decoded for the compressed pages alone (a plain body is never held to
    ``max_decoded_bytes``, so a plain page of a command that compresses others says nothing)."""
    pages = [page for session in sessions for page in session.get("pages") or () if page.get("accepted")]
    compressed = [page for page in pages if (page.get("encoding") or "identity") != "identity"]
    if setting is None:
        setting = "max_decoded_bytes" if compressed else "max_request_bytes"
    if setting == "max_decoded_bytes":
        return setting, max((int(page.get("decoded_bytes") or 0) for page in compressed), default=0)
    return setting, max((int(page.get("wire_bytes") or 0) for page in pages), default=0)


# ---- the exam ------------------------------------------------------------------------------------------
class Exam:
    """One exam of ``target`` (a command line or a callable); ``run`` returns its result.

    ``on_done`` is called with each trial's result as it finishes (from worker threads, one at a
    time), for progress lines."""

    def __init__(
        self,
        target: process.Target,
        options: ExamOptions | None = None,
        on_done: Callable[[TrialResult], None] | None = None,
    ) -> None:
        self.target = target
        self.options = options or ExamOptions()
        self.on_done = on_done
        self._done_lock = threading.Lock()
        self._live: set[subprocess.Popen[bytes]] = set()
        self._live_lock = threading.Lock()

    def run(self) -> ExamResult:
        options = self.options
        the_plan = plan(options)
        started = time.monotonic()
        notes = list(the_plan.notes)
        expected: Dataset | None = None if options.expect is None else oracle.dataset_of(options.expect)
        expected_from: Any = None if options.expect is None else "expect"
        results: dict[str, TrialResult] = {}
        skipped: tuple[str, ...] = ()
        clear_earlier_evidence(options.artifacts, the_plan.trials)
        server = MockSprintoServer(Config(Settings(journal_bodies_bytes=JOURNAL_BODIES_BYTES)))
        server.start()
        try:
            rest = list(the_plan.trials)
            limit = SizeLimit()
            if rest[0].baseline:
                baseline, applied, sessions = self._trial(server, rest.pop(0), expected, limit=None)
                self._finished(baseline)
                results[baseline.name] = baseline
                limit = size_limit(sessions)
                # Every other trial would fail the same way, and prove nothing.
                if rest and (why := _why_not_go_on(baseline, options.trial_timeout, options.env_names)):
                    skipped, rest = tuple(trial.name for trial in rest), []
                    notes.append(
                        f"{why}: the other {len(skipped)} trial(s) were not run, since each would fail the same "
                        "way and prove nothing; fix the command, then run the exam again"
                    )
                elif options.expect is None:
                    if oracle.size(applied):
                        expected, expected_from = applied, "baseline"
                        if not baseline.passed:
                            notes.append("the baseline failed: the expected dataset comes from a failed run")
                    else:
                        notes.append(
                            "the baseline applied no record and no --expect was given: "
                            "the other trials were judged without an expected dataset"
                        )
            for result in self._in_parallel(server, rest, expected, limit):
                results[result.name] = result
        except BaseException:
            self._end_live()  # Ctrl-C: no command outlives the exam
            raise
        finally:
            server.stop()
        ordered = tuple(results[trial.name] for trial in the_plan.trials if trial.name in results)
        return ExamResult(
            trials=ordered,
            seconds=time.monotonic() - started,
            artifacts=options.artifacts,
            expected_from=expected_from,
            notes=tuple(notes),
            skipped=skipped,
        )

    def _in_parallel(
        self, server: MockSprintoServer, trials: Sequence[Trial], expected: Dataset | None, limit: SizeLimit
    ) -> list[TrialResult]:
        if not trials:
            return []
        done: list[TrialResult] = []
        with ThreadPoolExecutor(max_workers=max(1, self.options.jobs), thread_name_prefix="exam") as pool:
            order = sorted(trials, key=lambda trial: -trial.waits)
            pending: set[Future[TrialResult]] = {
                pool.submit(self._trial_result, server, trial, expected, limit) for trial in order
            }
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        result = future.result()
                        self._finished(result)
                        done.append(result)
            except BaseException:
                for future in pending:
                    future.cancel()
                self._end_live()
                raise
        return done

    def _finished(self, result: TrialResult) -> None:
        if self.on_done is not None:
            with self._done_lock:
                self.on_done(result)

    def _end_live(self) -> None:
        with self._live_lock:
            live = list(self._live)
        for each in live:
            process.end_group(each)

    def _trial_result(
        self, server: MockSprintoServer, trial: Trial, expected: Dataset | None, limit: SizeLimit
    ) -> TrialResult:
        return self._trial(server, trial, expected, limit)[0]

    # ---- one trial ----------------------------------------------------------------------------------
    def _trial(
        self, server: MockSprintoServer, trial: Trial, expected: Dataset | None, limit: SizeLimit | None
    ) -> tuple[TrialResult, Dataset, list[Any]]:
        """The trial's result, the records it applied and its sessions (pages included)."""
        started = time.monotonic()
        if trial.setup is Setup.SIZE_LIMIT:
            trial = (limit if limit is not None else SizeLimit()).applied_to(trial)
            if limit is not None and limit.not_applicable:
                # Not run: it would fail fault_not_met whatever the command did (no evidence folder).
                skipped = _blank_result(trial, expected, self.options.artifacts / trial.name)
                return _replace(skipped, folder=None, not_applicable=limit.not_applicable), {}, []
        folder = self._evidence_folder(trial)
        base = _blank_result(trial, expected, folder)
        handle = server.new_integration(f"exam-{trial.name}")
        try:
            effective = self._configure(server, handle, trial, limit)
            stale = _stale_session(server, handle, effective) if trial.setup is Setup.STALE_SESSION else None
        except (MockSprintoError, OSError, ValueError, KeyError, TypeError) as exc:  # a bundle not as expected
            reason = Reason(oracle.SETUP_FAILED, _setup_problem(trial, exc))
            failed = _replace(base, reasons=(reason,), integration_id=handle.integration_id)
            return _replace(failed, seconds=time.monotonic() - started), {}, []
        ran = self._run(self._environment(handle, trial), folder / STDOUT_FILE, folder / STDERR_FILE)
        seen = _gather(server, handle, trial, effective, folder)
        # A record is named by its key in lost_records even when none of its type was applied.
        key_fields = _key_fields(server, [*seen.applied, *(expected or {})])
        judged = trial
        if trial.setup is Setup.SIZE_LIMIT and limit is not None and not seen.fault_met:
            # Why no page was refused: this trial's largest page against the limit, not a guess.
            judged = replace(trial, unmet_hint=limit.unmet_hint(_largest_page(seen.sessions, limit.setting)[1]))
        verdict = oracle.judge(
            Facts(
                trial=judged,
                exit_code=ran.exit_code,
                timed_out=ran.timed_out,
                timeout_seconds=self.options.trial_timeout,
                applied=seen.applied,
                expected=expected,
                findings=seen.report.get("findings") or (),
                left_active=seen.left_active,
                applied_sessions=[s for s in seen.sessions if s.get("state") == "processed"],
                fault_met=seen.fault_met,
                fault_unmet_detail=seen.fault_unmet,
                journal=seen.journal,
                key_fields=key_fields,
                stale_session_id=stale,
                start_error=ran.start_error,
            )
        )
        stdout, stderr = folder / STDOUT_FILE, folder / STDERR_FILE
        result = _replace(
            base,
            reasons=verdict.reasons,
            notes=verdict.notes,
            exit_code=ran.exit_code,
            timed_out=ran.timed_out,
            # Without --expect, the baseline's own records are what it sets as expected.
            records_expected=_expected_size(trial, expected, seen.applied),
            records_applied=oracle.size(seen.applied),
            fault_met=seen.fault_met,
            findings=tuple(_finding(f) for f in seen.report.get("findings") or ()),
            # The stale session's start is the exam's own request, not the command's.
            requests=seen.journal.requests - (1 if stale is not None else 0),
            integration_id=handle.integration_id,
            har=seen.har,
            report=folder / REPORT_FILE,
            stdout=stdout if stdout.exists() else None,
            stderr=stderr if stderr.exists() else None,
            seconds=time.monotonic() - started,
        )
        return result, seen.applied, seen.sessions

    def _evidence_folder(self, trial: Trial) -> Path:
        """The trial's evidence folder (``clear_earlier_evidence`` emptied it of a previous run's)."""
        folder = self.options.artifacts / trial.name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _environment(self, handle: MockSprinto, trial: Trial) -> dict[str, str]:
        names = self.options.env_names
        return {
            **os.environ,
            names.base_url: handle.base_url,
            names.api_key: handle.api_key,
            names.integration_id: handle.integration_id,
            names.trial: trial.name,
        }

    def _configure(
        self, server: MockSprintoServer, handle: MockSprinto, trial: Trial, limit: SizeLimit | None
    ) -> Mapping[str, Any]:
        """Install the trial's fault; returns the integration's effective settings."""
        scenario_settings: Mapping[str, Any] = {}
        if trial.scenario is not None or trial.document is not None:
            spec = trial.scenario if trial.scenario is not None else dict(trial.document or {})
            installed = handle.use_scenario(spec)
            scenario_settings = (installed.get("scenario") or {}).get("settings") or {}
        overrides: dict[str, Any] = {}
        if "processing_seconds" not in scenario_settings:
            overrides["processing_seconds"] = self.options.processing_seconds
        if trial.setup is Setup.SIZE_LIMIT:
            chosen = limit if limit is not None else SizeLimit()
            overrides[chosen.setting] = chosen.value
        overrides.update(trial.settings)
        if overrides:
            handle.use_settings(overrides)
        answer = server.control.call("GET", f"/integrations/{quote(handle.integration_id)}/settings")
        effective: Mapping[str, Any] = answer.get("effective") or {}
        return effective

    def _run(self, env: Mapping[str, str], stdout: Path, stderr: Path) -> process.Ran:
        target, options = self.target, self.options
        if callable(target):
            return process.run_callable(target, env, options.trial_timeout, stderr)
        return process.run_command(
            list(target), env, options.trial_timeout, stdout, stderr, tail_bytes=options.tail_bytes, live=self._track
        )

    def _track(self, proc: subprocess.Popen[bytes], running: bool) -> None:
        with self._live_lock:
            if running:
                self._live.add(proc)
            else:
                self._live.discard(proc)


# ---- the artifacts folder ----------------------------------------------------------------------------------
def clear_earlier_evidence(artifacts: Path, trials: Sequence[Trial]) -> None:
    """Remove the evidence an earlier exam wrote into ``artifacts``, so a CI upload shows this
    exam's alone, and note the folders this one writes.

    Earlier trial folders are those the manifest names, and those named after a catalogue trial
    (an exam that wrote no manifest). Only the exam's own files go; a folder that still holds
    anything else (the user's own) stays, with it."""
    manifest = artifacts / MANIFEST_FILE
    earlier: set[str] = {trial.name for trial in CATALOGUE}
    try:
        earlier.update(manifest.read_text(encoding="utf-8").split())
    except OSError:
        pass  # no earlier exam here, or one that wrote no manifest
    for name in sorted(earlier | {trial.name for trial in trials}):
        folder = artifacts / name
        # A name that is not a plain folder name (a hand-edited manifest) could reach elsewhere.
        if Path(name).name != name or name in (".", "..") or folder.is_symlink() or not folder.is_dir():
            continue
        for file in EVIDENCE_FILES:
            (folder / file).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass  # the user's own files are in it
    artifacts.mkdir(parents=True, exist_ok=True)
    manifest.write_text("".join(f"{trial.name}\n" for trial in trials), encoding="utf-8")


# ---- helpers ---------------------------------------------------------------------------------------------
def _replace(result: TrialResult, **changes: Any) -> TrialResult:
    return replace(result, **changes)


def _setup_problem(trial: Trial, exc: BaseException) -> str:
    return f"the trial could not be set up: {exc}"


def _settle_seconds(effective: Mapping[str, Any]) -> float:
    """Emulator time to let pass after the command: two processing attempts (Sprinto retries
    once) and a margin, but never as far as the inactivity timeout, which would expire sessions."""
    processing = float(effective.get("processing_seconds") or 0)
    inactivity = float(effective.get("inactivity_timeout_seconds") or 3600)
    return max(0.0, min(2 * processing + 1.0, inactivity - 1.0))


def _applied(server: MockSprintoServer, handle: MockSprinto) -> Dataset:
    counts = server.control.call("GET", f"/integrations/{quote(handle.integration_id)}/records")["datasets"]
    return oracle.dataset_of({entity_type: handle.records(entity_type) for entity_type, n in counts.items() if n})


def _rules_fired(server: MockSprintoServer, handle: MockSprinto) -> dict[str, int]:
    answer = server.control.call("GET", f"/integrations/{quote(handle.integration_id)}/scenario")
    return {str(rule["rule"]): int(rule.get("fired") or 0) for rule in answer.get("rules") or ()}


def _finding(raw: Mapping[str, Any]) -> Finding:
    return Finding(
        id=str(raw.get("id")),
        severity=str(raw.get("severity")),
        count=int(raw.get("count") or 1),
        message=str(raw.get("message") or ""),
        advice=str(raw.get("advice") or ""),
    )


def stale_idle_seconds(effective: Mapping[str, Any]) -> float:
    """How long stale-session's session has been idle when the command starts: 45 minutes, or
    three quarters of the integration's inactivity timeout when that is shorter."""
    inactivity = float(effective.get("inactivity_timeout_seconds") or 3600)
    return min(float(STALE_IDLE_SECONDS), STALE_IDLE_SHARE * inactivity)


def _stale_session(server: MockSprintoServer, handle: MockSprinto, effective: Mapping[str, Any]) -> str:
    """stale-session's session, as a crashed earlier run leaves it: started long ago, nothing
    pushed, untouched since (its created_at and updated_at), while the integration's clock shows
    the time of day, as the command's own clock does. Started this moment, it looked like another
    worker's live sync, which no careful client discards.

    The clock only moves forward, so the integration is first put back from its own state bundle
    with the bundle's clock set back by the idle time (a bundle's clock is where the integration's
    resumes: docs/bundles.md), the session is started then, and the clock moved on to now."""
    idle = stale_idle_seconds(effective)
    path = f"/integrations/{quote(handle.integration_id)}/state"
    bundle = server.control.call("GET", path)
    for integration in bundle.get("integrations") or ():
        integration["clock"]["now"] = float(integration["clock"]["now"]) - idle
    server.control.call("PUT", path, bundle)
    session_id = _start_session(handle)
    handle.clock.advance(idle)
    return session_id


def _start_session(handle: MockSprinto) -> str:
    """A session started through the vendor API with the trial's key, as a crashed previous run
    would have left it: active, nothing pushed."""
    request = urllib.request.Request(
        f"{handle.integration_url}/sessions",
        data=b"{}",
        method="POST",
        headers={**handle.headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=_VENDOR_TIMEOUT) as response:
            session: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise ValueError(f"starting the stale session answered {exc.code}") from None
    return str(session["id"])


@dataclass(frozen=True)
class _Seen:
    """What the emulator holds of a trial once its command ended."""

    left_active: list[str]
    sessions: list[Any]
    applied: Dataset
    report: Mapping[str, Any]
    journal: JournalFacts
    fault_met: bool
    fault_unmet: str
    har: Path


def _gather(
    server: MockSprintoServer, handle: MockSprinto, trial: Trial, effective: Mapping[str, Any], folder: Path
) -> _Seen:
    """Read the trial's outcome, and write its evidence (report, HAR) into ``folder``."""
    # A session still active now was left by the command (the settling below moves the clock by
    # seconds, so it cannot expire anything).
    left_active = [s["id"] for s in handle.sessions() if s.get("state") == "active"]
    settle = _settle_seconds(effective)
    if settle > 0:
        handle.clock.advance(settle)
    applied = _applied(server, handle)
    report = handle.report()
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    sessions = list(handle.sessions())
    refused = {page["request_id"] for s in sessions for page in s.get("pages", []) if not page.get("accepted")}
    facts = oracle.journal_facts(handle.journal(), refused)
    rules_fired = _rules_fired(server, handle) if trial.scenario or trial.document else None
    met, unmet = oracle.fault_met(trial, rules_fired, facts)
    return _Seen(
        left_active=left_active,
        sessions=sessions,
        applied=applied,
        report=report,
        journal=facts,
        fault_met=met,
        fault_unmet=unmet,
        har=handle.har(folder / HAR_FILE),
    )


def _key_fields(server: MockSprintoServer, entity_types: Iterable[str]) -> dict[str, str | None]:
    """The key field of each entity type, by which a record is named in a reason."""
    emulator = server.emulator
    return {t: emulator.registry.key_field(t) for t in entity_types} if emulator else {}


def _expected_size(trial: Trial, expected: Dataset | None, applied: Dataset) -> int | None:
    if expected is not None:
        return oracle.size(expected)
    # A baseline that applied nothing sets no expected dataset either (the table shows 0/-).
    return oracle.size(applied) if trial.baseline and oracle.size(applied) else None


def _blank_result(trial: Trial, expected: Dataset | None, folder: Path) -> TrialResult:
    """The trial's result before it runs."""
    return TrialResult(
        name=trial.name,
        scenario=trial.scenario_label,
        description=trial.fault,
        recoverable=trial.recoverable,
        reasons=(),
        records_expected=None if expected is None else oracle.size(expected),
        folder=folder,
    )


def _why_not_go_on(baseline: TrialResult, trial_timeout: float, env: EnvNames) -> str:
    """Why the trials with faults would prove nothing after this baseline (no fault in it), or ''."""
    if baseline.failed_before_any_request:
        if baseline.timed_out:
            shown = "it ran out of time"
        elif (said := what_it_said(baseline)) is not None:
            shown = f"its {said[0]} says why"
        elif baseline.exit_code is None:  # never started: its reason says why
            shown = baseline.reasons[0].detail if baseline.reasons else "it could not be started"
        else:  # nothing to read: the exit status is all there is
            shown = f"exit status {baseline.exit_code}; it wrote nothing to stderr or stdout"
        return f"the baseline's command failed before it sent a single request to the emulator ({shown})"
    if baseline.requests == 0:
        return (
            "the baseline's command exited 0 without sending a single request to the emulator: it must send "
            f"them to {env.base_url}, with {env.api_key} and {env.integration_id}, which the exam sets in its "
            "environment"
        )
    if baseline.timed_out:
        return (
            f"the baseline's command was still running after {trial_timeout:g} s with no fault injected "
            f"({baseline.requests} request(s) sent): every other trial would wait as long (a hang, or a sync "
            "longer than --trial-timeout allows)"
        )
    return ""
