"""Text for a person at a terminal: the width to wrap it at, shared by every command that wraps."""

from __future__ import annotations

import shutil

# Within these bounds (longer lines are hard to read); the fallback is for output that is not a
# terminal (a CI log, a pipe).
WIDTH_FALLBACK, WIDTH_MIN, WIDTH_MAX = 100, 40, 120


def terminal_width() -> int:
    """The width to wrap text at: the terminal's (``$COLUMNS`` first), within bounds."""
    columns = shutil.get_terminal_size((WIDTH_FALLBACK, 24)).columns
    return max(WIDTH_MIN, min(WIDTH_MAX, columns))
