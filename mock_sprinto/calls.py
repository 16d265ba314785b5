"""A vendor request as the domain sees it, and what comes back.

* ``Call``: what the transport knows when the request arrives, never written after. The HTTP
  layer builds it; unit tests and the in-process benchmark build it with no socket.
* ``Learned``: what the vendor plane's door (``service.Emulator``) learns while it serves the call,
  each fact written where it is learned: the tenant and arrival (``_enter``), the rules that fired
  (``_under_scenario``), the session a start created or met, the body read and, of a push, its
  ``sessions.Wire`` (coding, sizes, digest, page ordinal: the one record of how the page arrived).
* ``Answer`` / ``Injected`` (``Outcome``): what the door returns for the transport to serialize.
* ``Exchange``: what the transport saw of the request and its answer, handed to the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .faults.engine import Decision
from .faults.vocabulary import Operation, TransportFault
from .sessions import Wire
from .store import Tenant


@dataclass(slots=True)
class Learned:
    """What the door learns of a call while serving it; the journal reads it once answered."""

    arrival: int = 0  # the arrival order (``Emulator``'s one order of arrivals and answers)
    tenant: Tenant | None = None  # once the api-key was accepted
    arrived_at: float | None = None  # emulator time when the request was let in
    loop_busy: float | None = None  # how long the serving loop had been busy then (clock.loop_busy_before)
    rate_limit_headers: dict[str, str] | None = None  # RateLimit-* of the token the request spent
    preference_applied: str | None = None  # the Prefer value applied, for the Preference-Applied header
    rule: str | None = None  # the scenario rules that fired, comma-separated
    transport: TransportFault | None = None  # the broken connection a rule injected
    created_session: str | None = None  # the session a start created
    names_session: str | None = None  # the active session a refused start met
    request_body: bytes | None = None  # the decoded body, once read (journaled when capture is on)
    wire: Wire | None = None  # a push's page as it arrived, once its session was found


@dataclass(slots=True)
class Call:
    """One vendor request as the transport hands it to the door; ``learned`` is the door's record.

    Every field is ``Final``: mypy refuses a write once the call is made. Not ``frozen=True``, whose
    ``__init__`` sets each field through ``object.__setattr__`` on every request (benchmarks/ANALYSIS.md).
    """

    operation: Final[Operation]
    integration_id: Final[str]
    api_key: Final[str | None]
    request_id: Final[str]
    started: Final[float]  # perf_counter() when the request arrived
    version: Final[str] = "v1"
    session_id: Final[str | None] = None  # from the path
    prefer: Final[Sequence[str]] = ()  # Prefer header values: one answer forced (faults/prefer.py)
    learned: Final[Learned] = field(default_factory=Learned)


@dataclass(slots=True)
class Answer:
    """The operation's own answer: a status and a JSON body."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Injected:
    """A scenario rule's answer replaces the operation's: ``real`` is what the operation answered
    (phase ``after``: it ran, the client never learns), None when it never ran (``before``)."""

    decision: Decision
    real: Answer | None
    # A push a rule refuses 400 with no body of its own: the BatchIngestResponse members Sprinto's
    # 400 carries (session_id, the page's record count, echoes), so the client reads the documented
    # shape, not a bare problem (the exam's page-rejected trial crashed a client reading echoes).
    batch: dict[str, Any] | None = None


Outcome = Answer | Injected


@dataclass(slots=True)
class Exchange:
    """What the HTTP layer saw of a vendor request and its answer, for the journal and the HAR
    export: the framework's own header objects (no copy), the answer's body only when capture is on."""

    request_id: str
    started: float  # perf_counter() when the request arrived
    method: str
    path: str
    query: str
    http_version: str
    bytes_in: int | None  # the declared Content-Length
    request_headers: Sequence[tuple[bytes, bytes]]
    status: int
    code: str | None  # the error code the answer carried
    response_headers: Mapping[str, str]
    response_type: str | None = None
    response_body: bytes | None = None
    connection: int | None = None  # the client's port (JournalEntry.connection)
