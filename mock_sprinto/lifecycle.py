"""The session state machine as a table: (state, event) -> next state. Pure; no I/O, no clock."""

from __future__ import annotations

from enum import Enum

from .errors import MockSprintoError


class State(str, Enum):
    ACTIVE = "active"
    PROCESSING = "processing"
    PROCESSED = "processed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


class Event(str, Enum):
    APPLY = "apply"
    DISCARD = "discard"
    INACTIVITY = "inactivity"
    PROCESSING_SUCCEEDED = "processing_succeeded"
    PROCESSING_GAVE_UP = "processing_gave_up"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.ACTIVE, Event.APPLY): State.PROCESSING,
    (State.ACTIVE, Event.DISCARD): State.CANCELLED,
    (State.ACTIVE, Event.INACTIVITY): State.EXPIRED,
    (State.EXPIRED, Event.APPLY): State.PROCESSING,  # [doc] expired data can still be applied
    (State.EXPIRED, Event.DISCARD): State.CANCELLED,  # [mock]
    (State.PROCESSING, Event.PROCESSING_SUCCEEDED): State.PROCESSED,
    (State.PROCESSING, Event.PROCESSING_GAVE_UP): State.FAILED,
}
# The states no event leads out of: a session in one stages, expires and closes no more.
FINAL: frozenset[State] = frozenset(State) - {state for state, _ in TRANSITIONS}


class IllegalTransition(MockSprintoError):
    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"a session that is {state.value} cannot take {event.value}")
        self.state = state
        self.event = event


def next_state(state: State, event: Event) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition(state, event) from None
