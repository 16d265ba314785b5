"""The docs' pytest examples are verbatim parts of the tests in this folder (every page's: README.md
and docs/*.md; tests/test_docs.py checks the same and that each shown example is complete)."""

from __future__ import annotations

from ..doctext import ROOT, examples


def test_every_docs_example_is_code_that_runs_in_this_folder() -> None:
    shown = examples()
    assert len(shown) >= 6, "the docs lost their pytest examples"
    for path, code in shown:
        assert path.startswith("tests/examples/"), path
        source = (ROOT / path).read_text(encoding="utf-8")
        assert code in source, f"the docs' example from {path} differs from the file; copy it again"
