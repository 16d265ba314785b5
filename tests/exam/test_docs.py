"""docs/exam.md stays true: the trials table of Sprinto's documented failures is the generated one."""

from __future__ import annotations

import re
from pathlib import Path

from mock_sprinto.exam.trials import BY_NAME, DOC_RULES_MET, doc_rules_table
from mock_sprinto.rules import RULES

DOC = (Path(__file__).parents[2] / "docs" / "exam.md").read_text(encoding="utf-8")


def test_every_documented_rule_is_met_by_a_trial_that_exists() -> None:
    documented = {rule.topic for rule in RULES if rule.basis == "doc"}
    assert set(DOC_RULES_MET) == documented
    for topic, trials in DOC_RULES_MET.items():
        assert trials and all(name in BY_NAME for name in trials), topic


def test_the_docs_table_is_the_generated_one() -> None:
    match = re.search(r"<!-- doc-rules:begin[^>]*-->\n(.*?)\n<!-- doc-rules:end -->", DOC, re.S)
    assert match and match.group(1) == doc_rules_table(), "copy mock_sprinto.exam.trials.doc_rules_table() here"


def test_every_trial_is_in_the_docs() -> None:
    for name in BY_NAME:
        assert f"| `{name}` |" in DOC, name
