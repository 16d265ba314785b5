"""One handle, two doors: every method of ``MockSprinto`` and ``AsyncMockSprinto`` written once.

A method's logic (which control-plane requests, in what order, and what to make of the answers)
is an *operation*: a generator that yields each ``Request`` it needs and is sent back the parsed
answer, then returns the method's result. It does no I/O itself, so the blocking handle runs it
over its own HTTP connection and the in-process handle awaits the same steps on the test's loop
(the "sans-I/O" style): each public method is only the adapter that runs its operation.

Reads that must not be requests (the activity log, a failing test's report) are the other
primitive a handle provides, ``_read``: a ``ControlPlane`` call made where the emulator runs.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Generic, TypeVar, cast
from urllib.parse import quote

import orjson

from ..clock import parse_time
from ..control import ControlPlane
from ..errors import MockSprintoError
from ..http import API_PREFIX, CONTROL_PREFIX
from ..report import BY_ID
from ..settings import Settings
from .common import SERVER_WIDE_SERVER, ScenarioSpec, integration_settings, scenario_body, unknown_scenario
from .verdicts import (
    JOURNAL_SHOWN,
    StagedTwice,
    behaviour_failure,
    counts_differ,
    describe_integration,
    no_rejected_failure,
    nothing_judged_failure,
    pick_session,
    processed_failure,
)
from .views import (
    ActivityItemView,
    JournalEntryView,
    ReportView,
    ScenarioView,
    SessionView,
    SettingsView,
    VerificationView,
)

T = TypeVar("T")


# ---- one control-plane request, either door ----------------------------------------------------
class ControlError(MockSprintoError):
    """A control call a handle made failed: the HTTP status (0: no answer) and the problem object
    it sent (``code`` read from it). Catch ``MockSprintoError``, its base, as users always have."""

    # A failing test's report names it by the path users import it from.
    __module__ = "mock_sprinto.testing"

    def __init__(self, method: str, path: str, status: int, problem: Any, *, reason: str | None = None) -> None:
        self.status = status
        self.problem = problem
        self.code = problem.get("code") if isinstance(problem, dict) else None
        # What was refused, without the request that found it out: what a marker's failure shows
        # (its user sent no request). Given (``Request.explain``) when the answer's own words are
        # not the ones a test's author needs; the message then leaves out the request too.
        self.reason = reason if reason is not None else _problem_text(problem)
        super().__init__(self.reason if reason is not None else f"{method} {path} answered {status}: {self.reason}")


def _problem_text(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)[:500]
    text = f"{problem.get('code', 'error')}: {problem.get('detail', '')}".rstrip(": ")
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:  # e.g. an invalid scenario lists every problem
        text += "".join(f"\n  - {_one_line(error)}" for error in errors[:50])
    return text


def _one_line(value: Any) -> str:
    if isinstance(value, dict):
        where = value.get("path") or value.get("pointer") or value.get("location") or ""
        message = value.get("message") or value.get("issue") or value.get("detail") or json.dumps(value)
        return f"{where}: {message}" if where else str(message)
    return str(value)


@dataclass(frozen=True)
class Request:
    """A call of ``/_mock``: built once, sent by whichever client, its answer read here."""

    method: str
    path: str  # below CONTROL_PREFIX
    body: Any = None
    expect: int | tuple[int, ...] = 200  # the status (or statuses) that are an answer, not a ControlError
    # None: send the body when there is one; True sends even a JSON null (``PUT …/scenario``).
    send_body: bool | None = None
    # A refusal in a test's words, from its status and problem object (None: the answer's own).
    explain: Callable[[int, Any], str | None] | None = None

    @property
    def target(self) -> str:
        return CONTROL_PREFIX + self.path

    @property
    def has_body(self) -> bool:
        return self.body is not None if self.send_body is None else self.send_body

    def payload(self) -> bytes | None:
        return orjson.dumps(self.body) if self.has_body else None

    def headers(self, auth: Mapping[str, str]) -> dict[str, str]:
        return {**auth, **({"Content-Type": "application/json"} if self.has_body else {})}

    def answer(self, status: int, data: bytes) -> Any:
        """The parsed answer, or ControlError when the status is not the expected one."""
        parsed: Any = orjson.loads(data) if data else None
        if status not in (self.expect if isinstance(self.expect, tuple) else (self.expect,)):
            reason = None if self.explain is None else self.explain(status, parsed)
            raise ControlError(self.method, self.target, status, parsed, reason=reason)
        return parsed


def admin_headers(admin_token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"} if admin_token else {}


def _not_shipped(name: str) -> Callable[[int, Any], str | None]:
    """``Request.explain`` of a scenario sent by name: a name that is not shipped is said as a config
    file says it, with the closest names ("did you mean"), not as the request and the whole list.
    The status and code stay the emulator's (400 ``invalid_scenario``), on the ``ControlError``."""

    def explain(status: int, problem: Any) -> str | None:
        if not isinstance(problem, dict) or problem.get("code") != "invalid_scenario":
            return None
        why = unknown_scenario(name)
        return None if why is None else f"invalid_scenario: {why}"

    return explain


# ---- operations ----------------------------------------------------------------------------------
# Yields the requests it needs, is sent each parsed answer, returns the method's result.
Op = Generator[Request, Any, T]


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


def step(op: Op[T], answer: Any) -> Request | Done[T]:
    """Send ``answer`` into ``op``: its next request, or its result once it has finished."""
    __tracebackhide__ = True  # a verdict's AssertionError passes here: the test sees only its own line
    try:
        return op.send(answer)
    except StopIteration as finished:
        result: T = finished.value
        return Done(result)


class HandleBase(ABC):
    """What both handles are: an integration's identity, and every method's logic as an
    operation. A subclass provides the doors: ``_run`` (blocking or awaitable), ``_read``."""

    def __init__(self, integration_id: str, api_key: str) -> None:
        self._integration_id = integration_id
        self._api_key = api_key

    @property
    def integration_id(self) -> str:
        self._ensure()
        return self._integration_id

    @property
    def api_key(self) -> str:
        self._ensure()
        return self._api_key

    @property
    def created(self) -> bool:
        """Whether the integration exists yet (the blocking handle may make it on first use)."""
        return True

    def _ensure(self) -> None:
        """Make the integration before its id or key is handed out; here it always exists."""
        return None

    @property
    def unreached(self) -> bool:
        """Whether no request can have reached the integration yet (it is not made)."""
        return not self.created

    @property
    def met_nothing(self) -> bool:
        """Whether the integration surely met no documented behaviour yet (``Tenant.quiet``), known
        without a read; False means "read the run to know"."""
        return False

    @property
    @abstractmethod
    def base_url(self) -> str:
        """The vendor API's base URL: what a client calls ``https://api.sprinto.com/api/external/push``."""

    @property
    def integration_url(self) -> str:
        return f"{self.base_url}/v1/integrations/{self.integration_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key}

    # the primitives a door provides
    @property
    @abstractmethod
    def _settings(self) -> Settings:
        """The emulator's server-wide settings."""

    @abstractmethod
    def _read(self, fn: Callable[[ControlPlane], T]) -> T:
        """``fn`` on the emulator's control plane, where the emulator runs, without a request."""

    def _read_quiet(self, fn: Callable[[ControlPlane], T]) -> T:
        """``_read`` for a read that changes nothing (a door may make it without a hand-off)."""
        return self._read(fn)

    def _request(
        self,
        method: str,
        tail: str,
        body: Any = None,
        *,
        expect: int | tuple[int, ...] = 200,
        send_body: bool | None = None,
        explain: Callable[[int, Any], str | None] | None = None,
    ) -> Request:
        """A request about this integration (``tail`` after ``/integrations/{id}``)."""
        return Request(method, f"/integrations/{self.integration_id}{tail}", body, expect, send_body, explain)

    # Where a server-wide setting goes, said when ``use_settings`` is given one.
    _SERVER_WIDE_ADVICE = SERVER_WIDE_SERVER

    # configuration
    def _use_scenario(self, scenario: ScenarioSpec, settings: Mapping[str, Any] | None) -> Op[ScenarioView]:
        body = scenario_body(scenario)
        if settings is not None:
            yield from self._use_settings(settings)
        explain = _not_shipped(body) if isinstance(body, str) else None
        view: ScenarioView = yield self._request("PUT", "/scenario", body, send_body=True, explain=explain)
        return view

    def _use_settings(self, settings: Mapping[str, Any]) -> Op[SettingsView]:
        checked = integration_settings(settings, self._SERVER_WIDE_ADVICE)
        view: SettingsView = yield self._request("PUT", "/settings", checked, send_body=True)
        return view

    def _clear_scenario(self) -> Op[None]:
        yield self._request("DELETE", "/scenario", expect=204)

    # observation
    def _fetch_sessions(self) -> Op[list[SessionView]]:
        return list((yield self._request("GET", "/sessions"))["sessions"])

    def _fetch_session(self, session_id: str) -> Op[SessionView]:
        session: SessionView = yield self._request("GET", f"/sessions/{session_id}")
        return session

    def _fetch_records(self, entity_type: str) -> Op[list[dict[str, Any]]]:
        return list((yield self._request("GET", f"/records/{entity_type}"))["records"])

    def _activity_items(self) -> list[ActivityItemView]:
        # Read from the emulator directly rather than through the vendor's activity endpoint,
        # which would itself be journaled, rate-limited and subject to the scenario's faults.
        items = self._read(lambda control: control.activity(self.integration_id))
        return cast("list[ActivityItemView]", items)

    def _fetch_journal(self, limit: int | None) -> Op[list[JournalEntryView]]:
        size = limit or self._settings.journal_size
        entries = yield Request("GET", f"/journal?integration_id={self.integration_id}&limit={size}")
        return list(entries["entries"])

    def _fetch_report(self) -> Op[ReportView]:
        report: ReportView = yield self._request("GET", "/report")
        return report

    # verdicts
    def _processed_session(
        self, session_id: str | None, records: int | None, by_entity: Mapping[str, int] | None
    ) -> Op[SessionView]:
        __tracebackhide__ = True
        session = pick_session((yield from self._fetch_sessions()), session_id)
        twice: list[StagedTwice] = []
        if counts_differ(session, records, by_entity):
            ident, chosen = self.integration_id, session["id"]
            twice = self._read_quiet(lambda control: staged_twice(control, ident, chosen))
        failure = processed_failure(session, records, by_entity, twice)
        if failure:
            raise AssertionError(failure)
        return session

    def _assert_no_rejected_pages(self) -> Op[None]:
        __tracebackhide__ = True
        failure = no_rejected_failure((yield from self._fetch_sessions()))
        if failure:
            raise AssertionError(failure)

    def _well_behaved_report(self, allow: Sequence[str], allow_no_request: bool = False) -> Op[ReportView]:
        __tracebackhide__ = True
        if isinstance(allow, str):
            allow = (allow,)
        unknown = sorted(set(allow) - set(BY_ID))
        if unknown:
            raise ValueError(f"allow names no finding: {', '.join(unknown)} (known: {', '.join(BY_ID)})")
        report = yield from self._fetch_report()
        failure = behaviour_failure(report, tuple(allow))
        if failure:
            raise AssertionError(failure)
        if not report["findings"] and not allow_no_request:
            # An empty report passes only a client that was judged: one whose requests never reached
            # the integration (another base URL or id, a wrong api-key) has nothing in it either.
            ident = self.integration_id
            reached, refused, total = self._read_quiet(lambda control: reach(control, ident))
            if not reached:
                raise AssertionError(nothing_judged_failure(ident, self.base_url, refused, total))
        return report

    # verification (POST .../verify; docs/verify.md)
    def _verify(self, expectations: Mapping[str, Any]) -> Op[VerificationView]:
        view: VerificationView = yield self._request(
            "POST", "/verify", dict(expectations), expect=(200, 422), send_body=True
        )
        return view

    def _assert_verified(self, expectations: Mapping[str, Any]) -> Op[VerificationView]:
        __tracebackhide__ = True
        view = yield from self._verify(expectations)
        if not view["ok"]:
            raise AssertionError("mock-sprinto: the requests are not the ones expected\n" + view["diff"])
        return view

    # state bundles (docs/bundles.md)
    def _export_state(self, path: str | os.PathLike[str]) -> Op[Path]:
        document = yield self._request("GET", "/state")
        return write_bundle(path, document)

    def _import_state(self, bundle: str | os.PathLike[str] | Mapping[str, Any]) -> Op[dict[str, Any]]:
        document = read_bundle(bundle)
        answer: dict[str, Any] = yield self._request("PUT", "/state", document, send_body=True)
        return answer

    def state_kept(self, path: str | os.PathLike[str]) -> Path | None:
        """This integration's state bundle written to ``path``, read without a request (a failing
        test's report); None when the integration is gone."""
        document = self._read(lambda control: control.state_kept(self.integration_id))
        return None if document is None else write_bundle(path, document)

    def _har(self, path: str | os.PathLike[str]) -> Op[Path]:
        har = yield Request("GET", f"/journal.har?integration_id={quote(self.integration_id)}")
        return write_har(path, har)

    def har_kept(self, path: str | os.PathLike[str]) -> Path:
        """This integration's journal as a HAR file, read without a request (a failing test's
        report writes it when no event loop runs, possibly after the integration was deleted)."""
        origin = self.base_url.removesuffix(API_PREFIX)
        return write_har(path, self._read(lambda control: control.journal_har(self.integration_id, origin)))

    def describe(self) -> str:
        """What the emulator saw of this integration, as a failing test's report shows it.

        Synchronous on both handles, and no request: the report hook calls it when no event
        loop runs, possibly after the integration was deleted."""
        ident = self._integration_id
        sessions, journal, (_, refused, total) = self._read(
            lambda control: (
                control.sessions_kept(ident),
                control.journal(ident, JOURNAL_SHOWN * 5)["entries"],
                reach(control, ident) if ident in control.emulator.tenants else (True, [], 0),
            )
        )
        return describe_integration(ident, self.base_url, sessions, journal, refused, total)


def staged_twice(control: ControlPlane, integration_id: str, session_id: str) -> list[StagedTwice]:
    """The session's accepted pages that repeat an earlier one (the same digest: the same bytes
    decoded), each with the ordinal of the first and its counts; none when it is gone."""
    tenant = control.emulator.tenants.get(integration_id)
    session = tenant.sessions.get(session_id) if tenant is not None else None
    if session is None:
        return []
    first: dict[str, int] = {}
    twice: list[StagedTwice] = []
    for page in session.accepted_pages:
        if page.digest is None:
            continue
        earlier = first.setdefault(page.digest, page.ordinal)
        if earlier != page.ordinal:
            twice.append((page.ordinal, earlier, dict(page.counts)))
    return twice


REFUSED_KEPT = 1000  # the 401s a "nothing reached it" verdict reads, newest first


def reach(control: ControlPlane, integration_id: str) -> tuple[bool, list[dict[str, Any]], int]:
    """Whether a Sprinto API request reached the integration since it was made (its journal holds
    one, or it has a session: its journal may have been pushed out of the ring), and if none did,
    the requests sent to its path since then and answered 401 (oldest first, the newest
    ``REFUSED_KEPT`` at most) and how many: a 401 is journaled to no integration, so its own
    journal never shows a client that sends the wrong api-key."""
    tenant = control.emulator.tenants.get(integration_id)
    if control.journal(integration_id, 1)["entries"] or (tenant is not None and tenant.session_count):
        return True, [], 0
    path = f"{API_PREFIX}/v1/integrations/{integration_id}"
    since = tenant.since if tenant is not None else 0
    refused = [
        entry
        for entry in control.emulator.journal.picked(None, REFUSED_KEPT, status=401, after=since)
        if entry.integration_id is None and (entry.path == path or entry.path.startswith(path + "/"))
    ]
    return False, [entry.public() for entry in refused[-JOURNAL_SHOWN:]], len(refused)


def write_bundle(path: str | os.PathLike[str], document: Any) -> Path:
    """A state bundle written to ``path`` (atomically; gzip when it ends in ``.gz``)."""
    from ..bundle import encode
    from ..statefile import write_atomically

    return write_atomically(path, encode(document, compress=str(path).endswith(".gz")))


def read_bundle(bundle: str | os.PathLike[str] | Mapping[str, Any]) -> Any:
    """A bundle given as a document, or the document of a bundle file (JSON or gzip)."""
    if isinstance(bundle, Mapping):
        return dict(bundle)
    from ..bundle import decode

    data = Path(bundle).read_bytes()
    return decode(data, max(len(data), 1) * 1000, 10_000)


def expectations_of(
    expectations: Mapping[str, Any] | None,
    counts: Sequence[Mapping[str, Any]] = (),
    sequence: Sequence[Mapping[str, Any]] | None = None,
    only: bool = False,
    allow: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One expectations document from the keyword form of the handles' verify methods."""
    document: dict[str, Any] = dict(expectations or {})
    if counts:
        document["counts"] = [*document.get("counts", ()), *map(dict, counts)]
    if sequence is not None:
        document["sequence"] = [dict(step) for step in sequence]
    if only:
        document["only"] = True
    if allow:
        document["allow"] = [*document.get("allow", ()), *map(dict, allow)]
    return document


def write_har(path: str | os.PathLike[str], har: Any) -> Path:
    """A HAR document written to ``path`` (its folder made), for a browser's developer tools."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(orjson.dumps(har, option=orjson.OPT_INDENT_2))
    return target


# ---- the clock --------------------------------------------------------------------------------------
H = TypeVar("H", bound=HandleBase)


def _clock_body(when: datetime | str) -> dict[str, str]:
    if isinstance(when, datetime):
        # A naive datetime is read as UTC, as freezegun does.
        moment = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
        return {"now": moment.isoformat()}
    return {"now": when}


def _advance_body(seconds: float | timedelta, minutes: float, hours: float, days: float) -> dict[str, float]:
    base = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    return {"seconds": base + minutes * 60 + hours * 3600 + days * 86400}


def _as_datetime(view: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(parse_time(view["now"]), tz=timezone.utc)


class ClockBase(Generic[H]):
    """One integration's clock, its logic as operations run by its handle's door."""

    def __init__(self, handle: H) -> None:
        self._handle = handle

    def _advance(self, seconds: float | timedelta, minutes: float, hours: float, days: float) -> Op[datetime]:
        body = _advance_body(seconds, minutes, hours, days)
        return _as_datetime((yield self._handle._request("POST", "/clock/advance", body)))

    def _set(self, when: datetime | str) -> Op[datetime]:
        return _as_datetime((yield self._handle._request("POST", "/clock/set", _clock_body(when))))

    def _now(self) -> Op[datetime]:
        return _as_datetime((yield self._handle._request("GET", "/clock")))
