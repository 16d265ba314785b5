"""docs/pytest.md followed outside this repository: its first example, with the job it imports
beside it and what the page says that folder needs, runs in a suite of the user's own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ..doctext import ROOT, examples, pages


def test_the_sync_job_example_runs_in_a_folder_set_up_as_the_page_says(pytester: pytest.Pytester) -> None:
    page = pages()["docs/pytest.md"]
    folder = pytester.mkdir("tests")
    test = dict(examples())["tests/examples/test_sync_job.py"]
    (folder / "test_sync_job.py").write_text(test, encoding="utf-8")
    (folder / "my_sync_job.py").write_bytes((ROOT / "tests/examples/my_sync_job.py").read_bytes())
    # was: nothing said; `from .my_sync_job import ...` then fails, "no known parent package"
    for empty in re.findall(r"an empty `([\w.]+)` in that folder", page):
        (folder / empty).write_text("", encoding="utf-8")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", str(Path("tests")))
    result.assert_outcomes(passed=1)
