"""The exam: run a user's own sync command once per trial against a fresh integration of an
emulator it starts itself, each trial with one documented fault, and judge the outcome.

- ``trials``: the catalogue (the baseline, then one trial per fault class);
- ``oracle``: the verdict of one trial, pure functions of what was seen, with stable reason ids;
- ``process``: running the command (its own process group, a wall-clock limit) or a callable;
- ``runner``: the exam itself (``Exam``, ``ExamOptions``);
- ``results``: what it found (``ExamResult``, ``TrialResult``) and its JSON;
- ``output``: progress lines, the table, JSON, JUnit XML and Markdown;
- ``cli``: ``mock-sprinto exam [options] -- COMMAND ...``.

From Python and pytest, ``mock_sprinto.testing.exam`` (``run_exam``, ``assert_exam_passed``).
"""

from __future__ import annotations

from .oracle import REASON_IDS, Reason
from .results import ExamResult, Finding, TrialResult
from .runner import EnvNames, Exam, ExamOptions
from .trials import CATALOGUE, Trial

__all__ = [
    "CATALOGUE",
    "REASON_IDS",
    "EnvNames",
    "Exam",
    "ExamOptions",
    "ExamResult",
    "Finding",
    "Reason",
    "Trial",
    "TrialResult",
]
