"""Deciding, per request, which scenario rules fire: pure, seeded, counted per tenant."""

from __future__ import annotations

import base64
import binascii
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from ..codes import VALIDATION_FAILED
from .scenario import FaultRule, Scenario
from .vocabulary import MAX_DELAY_SECONDS, Lifecycle, Operation, Phase, Respond, TransportFault


@dataclass(frozen=True)
class RequestFacts:
    """What a rule can match on, as known when the decision is made."""

    operation: Operation
    session: int | None = None  # ordinal of the session addressed (or about to be started)
    page: int | None = None  # ordinal of this page within its session
    entity_types: frozenset[str] = frozenset()
    page_hint: int | str | None = None


@dataclass
class Decision:
    """The combined effect of every rule that fired on one request."""

    rules: list[str] = field(default_factory=list)
    delay_seconds: float = 0.0  # always before the operation
    lifecycle: Lifecycle = field(default_factory=Lifecycle)  # of the rules in phase before: before the operation
    lifecycle_after: Lifecycle = field(default_factory=Lifecycle)  # of those in phase after: once it had its turn
    respond: Respond | None = None
    transport: TransportFault | None = None
    phase: Phase = "before"  # of the answer: before the operation (it never runs) or after it

    @property
    def replaces_response(self) -> bool:
        return self.respond is not None or self.transport is not None

    @property
    def detail(self) -> str:
        """The detail of the error this decision answers: its rule's own, or one naming the rule."""
        own = self.respond.detail if self.respond is not None else None
        if own:
            return own
        if (asked := prefer_asked(self.rules[0])) is not None:
            return f"answered as the request's Prefer header asked ({asked})"
        return f"injected by scenario rule '{self.rules[0]}'"

    @property
    def rejection_code(self) -> str:
        """The code of a push this decision answers 400 with no body of its own, a page rejected as
        if a record were invalid: the rule's own, else Sprinto's for an invalid page."""
        own = self.respond.code if self.respond is not None else None
        return own or VALIDATION_FAILED.code

    @property
    def forced_by_prefer(self) -> bool:
        """Whether the request's own ``Prefer`` header forced this answer (``prefer.py``), which the
        setting ``prefer_header`` switches off, rather than a scenario rule."""
        return bool(self.rules) and prefer_asked(self.rules[0]) is not None


PREFER_RULE = "Prefer: "  # how the journal names a Prefer header's forced answer, beside scenario rules


def prefer_asked(rule: str) -> str | None:
    """What the request's Prefer header asked, when the rule named is its answer (``code=400``);
    None for a scenario's rules."""
    return rule.removeprefix(PREFER_RULE) if rule.startswith(PREFER_RULE) else None


class FaultState:
    """One tenant's scenario and the counters of its rules (reset when the scenario changes)."""

    def __init__(self, scenario: Scenario | None, tenant_id: str) -> None:
        self.scenario = scenario
        self.matched = [0] * (len(scenario.rules) if scenario else 0)
        self.fired = [0] * (len(scenario.rules) if scenario else 0)
        # The tenant's id is in the seed so that integrations sharing a scenario meet their own draws;
        # a replay needs the same id too (the pytest fixtures derive it from the test's node id).
        self._seed = None if scenario is None or scenario.seed is None else f"{scenario.seed}:{tenant_id}"
        self._rng: random.Random | None = None

    @property
    def rng(self) -> random.Random:
        """Made on first use: seeding from the OS is a system call, and most tenants never draw (no
        probabilistic rule), while every new integration and every scenario change makes a state."""
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def random_state(self) -> str | None:
        """The seeded generator's state as JSON (a state bundle's), None while nothing was drawn."""
        return None if self._rng is None else random_state(self._rng)

    def restore_random(self, state: str | None) -> None:
        """Continue the draws a bundle's ``random_state`` left off (None: start from the seed)."""
        self._rng = None if state is None else restored_random(state)

    @property
    def needs_body(self) -> bool:
        return self.scenario is not None and any(rule.needs_body for rule in self.scenario.rules)


def _matches(rule: FaultRule, facts: RequestFacts) -> bool:
    if rule.operation != "any" and rule.operation != facts.operation:
        return False
    if rule.session is not None and rule.session != facts.session:
        return False
    if rule.page is not None and rule.page != facts.page:
        return False
    if rule.entity_type is not None and rule.entity_type not in facts.entity_types:
        return False
    return rule.page_hint is None or rule.page_hint == facts.page_hint


def _due(rule: FaultRule, count: int, rng: random.Random) -> bool:
    """Whether the ``count``-th matching request (1-based) triggers the rule."""
    if rule.when is None:
        return True
    kind, value = rule.when
    if kind == "nth":
        return count == value
    if kind == "every":
        return count % int(value) == 0
    if kind == "after":
        return count > value
    if kind == "first":
        return count <= value
    return rng.random() < value  # probability, from the tenant's seeded generator


def decide(state: FaultState, facts: RequestFacts) -> Decision | None:
    """Count the request against every matching rule and combine those that fire.

    Delays add up and lifecycle actions merge, each in its rule's phase; the first due rule that
    answers (respond or transport) decides the answer, and its phase says whether the operation
    runs first. A rule fires only when one of its actions takes effect: one whose only action is
    an answer an earlier rule already gave does nothing, so it neither spends its ``times`` nor is
    named in the journal.
    """
    scenario = state.scenario
    if scenario is None or not scenario.rules:
        return None
    decision: Decision | None = None
    for i, rule in enumerate(scenario.rules):
        if not _matches(rule, facts):
            continue
        state.matched[i] += 1
        if rule.times is not None and state.fired[i] >= rule.times:
            continue
        if not _due(rule, state.matched[i], state.rng):
            continue
        answers = rule.answers and (decision is None or not decision.replaces_response)
        if not (answers or rule.delay is not None or rule.lifecycle):
            continue
        state.fired[i] += 1
        decision = decision or Decision()
        decision.rules.append(rule.name)
        if rule.delay is not None:
            if rule.delay.seconds is not None:
                decision.delay_seconds += rule.delay.seconds
            else:
                decision.delay_seconds += state.rng.uniform(rule.delay.min_seconds, rule.delay.max_seconds)
        decision.delay_seconds = min(decision.delay_seconds, MAX_DELAY_SECONDS)  # rules add up, to a cap
        (decision.lifecycle_after if rule.phase == "after" else decision.lifecycle).merge(rule.lifecycle)
        if answers:
            decision.respond = rule.respond
            decision.transport = rule.transport
            decision.phase = rule.phase
    return decision


def counters(state: FaultState) -> list[dict[str, Any]]:
    if state.scenario is None:
        return []
    return [
        {"rule": rule.name, "matched": state.matched[i], "fired": state.fired[i]}
        for i, rule in enumerate(state.scenario.rules)
    ]


def random_state(rng: random.Random) -> str:
    """A ``random.Random``'s state as text (a state bundle's): base64 of its 625 words, big-endian.
    The emulator never draws ``gauss``, whose pending value the text leaves out."""
    _, words, _ = rng.getstate()
    return base64.b64encode(struct.pack(">625I", *words)).decode("ascii")


def restored_random(state: str) -> random.Random:
    """The generator ``random_state`` described; ValueError when the text is not one."""
    try:
        raw = base64.b64decode(state.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("not base64") from None
    if len(raw) != 2500:
        raise ValueError(f"expected 625 words (2500 bytes), got {len(raw)} bytes")
    words = struct.unpack(">625I", raw)
    if words[-1] > 624:
        raise ValueError(f"the position {words[-1]} is past the 624 words")
    rng = random.Random()
    rng.setstate((3, words, None))
    return rng
