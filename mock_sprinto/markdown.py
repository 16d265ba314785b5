"""Markdown the emulator writes: the generated reference tables and the exam's job summary."""

from __future__ import annotations


def table_row(*cells: str) -> str:
    """One table row. A ``|`` in a cell is escaped, code spans included: GitHub splits a row on every
    unescaped pipe, even inside backticks, which would shift the cells after it."""
    return "| " + " | ".join(cell.replace("\\|", "|").replace("|", "\\|") for cell in cells) + " |"
