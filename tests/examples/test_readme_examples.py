"""The README's pytest-plugin examples are verbatim copies of the tests in this folder."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = re.compile(r"<!-- example:(\S+) -->\n```python\n(.*?)```", re.S)


def test_every_readme_example_is_code_that_runs_in_this_folder() -> None:
    examples = EXAMPLE.findall(README)
    assert len(examples) >= 3, "the README's pytest plugin section lost its examples"
    for path, code in examples:
        assert path.startswith("tests/examples/"), path
        source = (ROOT / path).read_text(encoding="utf-8")
        assert code in source, f"the README's example from {path} differs from the file; copy it again"
