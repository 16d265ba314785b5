"""The lifecycle state machine with one more rule: carry the run home. At any step the emulator's
state goes into bundles (the whole server's, or one per integration), through JSON, into a fresh
emulator on another day's clock, which then takes over: every later step and invariant of the
model holds on it, as it held on the original (sessions, pages, applied data, activity, the rate
limit's bucket, processing that fails, expiry and purges on the resumed clock)."""

from __future__ import annotations

import orjson
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from mock_sprinto.clock import ManualClock
from mock_sprinto.control import ControlPlane
from mock_sprinto.service import Emulator

from .test_lifecycle_machine import KEYS, REGISTRY, START, LifecycleMachine


class CarryHomeMachine(LifecycleMachine):
    @rule(scope=st.sampled_from(["integration", "server"]), days=st.sampled_from([-3.0, 0.0, 2.0]))
    def carry_home(self, scope: str, days: float) -> None:
        before = self.snapshot()
        control = ControlPlane(self.emulator)
        bundles = [control.state()] if scope == "server" else [control.state(name) for name in sorted(KEYS)]
        clock = ManualClock(START + days * 86_400.0)
        fresh = Emulator(self.emulator.config, REGISTRY, clock)
        target = ControlPlane(fresh)
        for bundle in bundles:
            document = orjson.loads(orjson.dumps(bundle))  # as a file holds it
            named = None if scope == "server" else document["integrations"][0]["id"]
            target.put_state(document, named)
        self.emulator, self.clock = fresh, clock
        assert self.snapshot() == before, "the imported emulator does not show what the original did"
        event(f"carried home ({scope})")


CarryHomeMachine.TestCase.settings = settings(CarryHomeMachine.TestCase.settings, max_examples=40)
TestCarryHome = CarryHomeMachine.TestCase
