"""How-to: every error mock-sprinto raises on purpose is a MockSprintoError."""

from __future__ import annotations

import pytest

from mock_sprinto.testing import ControlError, MockSprinto, MockSprintoError


def test_a_clock_never_runs_backwards(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(MockSprintoError, match="clock_backwards"):
        mock_sprinto.clock.set("2020-01-01T00:00:00Z")


def test_a_refused_control_call_says_its_status_and_code(mock_sprinto: MockSprinto) -> None:
    with pytest.raises(ControlError) as refused:
        mock_sprinto.use_scenario("no-such-scenario")
    assert (refused.value.status, refused.value.code) == (400, "invalid_scenario")
