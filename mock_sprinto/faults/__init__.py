"""Scenarios: faults and limits injected on purpose, so a client's recovery code can be tested."""

from .engine import Decision, FaultState, RequestFacts, decide
from .scenario import Scenario, ScenarioError, load_scenario_file, parse_scenario, resolve_scenario, shipped_scenarios

__all__ = [
    "Decision",
    "FaultState",
    "RequestFacts",
    "Scenario",
    "ScenarioError",
    "decide",
    "load_scenario_file",
    "parse_scenario",
    "resolve_scenario",
    "shipped_scenarios",
]
