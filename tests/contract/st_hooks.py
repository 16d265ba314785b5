"""schemathesis hooks (``SCHEMATHESIS_HOOKS=tests/contract/st_hooks.py``): the only changes made to
what schemathesis generates, each with its reason. The contract tests every operation, scenario
PUTs included, in every phase; only these parts of *valid* (positive) scenario and settings
bodies are taken out before they are sent, because by design they make the emulator answer
something its contract cannot describe:

* a rule's ``respond`` and ``transport``: a loaded scenario answers whatever status, body or broken
  connection it says (the contract documents the emulator, a scenario documents itself: those
  answers are checked by tests/http/test_scenarios.py and tests/property/test_http_fuzz.py);
* the shipped scenarios ``flaky-network``, ``chaos`` and ``strict-limits`` (``default`` instead),
  for the same reasons;
* a rule's ``delay`` beyond 10 ms: a delay of up to 300 s would only turn into request timeouts;
  and a ``min_seconds`` above ``max_seconds`` is swapped: JSON Schema cannot state that order, so
  the contract documents that 400 in words (requestBodies.Scenario);
* setting overrides that *tighten* what a valid request may be (smaller bodies, fewer records
  a page, shallower JSON, less staging, unknown types or fields refused): the served contract is
  built from the server's own settings, so a valid request refused under an integration's
  tighter override would read as "valid data rejected". Loosening and timing overrides stay.

Negative (invalid) bodies are sent exactly as generated: the emulator must refuse them whole.
"""

from __future__ import annotations

from typing import Any

import schemathesis

SCENARIO_PUTS = {("PUT", "/_mock/scenario"), ("PUT", "/_mock/integrations/{integration_id}/scenario")}
SETTINGS_PUT = ("PUT", "/_mock/integrations/{integration_id}/settings")
MAX_DELAY = 0.01
TIGHTENING = {
    "max_request_bytes",
    "max_decoded_bytes",
    "max_page_items",
    "max_page_entity_types",
    "max_json_depth",
    "max_staged_bytes",
}
STRICT_WORDS = {"unknown_entity_types": "reject", "unknown_fields": "reject"}
ACTIONS = ("respond", "delay", "transport", "lifecycle")


def _loosened(settings: Any) -> Any:
    if not isinstance(settings, dict):
        return settings
    return {
        name: value
        for name, value in settings.items()
        if name not in TIGHTENING and STRICT_WORDS.get(name, object()) != value
    }


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _harmless_rule(rule: Any) -> Any:
    if not isinstance(rule, dict):
        return rule
    rule = {key: value for key, value in rule.items() if key not in ("respond", "transport")}
    delay = rule.get("delay")
    if isinstance(delay, dict):
        delay = {key: min(value, MAX_DELAY) if _number(value) else value for key, value in delay.items()}
        low, high = delay.get("min_seconds"), delay.get("max_seconds")
        if _number(low) and _number(high) and low > high:  # JSON Schema cannot say min <= max
            delay["min_seconds"], delay["max_seconds"] = high, low
        rule["delay"] = delay
    if not any(action in rule for action in ACTIONS):
        rule["lifecycle"] = {"hold_processing_seconds": 0}  # still a rule with an action
    return rule


def _faulty_shipped() -> frozenset[str]:
    """The shipped scenarios that answer for their rules (respond, transport), hold requests longer
    than MAX_DELAY, or tighten the limits: read from the scenarios themselves, so one added later
    (the exam's) is covered too."""
    from mock_sprinto.faults.scenario import load_scenario_file, shipped_scenarios

    found = set()
    for name, path in shipped_scenarios().items():
        scenario = load_scenario_file(path)
        slow = any(
            rule.delay is not None and max(rule.delay.seconds or 0, rule.delay.max_seconds or 0) > MAX_DELAY
            for rule in scenario.rules
        )
        tightening = set(scenario.settings) & TIGHTENING or any(
            STRICT_WORDS.get(name) == value for name, value in scenario.settings.items()
        )
        if slow or tightening or any(rule.answers for rule in scenario.rules):
            found.add(name)
    return frozenset(found)


FAULTY_SHIPPED = _faulty_shipped()


def _harmless_scenario(body: Any) -> Any:
    if isinstance(body, str):
        # Shipped names whose faults are answers the contract documents (429 from the rate limit,
        # processing that fails) are sent as they are; those that reset connections, answer for
        # their rules, hold requests or tighten the limits (flaky-network, chaos, strict-limits,
        # the exam's ...) are sent as "default" (no faults) instead.
        return "default" if body in FAULTY_SHIPPED else body
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if isinstance(body.get("rules"), list):
        body["rules"] = [_harmless_rule(rule) for rule in body["rules"]]
    if "settings" in body:
        body["settings"] = _loosened(body["settings"])
    return body


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return
    where = (case.method.upper(), case.operation.path)
    if where in SCENARIO_PUTS:
        case.body = _harmless_scenario(case.body)
    elif where == SETTINGS_PUT:
        case.body = _loosened(case.body)
