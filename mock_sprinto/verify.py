"""Verification: one integration's journal checked against expectations a test states in JSON, from
any language (``POST /_mock/integrations/{id}/verify``, the handles' ``verify``). Pure: the
expectations and the requests in, the verdict and a readable diff out. docs/verify.md is the reference.

The vocabulary (``schemas/verify.schema.json``, checked first, so anything it admits is understood):

* a **matcher** picks requests: ``operation``, ``status`` (``202`` or a class, ``"2xx"``; 0 is a
  broken connection), ``code`` (null: none), ``session`` (the integration's Nth session), ``page``
  (a push's ordinal in its session), ``body`` (members the request's JSON body has);
* ``counts``: a matcher with ``exactly``, ``at_least``, ``at_most`` or ``never`` (none: at least one);
* ``sequence``: steps, each a matcher with ``repeat`` (N, ``"N+"``, ``"+"``, ``"*"``, ``"?"``;
  default 1). The requests that match any step, in arrival order, must go through the steps from
  the first to the last, each taking as many in a row as its repeat says; the others (a status read
  between two pages) are left out of the sequence;
* ``only: true``: every request matches a count, a step, or an ``allow`` matcher.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs
import orjson

from .codes import EXPECTATIONS_NOT_MET, INVALID_EXPECTATIONS
from .errors import ApiError
from .journal import JournalEntry
from .resources import schemas_dir
from .sourcelines import json_pointer
from .steps import Steps
from .store import Judged
from .wholenumbers import as_integers

MAX_PROBLEMS = 50
MAX_LISTED = 20  # unexpected requests named one by one; then how many more
REQUESTS_PER_STEP = 1_000  # a verification reads, lists and writes out this many requests a step (``steps``)
MAX_STATES = 100_000  # places in the sequence a request may be at once: a bound on a crafted sequence's cost
# Matchers tried a step of the loop (~5-10 ms), and at most in a sequence's run: a hundred steps of
# "99+" over a full journal kept ~10,000 places alive for each of 10,000 requests, 5·10^7 matchers
# tried in one step of the loop (26 s while every other client waited). A usual sequence keeps a few
# places alive: ~10^5 matchers over a full journal.
MATCHES_PER_STEP = 20_000
MAX_SEQUENCE_MATCHES = 5_000_000
_UNKNOWN = object()  # a body the journal did not keep


@dataclass(frozen=True)
class Request:
    """One request of the integration, as verification sees it."""

    index: int  # 1-based, in arrival order
    request_id: str
    operation: str
    status: int
    code: str | None
    session: int | None  # the session's ordinal in the integration
    session_id: str | None
    page: int | None
    rule: str | None
    body: Any  # the request's JSON body, None when it had none, _UNKNOWN when not kept

    def public(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "request_id": self.request_id,
            "operation": self.operation,
            "status": self.status,
            "code": self.code,
            "session": self.session,
            "session_id": self.session_id,
            "page": self.page,
            "rule": self.rule,
        }

    def line(self) -> str:
        parts = [f"#{self.index}", self.operation, str(self.status)]
        if self.code:
            parts.append(self.code)
        if self.session is not None:
            parts.append(f"session {self.session}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.rule:
            parts.append(f"[rule: {self.rule}]")
        return " ".join(parts)


@dataclass(frozen=True)
class Matcher:
    operation: str | None = None
    status: int | str | None = None
    code: Any = _UNKNOWN  # _UNKNOWN: any code
    session: int | None = None
    page: int | None = None
    body: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Matcher:
        operation = item.get("operation")
        return cls(
            None if operation == "any" else operation,
            item.get("status"),
            item["code"] if "code" in item else _UNKNOWN,
            item.get("session"),
            item.get("page"),
            item.get("body"),
        )

    def matches(self, request: Request) -> bool:
        if self.operation is not None and request.operation != self.operation:
            return False
        if isinstance(self.status, int) and request.status != self.status:
            return False
        if isinstance(self.status, str) and str(request.status).zfill(3)[0] != self.status[0]:
            return False
        if self.code is not _UNKNOWN and request.code != self.code:
            return False
        if self.session is not None and request.session != self.session:
            return False
        if self.page is not None and request.page != self.page:
            return False
        return self.body is None or _contains(request.body, self.body)

    def needs_unknown_body(self, request: Request) -> bool:
        """Whether this matcher would be decided by a body the journal did not keep."""
        return self.body is not None and request.body is _UNKNOWN and self.matches_but_body(request)

    def matches_but_body(self, request: Request) -> bool:
        return Matcher(self.operation, self.status, self.code, self.session, self.page).matches(request)

    def describe(self) -> str:
        parts = [self.operation or "any request"]
        if self.status is not None:
            parts.append(str(self.status))
        if self.code is not _UNKNOWN:
            parts.append(f"code {self.code}" if self.code is not None else "no code")
        if self.session is not None:
            parts.append(f"session {self.session}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.body is not None:
            parts.append("body " + json.dumps(self.body, sort_keys=True)[:200])
        return " ".join(parts)


def _contains(body: Any, expected: Any) -> bool:
    """Whether ``body`` has every member of ``expected``: objects recursively (more members are
    fine), arrays item by item, other values equal (``true`` is not ``1``)."""
    if isinstance(expected, dict):
        return isinstance(body, dict) and all(k in body and _contains(body[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(body, list) and len(body) == len(expected) and all(map(_contains, body, expected))
    if isinstance(expected, bool) or isinstance(body, bool):
        return body is expected
    return body is not _UNKNOWN and bool(body == expected)


@dataclass(frozen=True)
class Count:
    matcher: Matcher
    low: int
    high: int | None
    expects: bool  # False for 'never': it expects no request

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Count:
        low, high = 0, None
        if item.get("never"):
            high = 0
        if "exactly" in item:
            low, high = max(low, item["exactly"]), item["exactly"] if high is None else min(high, item["exactly"])
        if "at_least" in item:
            low = max(low, item["at_least"])
        if "at_most" in item:
            high = item["at_most"] if high is None else min(high, item["at_most"])
        if not any(key in item for key in ("exactly", "at_least", "at_most")) and not item.get("never"):
            low = 1  # no bound: it happened
        return cls(Matcher.of(item), low, high, high != 0)

    def describe(self) -> str:
        if self.high == 0:
            bound = "never"
        elif self.high == self.low:
            bound = f"exactly {self.low}"
        elif self.high is None:
            bound = f"at least {self.low}"
        elif self.low == 0:
            bound = f"at most {self.high}"
        else:
            bound = f"between {self.low} and {self.high}"
        return f"{self.matcher.describe()}: {bound}"


@dataclass(frozen=True)
class Step:
    matcher: Matcher
    low: int
    high: int | None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Step:
        repeat = item.get("repeat", 1)
        if isinstance(repeat, int):
            return cls(Matcher.of(item), repeat, repeat)
        words = {"*": (0, None), "?": (0, 1), "+": (1, None)}
        if repeat in words:
            low, high = words[repeat]
            return cls(Matcher.of(item), low, high)
        if repeat.endswith("+"):
            return cls(Matcher.of(item), int(repeat[:-1]), None)
        return cls(Matcher.of(item), int(repeat), int(repeat))

    def describe(self) -> str:
        if (self.low, self.high) == (1, 1):
            times = ""
        elif self.high is None:
            times = f" ({self.low} or more)"
        elif self.low == self.high:
            times = f" ({self.low} times)"
        else:
            times = f" ({self.low} to {self.high})"
        return self.matcher.describe() + times


@dataclass(frozen=True)
class Expectations:
    counts: tuple[Count, ...]
    sequence: tuple[Step, ...]
    only: bool
    allow: tuple[Matcher, ...]
    has_sequence: bool


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas_dir() / "verify.schema.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _fast() -> Any:
    return jsonschema_rs.validator_for(_schema())


def parse(document: Any) -> Expectations:
    """The expectations, or 400 ``invalid_expectations`` listing every problem."""
    if not _fast().is_valid(document):
        import jsonschema  # imported here: only a refusal needs its error messages

        validator = jsonschema.validators.validator_for(_schema())(_schema())
        problems = []
        for error in validator.iter_errors(document):
            message = str(error.message)
            problems.append(f"{json_pointer(error.absolute_path) or '/'}: {message[:200]}")
            if len(problems) >= MAX_PROBLEMS:
                break
        problems.sort()
        raise ApiError.of(
            INVALID_EXPECTATIONS,
            f"the expectations are not understood: {problems[0] if problems else 'not an object'} "
            "(docs/verify.md lists the words)",
            errors=problems,
        )
    document = as_integers(_schema(), document)  # 3.0 is an integer to JSON Schema: an int from here on
    counts = tuple(Count.of(item) for item in document.get("counts", ()))
    # Bounds no count meets ({"at_least": 3, "at_most": 1}, "exactly" beside "never") are the
    # expectation's mistake, not the client's: checked, they were a 422 blaming the traffic.
    impossible = [
        f"/counts/{index}: no count is at least {count.low} and at most {count.high}"
        for index, count in enumerate(counts)
        if count.high is not None and count.low > count.high
    ]
    if impossible:
        raise ApiError.of(
            INVALID_EXPECTATIONS,
            f"the expectations admit no traffic: {impossible[0]} (docs/verify.md)",
            errors=impossible[:MAX_PROBLEMS],
        )
    return Expectations(
        counts,
        tuple(Step.of(item) for item in document.get("sequence", ())),
        bool(document.get("only", False)),
        tuple(Matcher.of(item) for item in document.get("allow", ())),
        "sequence" in document,
    )


# ---- the requests ------------------------------------------------------------------------------------
def requests_of(tenant: Judged, entries: Iterable[JournalEntry]) -> Steps[list[Request]]:
    """The integration's requests in arrival order (its journal entries since it was made),
    ``REQUESTS_PER_STEP`` a step (each may parse its body)."""
    mine = sorted(
        (e for e in entries if e.integration_id == tenant.id and e.arrival > tenant.since), key=lambda e: e.arrival
    )
    ordinals = {sid: session.ordinal for sid, session in tenant.sessions.items()}
    requests: list[Request] = []
    for index, entry in enumerate(mine, 1):
        if index % REQUESTS_PER_STEP == 0:
            yield
        requests.append(
            Request(
                index,
                entry.request_id,
                entry.operation,
                entry.status,
                entry.code,
                ordinals.get(entry.session_id) if entry.session_id is not None else None,
                entry.session_id,
                entry.page,
                entry.rule,
                _body_of(entry, tenant),
            )
        )
    return requests


def _body_of(entry: JournalEntry, tenant: Judged) -> Any:
    if entry.request_body is not None and (entry.request_body_bytes or 0) <= len(entry.request_body):
        if not entry.request_body.strip():
            return None
        try:
            return orjson.loads(entry.request_body)
        except orjson.JSONDecodeError:
            return _UNKNOWN
    if entry.operation == "close_session" and entry.status == 202 and entry.session_id is not None:
        session = tenant.sessions.get(entry.session_id)  # an accepted close: its session knows the status
        if session is not None and session.close_status is not None:
            return {"status": session.close_status}
    if entry.bytes_in == 0 or (entry.method == "GET" and not entry.bytes_in):
        return None
    return _UNKNOWN


# ---- the verdict -------------------------------------------------------------------------------------
@dataclass
class Failure:
    expectation: str  # "counts[0]", "sequence", "only"
    message: str
    requests: list[int]  # the requests it points at (indexes)

    def public(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "message": self.message, "requests": self.requests}


def verify(expectations: Expectations, requests: Sequence[Request]) -> Steps[list[Failure]]:
    """The expectations' failures on ``requests``, ``MATCHES_PER_STEP`` matchers tried a step."""
    failures: list[Failure] = []
    for position, count in enumerate(expectations.counts):
        matched = yield from _matching(requests, count.matcher.matches)
        n = len(matched)
        if n < count.low or (count.high is not None and n > count.high):
            shown = ", ".join(f"#{r.index}" for r in matched[:MAX_LISTED]) or "none"
            message = f"{count.describe()}; found {n} ({shown})"
            if any(count.matcher.needs_unknown_body(r) for r in requests):
                message += f"; {_BODY_NOT_KEPT}"
            failures.append(Failure(f"counts[{position}]", message, [r.index for r in matched[:MAX_LISTED]]))
    if expectations.has_sequence:
        failure = yield from _sequence(expectations.sequence, requests)
        if failure is not None:
            failures.append(failure)
    if expectations.only:
        expected = [c.matcher for c in expectations.counts if c.expects]
        expected += [s.matcher for s in expectations.sequence] + list(expectations.allow)
        unexpected = yield from _matching(requests, lambda r: not any(m.matches(r) for m in expected), len(expected))
        if unexpected:
            listed = "; ".join(r.line() for r in unexpected[:MAX_LISTED])
            more = f"; and {len(unexpected) - MAX_LISTED} more" if len(unexpected) > MAX_LISTED else ""
            failures.append(
                Failure(
                    "only",
                    f"{len(unexpected)} unexpected request(s): {listed}{more}",
                    [r.index for r in unexpected[:MAX_LISTED]],
                )
            )
    return failures


def _matching(requests: Sequence[Request], keep: Callable[[Request], bool], matchers: int = 1) -> Steps[list[Request]]:
    """The requests ``keep`` keeps, ``keep`` trying ``matchers`` matchers a request: a step every
    ``MATCHES_PER_STEP`` of them."""
    kept: list[Request] = []
    size = max(1, MATCHES_PER_STEP // max(1, matchers))
    for start in range(0, len(requests), size):
        yield
        kept += [r for r in requests[start : start + size] if keep(r)]
    return kept


_BODY_NOT_KEPT = (
    "a request body the journal did not keep decides this: turn on journal_bodies_bytes (an accepted close's "
    "status is known from its session)"
)

State = tuple[int, int]  # (step, requests it has taken, capped where more make no difference)


def _closure(steps: Sequence[Step], states: Iterable[State]) -> set[State]:
    found: set[State] = set()
    pending = list(states)
    while pending:
        state = pending.pop()
        if state in found:
            continue
        found.add(state)
        step, taken = state
        if step < len(steps) and taken >= steps[step].low:
            pending.append((step + 1, 0))
    return found


def _advance(steps: Sequence[Step], states: set[State], request: Request) -> set[State]:
    moved = []
    for step, taken in states:
        if step >= len(steps):
            continue
        current = steps[step]
        if (current.high is None or taken < current.high) and current.matcher.matches(request):
            cap = current.high if current.high is not None else current.low
            moved.append((step, min(taken + 1, cap)))
    return _closure(steps, moved)


def _open_steps(steps: Sequence[Step], states: set[State]) -> list[int]:
    """The steps a next request could have fitted (0-based)."""
    return sorted({step for step, taken in states if step < len(steps) and (steps[step].high or 1 << 30) > taken})


def _sequence(steps: Sequence[Step], requests: Sequence[Request]) -> Steps[Failure | None]:
    """Run the requests that match any step through the steps (an automaton: each step takes its
    repeat's count of them in a row); the first that fits nowhere, or an end before the last step."""
    picked = yield from _matching(requests, lambda r: any(step.matcher.matches(r) for step in steps), len(steps))
    states = _closure(steps, [(0, 0)])
    last = 0  # the last request the sequence took
    tried = since_step = 0  # matchers tried in all, and since the last step of the loop
    for request in picked:
        if len(states) > MAX_STATES or tried > MAX_SEQUENCE_MATCHES:
            ways = f"more than {MAX_STATES} ways" if len(states) > MAX_STATES else f"{len(states)} ways at once"
            return Failure(
                "sequence",
                f"the sequence can be followed in {ways} at request {request.line()}, too many to follow "
                f"through {len(picked)} requests: make its steps more specific (fewer '*' or 'N+' before an "
                "exact count)",
                [request.index],
            )
        tried += len(states)
        since_step += len(states)
        if since_step >= MATCHES_PER_STEP:
            since_step = 0
            yield
        after = _advance(steps, states, request)
        if not after:
            wanted = _open_steps(steps, states)
            expected = " or ".join(f"step {i + 1} ({steps[i].describe()})" for i in wanted) or "no more requests"
            return Failure(
                "sequence",
                f"request {request.line()} does not fit: expected {expected}",
                [request.index],
            )
        states = after
        last = request.index
    if (len(steps), 0) in states:
        return None
    wanted = _open_steps(steps, states)
    expected = " or ".join(f"step {i + 1} ({steps[i].describe()})" for i in wanted)
    message = f"the requests ended before the sequence did: expected {expected}"
    # The nearest miss: the first later request of an operation an open step wants (a page
    # answered 400 where pages answered 202 were expected).
    operations = {steps[i].matcher.operation for i in wanted}
    near = next((r for r in requests if r.index > last and (None in operations or r.operation in operations)), None)
    if near is not None:
        message += f"; the nearest: {near.line()}"
    if any(steps[i].matcher.needs_unknown_body(r) for i in wanted for r in requests):
        message += f"; {_BODY_NOT_KEPT}"
    return Failure("sequence", message, [] if near is None else [near.index])


def diff_lines(integration_id: str, requests: Sequence[Request], failures: Sequence[Failure]) -> Steps[list[str]]:
    """The verdict for people, a line each: each failure, then every request with a marker where
    one points (``REQUESTS_PER_STEP`` requests a step)."""
    head = f"integration {integration_id}: {len(requests)} request(s); "
    if not failures:
        lines = [head + "every expectation met"]
    else:
        lines = [head + f"{len(failures)} expectation(s) not met:"]
        lines += [f"  {failure.expectation}: {failure.message}" for failure in failures]
    notes: dict[int, list[str]] = {}
    for failure in failures:
        for index in failure.requests:
            notes.setdefault(index, []).append(failure.expectation)
    lines.append("the requests, in the order they arrived:" if requests else "no request arrived")
    for request in requests:
        if request.index % REQUESTS_PER_STEP == 0:
            yield
        marked = notes.get(request.index)
        mark = ">" if marked else " "
        suffix = f"   <- {', '.join(marked)}" if marked else ""
        lines.append(f"  {mark} {request.line()}{suffix}")
    return lines


def verdict_steps(expectations: Expectations, tenant: Judged, entries: Iterable[JournalEntry]) -> Steps[dict[str, Any]]:
    """The answer of the verify endpoint, a step at a time (``steps``): the members of a 200, or
    raises 422 with the same members (``expectations_not_met``). A full journal's verification took
    ~50-120 ms of one step of the loop; ``tenant`` is then ``TenantAsItStood``."""
    integration_id = tenant.id
    requests = yield from requests_of(tenant, entries)
    yield
    failures = yield from verify(expectations, requests)
    actual: list[dict[str, Any]] = []
    for start in range(0, len(requests), REQUESTS_PER_STEP):
        yield
        actual += [request.public() for request in requests[start : start + REQUESTS_PER_STEP]]
    diff = "\n".join((yield from diff_lines(integration_id, requests, failures)))
    yield
    members: dict[str, Any] = {
        "ok": not failures,
        "integration_id": integration_id,
        "requests": len(requests),
        "failures": [failure.public() for failure in failures],
        "actual": actual,
        "diff": diff,
    }
    if failures:
        raise ApiError.of(
            EXPECTATIONS_NOT_MET,
            f"{len(failures)} expectation(s) not met; first: {failures[0].expectation}: {failures[0].message}"[:2000],
            **members,
        )
    return members
