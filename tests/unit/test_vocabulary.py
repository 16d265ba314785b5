"""The typed fault vocabulary (mock_sprinto/faults/vocabulary.py) and the scenario file schema
(schemas/scenario.schema.json) speak the same words: a word added to one is a failure here until
the other has it, so a scenario file can never name an action the engine does not know."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from mock_sprinto.faults.vocabulary import PHASES, RULE_OPERATIONS, TRANSPORT_FAULTS, WHEN_KINDS, Lifecycle
from mock_sprinto.resources import schemas_dir


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schemas_dir() / "scenario.schema.json").read_text(encoding="utf-8"))
    return loaded


def test_operations_phases_and_transport_faults_are_the_same_words() -> None:
    schema = _schema()
    rule = schema["$defs"]["rule"]["properties"]
    assert tuple(schema["$defs"]["operation"]["enum"]) == RULE_OPERATIONS
    assert tuple(rule["phase"]["enum"]) == PHASES
    assert tuple(rule["transport"]["enum"]) == TRANSPORT_FAULTS
    assert tuple(rule["when"]["properties"]) == WHEN_KINDS


def test_every_lifecycle_action_is_a_field_of_lifecycle() -> None:
    actions = _schema()["$defs"]["rule"]["properties"]["lifecycle"]["properties"]
    assert list(actions) == [f.name for f in dataclasses.fields(Lifecycle)]
