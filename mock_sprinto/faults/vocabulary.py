"""The words a scenario speaks, typed: a misspelled operation, phase, transport fault or lifecycle
action is a mypy error, not a rule that silently never fires.

``schemas/scenario.schema.json`` spells the same words for files; ``tests/unit/test_vocabulary.py``
keeps the two in step.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Literal

Operation = Literal["start_session", "get_session", "push_page", "close_session", "integration_status", "activity"]
RuleOperation = Literal[Operation, "any"]
Phase = Literal["before", "after"]
TransportFault = Literal["reset", "close", "truncated_body", "malformed_body"]
WhenKind = Literal["nth", "every", "after", "first", "probability"]

OPERATIONS: tuple[Operation, ...] = typing.get_args(Operation)
RULE_OPERATIONS: tuple[str, ...] = (*OPERATIONS, "any")
PHASES: tuple[Phase, ...] = typing.get_args(Phase)
TRANSPORT_FAULTS: tuple[TransportFault, ...] = typing.get_args(TransportFault)
WHEN_KINDS: tuple[WhenKind, ...] = typing.get_args(WhenKind)
# Transport faults where nothing at all reaches the client: the journal records status 0.
SILENT_FAULTS: frozenset[TransportFault] = frozenset({"reset", "close"})
# The longest delay one request gets, however many delaying rules fire on it (each may ask up to
# this much: the scenario schema's maximum); a client's own timeout is expected well before.
MAX_DELAY_SECONDS = 300.0
# What a rule's ``respond.headers`` may not set: the framing and hop-by-hop headers the server
# writes itself (RFC 9110 7.6.1, 6.4). A second Content-Length, or Transfer-Encoding beside it,
# would desynchronise the client's connection rather than test it.
FORBIDDEN_HEADERS = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "host",
    }
)


def whole(value: Any) -> Any:
    """A whole number the schema admitted as ``integer`` (JSON Schema's integer takes ``7.0``, as
    many JSON writers spell it) as an int: ``Retry-After: 7.0`` is not delay-seconds to a client."""
    # Beyond 64 bits it stays a float: an int that large is what no answer can write (_not_json).
    return int(value) if type(value) is float and abs(value) < 2**63 else value


@dataclass(frozen=True, slots=True)
class Respond:
    """``respond``: the answer a rule gives instead of (or after) the operation's own."""

    status: int
    code: str | None = None
    detail: str | None = None
    body: Any = None
    has_body: bool = False  # ``body: null`` is a body too: JSON null
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    # ``retry_after: null`` said outright: no Retry-After at all, even on a 429 (whose default is 1 s),
    # so a client's own backoff, without the server's hint, can be tested.
    without_retry_after: bool = False

    @classmethod
    def from_document(cls, raw: dict[str, Any]) -> Respond:
        return cls(
            status=int(raw["status"]),
            code=raw.get("code"),
            detail=raw.get("detail"),
            body=raw.get("body"),
            has_body="body" in raw,
            headers=dict(raw.get("headers") or {}),
            retry_after=whole(raw.get("retry_after")),
            without_retry_after="retry_after" in raw and raw["retry_after"] is None,
        )


@dataclass(frozen=True, slots=True)
class Delay:
    """``delay``: fixed ``seconds``, or a seeded draw between ``min_seconds`` and ``max_seconds``."""

    seconds: float | None = None
    min_seconds: float = 0.0
    max_seconds: float = 0.0

    @classmethod
    def from_document(cls, raw: dict[str, Any]) -> Delay:
        if "seconds" in raw:
            return cls(seconds=float(raw["seconds"]))
        return cls(min_seconds=float(raw["min_seconds"]), max_seconds=float(raw["max_seconds"]))


@dataclass(slots=True)
class Lifecycle:
    """``lifecycle``: what a rule does to sessions and processing, merged over every firing rule."""

    expire_session: bool = False
    fail_processing: int = 0  # the next N processing attempts fail
    hold_processing_seconds: float | None = None  # no attempt finishes before now + this
    purge_expired: bool = False

    @classmethod
    def from_document(cls, raw: dict[str, Any]) -> Lifecycle:
        hold = raw.get("hold_processing_seconds")
        return cls(
            expire_session=bool(raw.get("expire_session", False)),
            fail_processing=int(raw.get("fail_processing", 0)),  # 2.0 is a whole number too
            hold_processing_seconds=None if hold is None else float(hold),
            purge_expired=bool(raw.get("purge_expired", False)),
        )

    def __bool__(self) -> bool:
        return (
            self.expire_session or self.fail_processing > 0 or self.hold_processing_seconds is not None
        ) or self.purge_expired

    def merge(self, other: Lifecycle) -> None:
        """Failures add up; the other actions are switched on (a later hold wins)."""
        self.expire_session = self.expire_session or other.expire_session
        self.fail_processing += other.fail_processing
        if other.hold_processing_seconds is not None:
            self.hold_processing_seconds = other.hold_processing_seconds
        self.purge_expired = self.purge_expired or other.purge_expired
