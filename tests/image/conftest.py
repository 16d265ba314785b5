"""What make test-image measured, printed at the end of the run."""

from __future__ import annotations

from typing import Any

# Filled by tests/image/test_image.py: a figure's name -> its value, as printed.
FIGURES: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("mock-sprinto image")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name:28} {value}")
